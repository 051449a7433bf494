// Refunds and reconciliation against the bundled Stripe emulator, through the real gateway.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '@/emulator/src/server';
import { createStripeClient, type Stripe } from '@/lib/stripe/client';
import { StripeGateway } from '@/lib/stripe/gateway';
import { createTestDatabase } from '@/tests/helpers/db';
import { createOrderFixture } from '@/tests/helpers/payments';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { runReconciliation } from './reconcile';
import { refundIdempotencyKey, refundPlan, requestRefund } from './refunds';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let emulator: Awaited<ReturnType<typeof startEmulator>>;
let stripe: Stripe;
let gateway: StripeGateway;
const started = new Date(Date.now() - 60_000);

beforeAll(async () => {
  [database, emulator] = await Promise.all([createTestDatabase(), startEmulator({ port: 0 })]);
  stripe = createStripeClient({ secretKey: emulator.secretKey, apiBase: emulator.url });
  gateway = new StripeGateway(stripe, { baseDelayMs: 10, maxDelayMs: 50 });
});
afterAll(async () => {
  await emulator?.close();
  await database?.drop();
});

/** An order whose attempt is a real, succeeded PaymentIntent at the emulator; applied unless told not to. */
async function paidOrder(opts: { apply?: boolean; amount?: number } = {}) {
  const prisma = database.prisma;
  const f = await createOrderFixture(prisma, { lines: [{ stock: 10, quantity: 2, price: 1500 }] });
  const pi = await stripe.paymentIntents.create({
    amount: opts.amount ?? f.total,
    currency: 'usd',
    payment_method: 'pm_card_visa',
    confirm: true,
    metadata: { order_id: f.orderId, attempt: '1' },
  });
  await prisma.paymentAttempt.update({ where: { paymentIntentId: f.paymentIntentIds[0] }, data: { paymentIntentId: pi.id } });
  await prisma.order.update({ where: { id: f.orderId }, data: { paymentIntentId: pi.id } });
  if (opts.apply !== false) await applyPaymentIntent(prisma, await gateway.retrievePaymentIntent(pi.id), { source: 'webhook' });
  return { ...f, pi };
}

const stripeRefunds = async (pi: string) => (await stripe.refunds.list({ payment_intent: pi, limit: 100 })).data;

describe('admin refunds', () => {
  it('refunds partially, then the rest; a double submit reaches Stripe once; over-refunds and stale forms are refused', async () => {
    const prisma = database.prisma;
    const o = await paidOrder();
    const who = { actor: 'admin@brisk.test' };
    expect((await refundPlan(prisma, o.orderId))!).toMatchObject({ refundable: 3000, nextRefundNumber: 1 });
    expect(await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 3001, refundNumber: 1 })).toMatchObject({ kind: 'over_refund' });

    const partial = await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 1000, refundNumber: 1 });
    expect(partial).toMatchObject({ kind: 'ok', amount: 1000, status: 'succeeded', reused: false });
    let order = await prisma.order.findUniqueOrThrow({ where: { id: o.orderId } });
    expect(order).toMatchObject({ status: 'partially_refunded', amountRefunded: 1000 });

    // Double click on the confirmation of refund #2: both requests carry number 2.
    const [a, b] = await Promise.all([
      requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 2000, refundNumber: 2 }),
      requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 2000, refundNumber: 2 }),
    ]);
    expect(a.kind).toBe('ok');
    expect(b.kind).toBe('ok');
    if (a.kind === 'ok' && b.kind === 'ok') expect(a.stripeRefundId).toBe(b.stripeRefundId);
    const atStripe = await stripeRefunds(o.pi.id);
    expect(atStripe.map((r) => r.amount).sort()).toEqual([1000, 2000]);
    order = await prisma.order.findUniqueOrThrow({ where: { id: o.orderId } });
    expect(order).toMatchObject({ status: 'refunded', amountRefunded: 3000 });
    const rows = await prisma.refund.findMany({ where: { orderId: o.orderId }, orderBy: { refundNumber: 'asc' } });
    expect(rows.map((r) => [r.refundNumber, r.idempotencyKey, r.amount, r.status, r.requestedBy])).toEqual([
      [1, refundIdempotencyKey(o.orderId, 1), 1000, 'succeeded', who.actor],
      [2, refundIdempotencyKey(o.orderId, 2), 2000, 'succeeded', who.actor],
    ]);

    expect(await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 1, refundNumber: 3 })).toMatchObject({ kind: 'over_refund' });
    expect(await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 1, refundNumber: 7 })).toMatchObject({ kind: 'stale' });
    expect(await requestRefund(prisma, gateway, { ...who, orderId: o.orderId, amount: 999, refundNumber: 1 })).toMatchObject({ kind: 'stale' });
    expect(await prisma.auditLog.count({ where: { action: 'order.refund_requested', target: o.orderId } })).toBe(2);
    const ledger = await prisma.ledgerEntry.aggregate({ where: { orderId: o.orderId, account: 'refunds' }, _sum: { amount: true } });
    expect(ledger._sum.amount).toBe(3000);
  });

  it('refuses to refund an unpaid order', async () => {
    const f = await createOrderFixture(database.prisma, { lines: [{ stock: 1, quantity: 1 }] });
    expect(await requestRefund(database.prisma, gateway, { actor: 'a', orderId: f.orderId, amount: 100, refundNumber: 1 })).toMatchObject({ kind: 'not_refundable' });
  });
});

