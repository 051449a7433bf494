// The order's other moves as properties of pure plans (transition-plans.ts): what a payment that
// did not succeed may do to the order, and what refunds write. The refund half of the money
// invariant lives here: never more refunded than paid, never less than before, every refund on
// the books once and balanced.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PAYMENT_STATUSES } from '@/lib/stripe/payment';
import { ACCOUNTS } from './ledger';
import { ORDER_STATUSES, canTransition, hasBeenPaid } from './state-machine';
import { planAdminCancel, planPaymentUpdate, planRefunds, planReviewDecision } from './transition-plans';

const status = fc.constantFrom(...ORDER_STATUSES);
const paymentStatus = fc.constantFrom(...PAYMENT_STATUSES.filter((s) => s !== 'succeeded'));

describe('planPaymentUpdate (a payment that did not succeed)', () => {
  const input = fc.record({
    order: fc.record({ status, attemptCount: fc.integer({ min: 1, max: 4 }), paymentIntentId: fc.option(fc.constantFrom('pi_a', 'pi_b'), { nil: null }) }),
    attempt: fc.option(fc.record({ superseded: fc.boolean() }), { nil: null }),
    attemptNumber: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
    payment: fc.record({ id: fc.constantFrom('pi_a', 'pi_b'), status: paymentStatus, failed: fc.boolean() }),
  });

  it('never moves an order to paid, never leaves a state the machine forbids, and an old or superseded attempt never moves it', () => {
    fc.assert(
      fc.property(input, (i) => {
        const plan = planPaymentUpdate(i);
        if (plan.move) {
          expect(plan.move.to).not.toBe('paid');
          expect(canTransition(i.order.status, plan.move.to)).toBe(true);
          expect(plan.current).toBe(true);
        }
        if (i.attemptNumber !== null && (i.attemptNumber !== i.order.attemptCount || i.attempt?.superseded)) {
          expect(plan.current).toBe(false);
          expect(plan.move).toBeNull();
          expect(plan.releaseHoldsOf).toBeNull();
        }
        // Money taken stays taken: a paid order is never moved by a failed or pending payment.
        if (hasBeenPaid(i.order.status)) expect(plan.move).toBeNull();
      }),
    );
  });

  it('gives back only the current attempt’s stock, and only when that attempt ended (declined or canceled)', () => {
    fc.assert(
      fc.property(input, (i) => {
        const plan = planPaymentUpdate(i);
        const ended = i.payment.status === 'canceled' || (i.payment.status === 'requires_payment_method' && i.payment.failed);
        expect(plan.releaseHoldsOf).toBe(plan.current && ended && i.attemptNumber !== null ? i.attemptNumber : null);
      }),
    );
  });

  it('examples: a decline of the current attempt returns a processing order to pending and frees its stock; a canceled attempt ends the attempt, not the order', () => {
    const order = { status: 'processing' as const, attemptCount: 2, paymentIntentId: 'pi_b' };
    expect(planPaymentUpdate({ order, attempt: { superseded: false }, attemptNumber: 2, payment: { id: 'pi_b', status: 'requires_payment_method', failed: true } })).toEqual({
      current: true,
      releaseHoldsOf: 2,
      move: { to: 'pending', detail: { paymentIntentId: 'pi_b', attempt: 2, paymentIntentStatus: 'requires_payment_method' } },
    });
    expect(planPaymentUpdate({ order: { ...order, status: 'pending' }, attempt: { superseded: false }, attemptNumber: 2, payment: { id: 'pi_b', status: 'canceled', failed: false } })).toEqual({ current: true, releaseHoldsOf: 2, move: null });
    expect(planPaymentUpdate({ order, attempt: { superseded: false }, attemptNumber: 1, payment: { id: 'pi_a', status: 'requires_payment_method', failed: true } })).toEqual({ current: false, releaseHoldsOf: null, move: null });
  });
});

