// The money invariant as properties of what entering paid writes: decided by decideSucceededPayment
// (may this payment pay the order?) and planPaid (what paying it writes), both pure.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMoney } from '@/lib/money';
import type { RiskReason } from '@/lib/risk/score';
import { ACCOUNTS } from './ledger';
import { planPaid, type PaidPlanInput } from './paid-plan';
import { decideSucceededPayment } from './payment-decision';
import { ORDER_STATUSES } from './state-machine';

const currency = fc.constantFrom('usd', 'eur', 'jpy');
const items = fc.array(fc.record({ name: fc.string({ minLength: 1, maxLength: 20 }), quantity: fc.integer({ min: 1, max: 5 }), unitPrice: fc.integer({ min: 50, max: 20_000 }) }), { minLength: 1, maxLength: 4 });
const order = fc.tuple(items, currency, fc.constantFrom(...ORDER_STATUSES), fc.constantFrom('none', 'pending_review', 'approved', 'rejected'), fc.integer({ min: 1, max: 4 })).map(([lines, cur, status, reviewStatus, attemptCount]) => ({
  id: '3f0e1d2c-0000-4000-8000-000000000001',
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  currency: cur,
  total: lines.reduce((s, l) => s + l.quantity * l.unitPrice, 0),
  addressLine1: '12 Analytical Row',
  addressLine2: null,
  city: 'London',
  postalCode: 'N1 9GU',
  country: 'GB',
  items: lines,
  status,
  reviewStatus,
  attemptCount,
  paymentIntentId: null as string | null,
}));
const risk = fc.option(
  fc.record({ score: fc.integer({ min: 0, max: 100 }), level: fc.constantFrom('normal' as const, 'elevated' as const, 'highest' as const), review: fc.boolean(), reasons: fc.constant<RiskReason[]>([]) }),
  { nil: null },
);
const claimed = fc.record({ ledger: fc.boolean(), email: fc.boolean(), fulfillment: fc.boolean() });
const actor = { source: 'webhook', stripeEventId: 'evt_1', actor: null };

describe('planPaid', () => {
  it('money taken equals what the order is worth: a payment that may pay the order puts exactly its total into sales, balanced', () => {
    fc.assert(
      fc.property(order, fc.integer({ min: 0, max: 200_000 }), fc.boolean(), currency, fc.boolean(), claimed, risk, (o, received, exact, cur, sameCurrency, c, r) => {
        const payment = { id: 'pi_a', amountReceived: exact ? o.total : received, currency: sameCurrency ? o.currency : cur, risk: null };
        const decision = decideSucceededPayment(o, { attemptNumber: o.attemptCount, amount: o.total, currency: o.currency, superseded: false }, { paymentIntentId: payment.id, amountReceived: payment.amountReceived, currency: payment.currency, metadataAttempt: o.attemptCount });
        if (decision.kind !== 'pay') return;
        const plan = planPaid({ order: o, payment, attemptNumber: o.attemptCount, claimed: c, risk: r, actor });
        expect(plan.order.amountPaid).toBe(o.total);
        if (c.ledger) {
          expect(plan.ledger.filter((l) => l.account === ACCOUNTS.sales).reduce((s, l) => s + l.amount, 0)).toBe(-o.total);
          expect(plan.ledger.filter((l) => l.account === ACCOUNTS.stripeBalance).reduce((s, l) => s + l.amount, 0)).toBe(o.total);
          expect(new Set(plan.ledger.map((l) => l.currency))).toEqual(new Set([o.currency]));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('every ledger transaction balances, and each follow-up is written only when this transaction claimed it', () => {
    fc.assert(
      fc.property(order, fc.integer({ min: 0, max: 200_000 }), currency, claimed, risk, (o, received, cur, c, r) => {
        const plan = planPaid({ order: o, payment: { id: 'pi_a', amountReceived: received, currency: cur, risk: null }, attemptNumber: 1, claimed: c, risk: r, actor });
        const byTx = new Map<string, number>();
        for (const l of plan.ledger) byTx.set(l.txKey, (byTx.get(l.txKey) ?? 0) + l.amount);
        for (const sum of byTx.values()) expect(sum).toBe(0);
        expect(plan.ledger.length > 0).toBe(c.ledger);
        expect(plan.emails.length).toBe(c.email ? 1 : 0);
        expect(plan.fulfillments.length).toBe(c.fulfillment ? 1 : 0);
        expect(plan.events.filter((e) => e.kind === 'status_changed')).toEqual([expect.objectContaining({ fromStatus: o.status, toStatus: 'paid' })]);
      }),
    );
  });

  it('goods wait for review only when the risk says so and nobody decided yet; the receipt says what was paid', () => {
    fc.assert(
      fc.property(order, risk, (o, r) => {
        const input: PaidPlanInput = { order: o, payment: { id: 'pi_a', amountReceived: o.total, currency: o.currency, risk: { level: 'elevated', score: 40 } }, attemptNumber: 1, claimed: { ledger: true, email: true, fulfillment: true }, risk: r, actor };
        const plan = planPaid(input);
        const hold = Boolean(r?.review) && o.reviewStatus === 'none';
        expect(plan.order.hold).toBe(hold);
        expect(plan.fulfillments).toEqual([hold ? { status: 'on_hold', note: 'risk review' } : { status: 'pending', note: null }]);
        expect(plan.order.riskScore).toBe(r ? r.score : 40);
        expect(plan.emails[0].to).toBe(o.email);
        expect(plan.emails[0].text).toContain(`We received your payment of ${formatMoney(o.total, o.currency)}.`);
      }),
    );
  });
});
