// Admin refunds against a scripted gateway (no emulator): what counts against the amount paid,
// the exact boundaries, what reaches Stripe and under which idempotency key, and what happens
// when Stripe is down or says no. Written from the mutants Stryker left alive (bench/RESULTS.md).
import { describe, expect, it } from 'vitest';
import type { Stripe } from '@/lib/stripe/client';
import { StripeUnavailableError } from '@/lib/stripe/errors';
import type { StripeGateway } from '@/lib/stripe/gateway';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import { createOrderFixture, fakePaymentIntent, fakeRefund } from '@/tests/helpers/payments';
import { applyChargeRefunds, applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { refundIdempotencyKey, refundPlan, requestRefund } from './refunds';

const database = databaseForThisFile();

type Call = { params: Stripe.RefundCreateParams; key: string };
/** A gateway whose createRefund answers from `answer`; retrieving the PaymentIntent is "down", so the webhook would apply the refund. */
function scripted(answer: (call: Call, n: number) => Stripe.Refund | Error) {
  const calls: Call[] = [];
  const gateway = {
    createRefund: async (params: Stripe.RefundCreateParams, o: { idempotencyKey: string }) => {
      const call = { params, key: o.idempotencyKey };
      calls.push(call);
      const r = answer(call, calls.length);
      if (r instanceof Error) throw r;
      return r;
    },
    retrievePaymentIntent: async () => {
      throw new StripeUnavailableError('down', 'timeout');
    },
  } as unknown as StripeGateway;
  return { gateway, calls };
}
const succeeds = (status: string | null = 'succeeded') => (c: Call, n: number) => ({ ...fakeRefund({ id: `re_${n}_${c.key.slice(-6)}`, paymentIntentId: String(c.params.payment_intent), amount: Number(c.params.amount) }), status }) as Stripe.Refund;

/** A paid order of 3000 (2 × 1500), applied as its webhook would. */
async function paidOrder() {
  const prisma = database.prisma;
  const f = await createOrderFixture(prisma, { lines: [{ stock: 10, quantity: 2, price: 1500 }] });
  const pi = f.paymentIntentIds[0];
  await applyPaymentIntent(prisma, fakePaymentIntent({ id: pi, orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' }), { source: 'webhook' });
  return { orderId: f.orderId, pi, total: f.total };
}
const who = { actor: 'admin@brisk.test' };

describe('refundPlan', () => {
  it('counts reserved and sent refunds of the sale, not failed or canceled ones, nor refunds of a stray payment', async () => {
    const prisma = database.prisma;
    const o = await paidOrder();
    expect(await refundPlan(prisma, o.orderId)).toEqual({ orderId: o.orderId, currency: 'usd', amountPaid: 3000, committed: 0, refundable: 3000, nextRefundNumber: 1, paymentIntentId: o.pi });
    const row = (n: number, amount: number, status: string, paymentIntentId: string | null = o.pi) =>
      prisma.refund.create({ data: { orderId: o.orderId, refundNumber: n, idempotencyKey: refundIdempotencyKey(o.orderId, n), amount, currency: 'usd', status, requestedBy: 'x', paymentIntentId } });
    await row(1, 100, 'failed');
    await row(2, 200, 'canceled');
    await row(3, 400, 'succeeded', 'pi_stray');
    expect(await refundPlan(prisma, o.orderId)).toMatchObject({ committed: 0, refundable: 3000, nextRefundNumber: 4 });
    await row(4, 1000, 'reserved');
    await row(5, 500, 'pending', null);
    expect(await refundPlan(prisma, o.orderId)).toMatchObject({ committed: 1500, refundable: 1500, nextRefundNumber: 6 });
    // The order's own total refunded wins when it is ahead of the rows (a refund made in the Dashboard).
    await prisma.order.update({ where: { id: o.orderId }, data: { amountRefunded: 2000 } });
    expect(await refundPlan(prisma, o.orderId)).toMatchObject({ committed: 2000, refundable: 1000 });
    await prisma.order.update({ where: { id: o.orderId }, data: { amountRefunded: 3500 } });
    expect(await refundPlan(prisma, o.orderId)).toMatchObject({ committed: 3500, refundable: 0 });
  });

  it('an unpaid order has nothing refundable; an unknown one has no plan', async () => {
    const f = await createOrderFixture(database.prisma, { lines: [{ stock: 1, quantity: 1, price: 900 }] });
    await database.prisma.order.update({ where: { id: f.orderId }, data: { amountPaid: 900 } });
    expect(await refundPlan(database.prisma, f.orderId)).toMatchObject({ amountPaid: 0, refundable: 0, nextRefundNumber: 1 });
    expect(await refundPlan(database.prisma, '00000000-0000-4000-8000-000000000000')).toBeNull();
  });
});

describe('requestRefund', () => {
  it('refuses amounts and refund numbers that are not positive whole numbers, before touching anything', async () => {
    const { gateway, calls } = scripted(succeeds());
    const o = await paidOrder();
    for (const amount of [0, -100, 1.5, Number.NaN, 2 ** 53]) {
      expect(await requestRefund(database.prisma, gateway, { ...who, orderId: o.orderId, amount, refundNumber: 1 })).toEqual({ kind: 'invalid', message: 'Enter an amount greater than zero.' });
    }
    for (const refundNumber of [0, -1, 1.5]) {
      expect(await requestRefund(database.prisma, gateway, { ...who, orderId: o.orderId, amount: 100, refundNumber })).toEqual({ kind: 'invalid', message: 'This confirmation is not valid. Start the refund again.' });
    }
    expect(await requestRefund(database.prisma, gateway, { ...who, orderId: '00000000-0000-4000-8000-000000000000', amount: 100, refundNumber: 1 })).toEqual({ kind: 'not_refundable', message: 'Order not found.' });
    expect(calls).toEqual([]);
    expect(await database.prisma.refund.count({ where: { orderId: o.orderId } })).toBe(0);
  });

  it('refunds exactly what remains, not a cent more, and sends Stripe the amount, reason, metadata and key of the reserved row', async () => {
    const prisma = database.prisma;
    const { gateway, calls } = scripted(succeeds());
    const o = await paidOrder();
    expect(await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 3001, refundNumber: 1 })).toEqual({ kind: 'over_refund', message: 'At most $30.00 can still be refunded.' });
    const first = await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 1000, refundNumber: 1, reason: 'requested_by_customer' });
    expect(first).toMatchObject({ kind: 'ok', amount: 1000, status: 'succeeded', reused: false });
    const row = await prisma.refund.findUniqueOrThrow({ where: { orderId_refundNumber: { orderId: o.orderId, refundNumber: 1 } } });
    expect(first).toMatchObject({ refundId: row.id, stripeRefundId: row.stripeRefundId });
    expect(row).toMatchObject({ amount: 1000, currency: 'usd', status: 'succeeded', reason: 'requested_by_customer', requestedBy: who.actor, paymentIntentId: o.pi, idempotencyKey: `brisk:refund:${o.orderId}:1` });
    expect(calls[0]).toEqual({
      key: `brisk:refund:${o.orderId}:1`,
      params: { payment_intent: o.pi, amount: 1000, reason: 'requested_by_customer', metadata: { order_id: o.orderId, refund_id: row.id, refund_number: '1' } },
    });
    const event = await prisma.orderEvent.findFirstOrThrow({ where: { orderId: o.orderId, kind: 'refund_requested' } });
    expect(event).toMatchObject({ source: 'admin', actor: who.actor, detail: { refundNumber: 1, amount: 1000 } });
    const audited = await prisma.auditLog.findFirstOrThrow({ where: { action: 'order.refund_requested', target: o.orderId } });
    expect(audited.detail).toMatchObject({ refundNumber: 1, amount: 1000, currency: 'usd', idempotencyKey: `brisk:refund:${o.orderId}:1` });

    // Exactly the remaining 2000 is allowed (no reason given: none sent); then nothing is left.
    expect(await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 2001, refundNumber: 2 })).toMatchObject({ kind: 'over_refund', message: 'At most $20.00 can still be refunded.' });
    expect(await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 2000, refundNumber: 2 })).toMatchObject({ kind: 'ok', amount: 2000 });
    expect(calls[1].params).not.toHaveProperty('reason');
    expect(calls[1].key).toBe(`brisk:refund:${o.orderId}:2`);
    expect(await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 1, refundNumber: 3 })).toEqual({ kind: 'over_refund', message: 'At most $0.00 can still be refunded.' });
    // A form for a number already used, with another amount, is stale; one for a skipped number too.
    expect(await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 999, refundNumber: 2 })).toMatchObject({ kind: 'stale', message: expect.stringContaining('Refund #2 already exists') });
    expect(await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 1, refundNumber: 5 })).toMatchObject({ kind: 'stale', message: expect.stringContaining('order changed') });
    expect(calls).toHaveLength(2);
  });

  it('Stripe down: the row stays reserved and confirming again sends the same key; a refund without a status is pending', async () => {
    const prisma = database.prisma;
    let down = true;
    const { gateway, calls } = scripted((c, n) => (down ? new StripeUnavailableError('timeout', 'timeout') : succeeds(null)(c, n)));
    const o = await paidOrder();
    const r1 = await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 700, refundNumber: 1 });
    expect(r1).toMatchObject({ kind: 'unavailable', message: expect.stringContaining('press Confirm again') });
    expect(await prisma.refund.findFirstOrThrow({ where: { orderId: o.orderId } })).toMatchObject({ status: 'reserved', stripeRefundId: null });
    // The reserved 700 already counts: 2300 remain.
    expect(await refundPlan(prisma, o.orderId)).toMatchObject({ committed: 700, refundable: 2300, nextRefundNumber: 2 });
    down = false;
    const r2 = await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 700, refundNumber: 1 });
    expect(r2).toMatchObject({ kind: 'ok', amount: 700, status: 'pending', reused: true });
    expect(calls.map((c) => c.key)).toEqual([`brisk:refund:${o.orderId}:1`, `brisk:refund:${o.orderId}:1`]);
    expect(await prisma.refund.findFirstOrThrow({ where: { orderId: o.orderId } })).toMatchObject({ status: 'pending', stripeRefundId: r2.kind === 'ok' ? r2.stripeRefundId : 'x' });
    expect(await prisma.refund.count({ where: { orderId: o.orderId } })).toBe(1);
  });

  it('Stripe refuses: the row is failed, audited, and the same confirmation is not sent again', async () => {
    const prisma = database.prisma;
    const { gateway, calls } = scripted(() => new Error('charge_already_refunded'));
    const o = await paidOrder();
    // Another order's refund waiting for Stripe: this refusal must not touch it.
    const other = await paidOrder();
    await prisma.refund.create({ data: { orderId: other.orderId, refundNumber: 1, idempotencyKey: refundIdempotencyKey(other.orderId, 1), amount: 100, currency: 'usd', status: 'reserved', requestedBy: 'x', paymentIntentId: other.pi } });
    expect(await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 500, refundNumber: 1 })).toEqual({ kind: 'failed', message: 'Stripe refused the refund: charge_already_refunded' });
    expect(await prisma.refund.findFirstOrThrow({ where: { orderId: other.orderId } })).toMatchObject({ status: 'reserved' });
    expect(await prisma.refund.findFirstOrThrow({ where: { orderId: o.orderId } })).toMatchObject({ status: 'failed', stripeRefundId: null });
    const audited = await prisma.auditLog.findFirstOrThrow({ where: { action: 'order.refund_failed', target: o.orderId } });
    expect(audited).toMatchObject({ actor: who.actor, detail: { refundNumber: 1, message: 'charge_already_refunded' } });
    expect(await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 500, refundNumber: 1 })).toEqual({ kind: 'failed', message: 'Refund #1 failed at Stripe. Start a new refund.' });
    expect(calls).toHaveLength(1);
    // The failed refund does not count: the next one, #2, may have the full amount.
    expect(await refundPlan(prisma, o.orderId)).toMatchObject({ refundable: 3000, nextRefundNumber: 2 });
  });

  it('a confirmation whose number a Dashboard refund took meanwhile is stale, even for the same amount: nothing more is refunded', async () => {
    const prisma = database.prisma;
    const { gateway, calls } = scripted(succeeds());
    const o = await paidOrder();
    expect(await refundPlan(prisma, o.orderId)).toMatchObject({ nextRefundNumber: 1 });
    // While the admin looks at the confirmation for refund #1 of 500, someone refunds 500 in
    // Stripe's Dashboard; its webhook records it, and it takes number 1.
    const paidPi = fakePaymentIntent({ id: o.pi, orderId: o.orderId, attempt: 1, amount: o.total, status: 'succeeded', amountRefunded: 500 });
    await applyChargeRefunds(prisma, { paymentIntent: paidPi, refunds: [fakeRefund({ id: 're_dashboard_1', paymentIntentId: o.pi, amount: 500 })] }, { source: 'webhook' });
    expect(await prisma.refund.findFirstOrThrow({ where: { orderId: o.orderId } })).toMatchObject({ refundNumber: 1, amount: 500, stripeRefundId: 're_dashboard_1' });
    expect(await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 500, refundNumber: 1 })).toMatchObject({ kind: 'stale' });
    expect(calls).toEqual([]);
    expect(await prisma.order.findUniqueOrThrow({ where: { id: o.orderId } })).toMatchObject({ amountRefunded: 500 });
  });

  it('confirming again after the refund succeeded keeps it succeeded (Stripe replays its first, pending, answer)', async () => {
    const prisma = database.prisma;
    // Stripe answers the key with its first answer (same refund, "pending") every time.
    const { gateway, calls } = scripted((c) => succeeds('pending')(c, 1));
    const o = await paidOrder();
    const first = await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 800, refundNumber: 1 });
    expect(first).toMatchObject({ kind: 'ok', status: 'pending' });
    const stripeRefundId = first.kind === 'ok' ? first.stripeRefundId : '';
    // The webhook says it succeeded.
    const refunded = fakePaymentIntent({ id: o.pi, orderId: o.orderId, attempt: 1, amount: o.total, status: 'succeeded', amountRefunded: 800 });
    await applyChargeRefunds(prisma, { paymentIntent: refunded, refunds: [fakeRefund({ id: stripeRefundId, paymentIntentId: o.pi, amount: 800 })] }, { source: 'webhook' });
    expect(await prisma.refund.findFirstOrThrow({ where: { orderId: o.orderId } })).toMatchObject({ status: 'succeeded' });
    // A late second click on the same confirmation: the same refund, still succeeded.
    expect(await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 800, refundNumber: 1 })).toMatchObject({ kind: 'ok', reused: true, stripeRefundId });
    expect(calls.map((c) => c.key)).toEqual([`brisk:refund:${o.orderId}:1`, `brisk:refund:${o.orderId}:1`]);
    expect(await prisma.refund.findFirstOrThrow({ where: { orderId: o.orderId } })).toMatchObject({ status: 'succeeded', stripeRefundId });
    expect(await prisma.order.findUniqueOrThrow({ where: { id: o.orderId } })).toMatchObject({ status: 'partially_refunded', amountRefunded: 800 });
  });
});