describe('planRefunds', () => {
  const refund = fc.record({
    stripeRefundId: fc.constantFrom('re_1', 're_2', 're_3', 're_4'),
    amount: fc.integer({ min: 1, max: 20_000 }),
    currency: fc.constant('usd'),
    status: fc.constantFrom('pending', 'succeeded', 'failed', 'canceled', 'requires_action'),
    ledgerClaimed: fc.boolean(),
  });
  const input = fc
    .record({
      amountPaid: fc.integer({ min: 1, max: 20_000 }),
      refundedFraction: fc.double({ min: 0, max: 1, noNaN: true }),
      status: fc.constantFrom('paid' as const, 'partially_refunded' as const, 'refunded' as const, 'pending' as const, 'canceled' as const),
      ofSale: fc.boolean(),
      charge: fc.option(fc.integer({ min: 0, max: 30_000 }), { nil: null }),
      refunds: fc.uniqueArray(refund, { selector: (r) => r.stripeRefundId, maxLength: 4 }),
    })
    // Refunds count against the sale only on an order that was paid by this payment (apply.ts
    // decides `ofSale` so); a stray payment's refunds may come on an order in any status.
    .map((r) => ({
      order: { id: 'o1', status: r.ofSale && !hasBeenPaid(r.status) ? ('paid' as const) : r.status, amountPaid: r.amountPaid, amountRefunded: Math.floor(r.amountPaid * r.refundedFraction) },
      payment: { id: 'pi_1', currency: 'usd', chargeAmountRefunded: r.charge },
      ofSale: r.ofSale,
      refunds: r.refunds,
    }));

  it('never refunds more than was paid, never less than before, and the status follows the total', () => {
    fc.assert(
      fc.property(input, (i) => {
        const plan = planRefunds(i);
        expect(plan.amountRefunded).toBeGreaterThanOrEqual(i.order.amountRefunded);
        expect(plan.amountRefunded).toBeLessThanOrEqual(Math.max(i.order.amountPaid, i.order.amountRefunded));
        if (!i.ofSale) {
          expect(plan.amountRefunded).toBe(i.order.amountRefunded);
          expect(plan.move).toBeNull();
        }
        if (plan.move) {
          expect(canTransition(i.order.status, plan.move.to)).toBe(true);
          expect(plan.move.to).toBe(plan.amountRefunded >= i.order.amountPaid ? 'refunded' : 'partially_refunded');
        }
      }),
    );
  });

  it('puts each succeeded refund on the books once, balanced, against sales’ refunds or the stray payment it returns', () => {
    fc.assert(
      fc.property(input, (i) => {
        const plan = planRefunds(i);
        const byTx = new Map<string, number>();
        for (const l of plan.ledger) byTx.set(l.txKey, (byTx.get(l.txKey) ?? 0) + l.amount);
        for (const sum of byTx.values()) expect(sum).toBe(0);
        const expected = i.refunds.filter((r) => r.status === 'succeeded' && r.ledgerClaimed);
        expect([...byTx.keys()].sort()).toEqual(expected.map((r) => `refund:${r.stripeRefundId}`).sort());
        for (const r of expected) {
          const lines = plan.ledger.filter((l) => l.txKey === `refund:${r.stripeRefundId}`);
          expect(lines.map((l) => [l.account, l.amount]).sort()).toEqual(
            [[i.ofSale ? ACCOUNTS.refunds : ACCOUNTS.unexpectedPayments, r.amount], [ACCOUNTS.stripeBalance, -r.amount]].sort(),
          );
        }
      }),
    );
  });

  it('examples: a partial then a full refund; a failed refund does not count; Stripe’s larger total wins', () => {
    const order = { id: 'o1', status: 'paid' as const, amountPaid: 5000, amountRefunded: 0 };
    const payment = { id: 'pi_1', currency: 'usd', chargeAmountRefunded: null };
    const r = (id: string, amount: number, st: string) => ({ stripeRefundId: id, amount, currency: 'usd', status: st, ledgerClaimed: true });
    expect(planRefunds({ order, payment, ofSale: true, refunds: [r('re_1', 1500, 'succeeded')] })).toMatchObject({ amountRefunded: 1500, move: { to: 'partially_refunded' } });
    expect(planRefunds({ order, payment, ofSale: true, refunds: [r('re_1', 1500, 'succeeded'), r('re_2', 3500, 'pending')] })).toMatchObject({ amountRefunded: 5000, move: { to: 'refunded' } });
    expect(planRefunds({ order, payment, ofSale: true, refunds: [r('re_1', 1500, 'failed')] })).toMatchObject({ amountRefunded: 0, move: null, ledger: [] });
    expect(planRefunds({ order, payment: { ...payment, chargeAmountRefunded: 2000 }, ofSale: true, refunds: [r('re_1', 1500, 'succeeded')] })).toMatchObject({ amountRefunded: 2000 });
  });
});

describe('planAdminCancel and planReviewDecision (an admin’s moves)', () => {
  it('cancels only an order that has not been paid, and never from a state the machine forbids', () => {
    fc.assert(
      fc.property(status, (s) => {
        const move = planAdminCancel({ status: s }, 'canceled_by_admin');
        expect(move !== null).toBe(canTransition(s, 'canceled'));
        if (move) {
          expect(hasBeenPaid(s)).toBe(false);
          expect(move).toEqual({ to: 'canceled', detail: { reason: 'canceled_by_admin' } });
        }
      }),
    );
    expect(planAdminCancel({ status: 'paid' }, 'x')).toBeNull();
    expect(planAdminCancel({ status: 'pending' }, 'x')).toMatchObject({ to: 'canceled' });
  });

  it('decides a review once: only a pending review; approval releases only a held fulfilment, rejection cancels one not yet shipped', () => {
    for (const reviewStatus of ['none', 'approved', 'rejected'] as const) {
      expect(planReviewDecision({ reviewStatus }, 'approved', 'ann')).toBeNull();
      expect(planReviewDecision({ reviewStatus }, 'rejected', 'ann')).toBeNull();
    }
    expect(planReviewDecision({ reviewStatus: 'pending_review' }, 'approved', 'ann')).toEqual({
      reviewStatus: 'approved',
      fulfillment: { from: ['on_hold'], to: 'pending', note: 'approved by ann' },
      event: { kind: 'review_approved' },
    });
    expect(planReviewDecision({ reviewStatus: 'pending_review' }, 'rejected', 'ann')).toEqual({
      reviewStatus: 'rejected',
      fulfillment: { from: ['on_hold', 'pending'], to: 'canceled', note: 'rejected by ann' },
      event: { kind: 'review_rejected' },
    });
  });
});
