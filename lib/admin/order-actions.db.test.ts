// Cancel, resend, review rejection and the dashboard figures, against the emulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '@/emulator/src/server';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { assessOrderRisk } from '@/lib/orders/risk-review';
import { createStripeClient, type Stripe } from '@/lib/stripe/client';
import { StripeGateway } from '@/lib/stripe/gateway';
import { createTestDatabase } from '@/tests/helpers/db';
import { createOrderFixture } from '@/tests/helpers/payments';
import { outboxOfOrder } from '@/tests/helpers/outbox';
import { loadDashboard } from './dashboard';
import { cancelUnpaidOrder, rejectReview, resendReceipt } from './order-actions';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let emulator: Awaited<ReturnType<typeof startEmulator>>;
let stripe: Stripe;
let gateway: StripeGateway;
const who = { actor: 'admin@brisk.test', ip: '10.0.0.9' };

beforeAll(async () => {
  [database, emulator] = await Promise.all([createTestDatabase(), startEmulator({ port: 0 })]);
  stripe = createStripeClient({ secretKey: emulator.secretKey, apiBase: emulator.url });
  gateway = new StripeGateway(stripe, { baseDelayMs: 10, maxDelayMs: 50 });
});
afterAll(async () => {
  await emulator?.close();
  await database?.drop();
});

/** An order with a real PaymentIntent at the emulator: confirmed with `card`, or left open. */
async function orderWithIntent(card: string | null) {
  const prisma = database.prisma;
  const f = await createOrderFixture(prisma, { lines: [{ stock: 10, quantity: 1, price: 2000 }] });
  const pi = await stripe.paymentIntents.create({
    amount: f.total,
    currency: 'usd',
    metadata: { order_id: f.orderId, attempt: '1' },
    ...(card ? { payment_method: card, confirm: true } : {}),
  });
  await prisma.paymentAttempt.update({ where: { paymentIntentId: f.paymentIntentIds[0] }, data: { paymentIntentId: pi.id, status: pi.status } });
  await prisma.order.update({ where: { id: f.orderId }, data: { paymentIntentId: pi.id } });
  if (card) await applyPaymentIntent(prisma, await gateway.retrievePaymentIntent(pi.id), { source: 'webhook' });
  return { ...f, pi };
}

describe('admin order actions', () => {
  it('cancels an unpaid order and its PaymentIntent at Stripe, once, with an audit entry', async () => {
    const prisma = database.prisma;
    const o = await orderWithIntent(null);
    // The stock its attempt holds goes back on sale.
    await prisma.stockHold.create({ data: { orderId: o.orderId, attemptNumber: 1, productId: o.productIds[0], quantity: 1, expiresAt: new Date(Date.now() + 600_000) } });
    expect(await cancelUnpaidOrder(prisma, gateway, o.orderId, who)).toMatchObject({ kind: 'ok' });
    expect((await stripe.paymentIntents.retrieve(o.pi.id)).status).toBe('canceled');
    const order = await prisma.order.findUniqueOrThrow({ where: { id: o.orderId } });
    expect(order.status).toBe('canceled');
    expect(order.canceledAt).not.toBeNull();
    expect(await prisma.stockHold.findFirstOrThrow({ where: { orderId: o.orderId } })).toMatchObject({ releasedAt: expect.any(Date), takenAt: null });
    // On the order's timeline as any status change is: who, from what, why.
    const moves = await prisma.orderEvent.findMany({ where: { orderId: o.orderId, kind: 'status_changed' } });
    expect(moves.map((e) => [e.fromStatus, e.toStatus, e.source, e.actor, e.detail])).toEqual([['pending', 'canceled', 'admin', who.actor, { reason: 'canceled_by_admin' }]]);
    expect(await cancelUnpaidOrder(prisma, gateway, o.orderId, who)).toMatchObject({ kind: 'refused' });
    const log = await prisma.auditLog.findMany({ where: { target: o.orderId } });
    expect(log.map((l) => [l.action, l.actor, l.ip])).toEqual([['order.canceled', who.actor, who.ip]]);
  });

  it('refuses to cancel a paid order, and resends its receipt as a new email', async () => {
    const prisma = database.prisma;
    const o = await orderWithIntent('pm_card_visa');
    expect(await cancelUnpaidOrder(prisma, gateway, o.orderId, who)).toMatchObject({ kind: 'refused' });
    expect(await resendReceipt(prisma, o.orderId, who)).toMatchObject({ kind: 'ok' });
    expect(await resendReceipt(prisma, o.orderId, who)).toMatchObject({ kind: 'ok' });
    const emails = await prisma.email.findMany({ where: { orderId: o.orderId }, orderBy: { createdAt: 'asc' } });
    expect(emails.map((e) => e.kind)).toEqual(['order_confirmation', 'receipt_resend', 'receipt_resend']);
    expect(emails[1].text).toBe(emails[0].text);
    expect(await prisma.auditLog.count({ where: { target: o.orderId, action: 'order.receipt_resent' } })).toBe(2);
    // Handed to the outbox in the same transaction (sent now, not when the sweep finds it).
    expect((await outboxOfOrder(prisma, o.orderId)).emails).toEqual(expect.arrayContaining([emails[1].id, emails[2].id]));
  });

  it('rejecting a held order refunds what remains and cancels its fulfillment', async () => {
    const prisma = database.prisma;
    const o = await orderWithIntent('pm_card_visa');
    await prisma.order.update({ where: { id: o.orderId }, data: { reviewStatus: 'pending_review' } });
    await prisma.fulfillment.update({ where: { orderId: o.orderId }, data: { status: 'on_hold' } });
    expect(await rejectReview(prisma, gateway, o.orderId, 1, who)).toMatchObject({ kind: 'ok' });
    const order = await prisma.order.findUniqueOrThrow({ where: { id: o.orderId }, include: { fulfillment: true } });
    expect(order).toMatchObject({ status: 'refunded', reviewStatus: 'rejected', amountRefunded: 2000 });
    expect(order.fulfillment?.status).toBe('canceled');
    expect((await stripe.refunds.list({ payment_intent: o.pi.id })).data.map((r) => r.amount)).toEqual([2000]);
  });

  it('dashboard: revenue net of refunds, success rate, average order value and chart series from our database', async () => {
    const prisma = database.prisma;
    const declined = await orderWithIntent(null);
    await prisma.paymentAttempt.update({ where: { paymentIntentId: declined.pi.id }, data: { failureCode: 'card_declined', declineCode: 'generic_decline' } });
    const paid = await prisma.order.findMany({ where: { paidAt: { not: null } }, select: { id: true } });
    for (const p of paid) await assessOrderRisk(prisma, p.id);
    const d = await loadDashboard(prisma);
    // Two paid orders of $20.00; one refunded in full.
    const today = d.revenue[0];
    expect(today).toMatchObject({ label: 'Today', gross: 4000, refunded: 2000, net: 2000, paidOrders: 2 });
    expect(d.revenue[2].net).toBe(2000);
    expect(d.averageOrderValue30d).toBe(2000);
    expect(d.successRate30d).toBeCloseTo(2 / 3);
    expect(d.revenuePerDay).toHaveLength(30);
    expect(d.revenuePerDay.at(-1)).toMatchObject({ net: 2000, refunded: 2000 });
    expect(d.paymentsPerDay.at(-1)).toMatchObject({ succeeded: 2, failed: 1 });
    expect(d.timeToPaidPerDay).toHaveLength(1);
    expect(d.timeToPaidPerDay[0].avgSeconds).toBeGreaterThanOrEqual(0);
  });
});
