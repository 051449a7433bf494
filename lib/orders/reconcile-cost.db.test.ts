// What a reconciliation run costs the shop: a PaymentIntent our records already show as Stripe
// has it is checked, not applied again (each apply is a transaction on the order; on PGlite every
// one holds the only connection). Counted through the module's own applyPayment.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmulator } from '@/emulator/src/server';
import { createStripeClient, type Stripe } from '@/lib/stripe/client';
import { StripeGateway } from '@/lib/stripe/gateway';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import { createOrderFixture } from '@/tests/helpers/payments';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { applyPayment } from './apply';
import { runReconciliation } from './reconcile';

vi.mock('./apply', async (importOriginal) => {
  const actual = await importOriginal<typeof import('./apply')>();
  return { ...actual, applyPayment: vi.fn(actual.applyPayment) };
});

const database = databaseForThisFile();
let emulator: Awaited<ReturnType<typeof startEmulator>>;
let stripe: Stripe;
let gateway: StripeGateway;
beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
  stripe = createStripeClient({ secretKey: emulator.secretKey, apiBase: emulator.url });
  gateway = new StripeGateway(stripe, { baseDelayMs: 10, maxDelayMs: 50 });
});
afterAll(() => emulator?.close());

/** An order whose attempt 1 is a PaymentIntent paid at Stripe; applied as the webhook would unless `apply` is false. */
async function paidAtStripe(apply: boolean) {
  const prisma = database.prisma;
  const f = await createOrderFixture(prisma, { lines: [{ stock: 10, quantity: 1, price: 1500 }] });
  const pi = await stripe.paymentIntents.create({ amount: f.total, currency: 'usd', metadata: { order_id: f.orderId, attempt: '1' }, payment_method: 'pm_card_visa', confirm: true });
  await prisma.paymentAttempt.update({ where: { paymentIntentId: f.paymentIntentIds[0] }, data: { paymentIntentId: pi.id } });
  await prisma.order.update({ where: { id: f.orderId }, data: { paymentIntentId: pi.id } });
  if (apply) await applyPaymentIntent(prisma, await gateway.retrievePaymentIntent(pi.id), { source: 'webhook' });
  return { orderId: f.orderId, pi };
}

describe('reconciliation cost', () => {
  it('applies only the PaymentIntents our records are behind on, and still checks the others', async () => {
    const inStep = await Promise.all([paidAtStripe(true), paidAtStripe(true), paidAtStripe(true)]);
    const behind = await paidAtStripe(false);
    const applied = vi.mocked(applyPayment);
    applied.mockClear();

    const now = Date.now();
    const summary = await runReconciliation(database.prisma, gateway, { windowStart: new Date(now - 60_000), windowEnd: new Date(now + 60_000), trigger: 'test' });

    expect(summary.checked).toBe(4);
    expect(applied.mock.calls.map(([, pi]) => pi.id)).toEqual([behind.pi.id]);
    expect(summary.findings).toEqual([expect.objectContaining({ kind: 'missed_payment_update', healed: true, orderId: behind.orderId, paymentIntentId: behind.pi.id })]);
    const orders = await database.prisma.order.findMany({ where: { id: { in: [...inStep, behind].map((o) => o.orderId) } }, select: { status: true } });
    expect(orders.map((o) => o.status)).toEqual(['paid', 'paid', 'paid', 'paid']);
  });
});