describe('reconciliation', () => {
  it('heals a payment and a refund whose webhooks never arrived, across pages, and reports what it cannot heal', async () => {
    const prisma = database.prisma;
    const missed = await paidOrder({ apply: false });
    expect((await prisma.order.findUniqueOrThrow({ where: { id: missed.orderId } })).status).toBe('pending');
    const refundedAtStripe = await paidOrder();
    await stripe.refunds.create({ payment_intent: refundedAtStripe.pi.id, amount: 500 });
    const mismatch = await paidOrder({ apply: false, amount: 2500 });
    const orphan = await stripe.paymentIntents.create({ amount: 777, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });

    const run = await runReconciliation(prisma, gateway, { windowStart: started, windowEnd: new Date(Date.now() + 60_000), trigger: 'test', pageSize: 2 });
    expect(run.status).toBe('succeeded');
    const kinds = run.findings.map((f) => `${f.kind}:${f.healed}:${f.paymentIntentId}`);
    expect(kinds).toContain(`missed_payment_update:true:${missed.pi.id}`);
    expect(kinds).toContain(`missed_refund:true:${refundedAtStripe.pi.id}`);
    expect(kinds).toContain(`payment_without_order:false:${orphan.id}`);
    expect(kinds).toContain(`amount_mismatch:false:${mismatch.pi.id}`);

    expect(await prisma.order.findUniqueOrThrow({ where: { id: missed.orderId } })).toMatchObject({ status: 'paid', amountPaid: 3000 });
    expect(await prisma.order.findUniqueOrThrow({ where: { id: refundedAtStripe.orderId } })).toMatchObject({ status: 'partially_refunded', amountRefunded: 500 });
    const saved = await prisma.reconciliationRun.findUniqueOrThrow({ where: { id: run.runId }, include: { findings: true } });
    expect(saved).toMatchObject({ status: 'succeeded', healed: run.healed, unresolved: run.unresolved });
    expect(saved.findings).toHaveLength(run.findings.length);
    // The healed order was scored by the risk net.
    expect((await prisma.order.findUniqueOrThrow({ where: { id: missed.orderId } })).riskReasons).not.toBeNull();

    // A second run finds nothing left to heal; what it cannot heal it reports again.
    const again = await runReconciliation(prisma, gateway, { windowStart: started, windowEnd: new Date(Date.now() + 60_000), trigger: 'test' });
    expect(again.healed).toBe(0);
    expect(again.findings.map((f) => f.kind).sort()).toEqual(['amount_mismatch', 'payment_without_order']);
  });
});
