// End to end through the emulator: a PaymentIntent created and confirmed with the official SDK,
// the emulator's signed webhooks (every one delivered twice) into receiveStripeWebhook over
// HTTP, the pg-boss worker applying them — and the order paid with each follow-up once.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '@/emulator/src/server';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { createOrderFixture, orderOutcome } from '@/tests/helpers/payments';
import { createStripeClient } from '@/lib/stripe/client';
import { StripeGateway } from '@/lib/stripe/gateway';
import { receiveStripeWebhook } from '@/lib/orders/webhook';
import { enqueueStripeEvent, startJobs, stopJobs } from '@/lib/jobs';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let emulator: Awaited<ReturnType<typeof startEmulator>>;
let gateway: StripeGateway;
let server: Server;
const responses: number[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  emulator = await startEmulator({ port: 0, webhookRetry: { attempts: 4, baseDelayMs: 200 } });
  gateway = new StripeGateway(createStripeClient({ secretKey: emulator.secretKey, apiBase: emulator.url }));
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const r = await receiveStripeWebhook(
        { rawBody: Buffer.concat(chunks).toString('utf8'), signature: (req.headers['stripe-signature'] as string | undefined) ?? null, contentLength: req.headers['content-length'] },
        { prisma: () => database.prisma, gateway, secrets: [emulator.webhookSecret], enqueue: enqueueStripeEvent },
      );
      responses.push(r.status);
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const control = async (path: string, body: unknown) => {
    const r = await fetch(`${emulator.url}/_emulator/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${emulator.secretKey}` }, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`emulator ${path}: ${r.status} ${await r.text()}`);
  };
  await control('webhook_endpoints', { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/stripe/webhook` });
  await control('webhooks', { mode: 'duplicate' });
  await startJobs({ database, gateway, worker: true, pollingIntervalSeconds: 0.5, scheduleSweep: false, mailer: null });
});

afterAll(async () => {
  await stopJobs();
  await new Promise((r) => server?.close(r));
  await emulator?.close();
  await database?.drop();
});

async function waitFor<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    // A wait that ends without its condition is a failure, never a quiet pass.
    if (Date.now() > until) throw new Error(`waitFor: condition not met within ${timeoutMs} ms (last value: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe(`emulator → webhook → worker → order (${testDbKind})`, () => {
  it('pays the order once with pm_card_visa, then records a partial refund', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 3, quantity: 2, price: 1999 }], attempts: 0 });
    await prisma.order.update({ where: { id: f.orderId }, data: { attemptCount: 1 } });
    const key = `brisk:pi:${f.orderId}:1`;
    const pi = await gateway.createPaymentIntent(
      { amount: f.total, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, metadata: { order_id: f.orderId, attempt: '1' } },
      { idempotencyKey: key },
    );
    expect(pi.status).toBe('succeeded');
    await prisma.paymentAttempt.create({ data: { orderId: f.orderId, attemptNumber: 1, paymentIntentId: pi.id, idempotencyKey: key, amount: f.total, currency: 'usd', status: pi.status } });

    const settled = () => prisma.stripeEvent.count({ where: { status: { not: 'processed' } } });
    await waitFor(() => orderOutcome(prisma, f.orderId), (o) => o.status === 'paid');
    // The order can be paid (by charge.succeeded) before Stripe has sent payment_intent.succeeded:
    // wait for that delivery too before counting what is left to process.
    await waitFor(() => prisma.stripeEvent.count({ where: { type: 'payment_intent.succeeded' } }), (n) => n > 0);
    await waitFor(settled, (n) => n === 0);
    const out = await orderOutcome(prisma, f.orderId);
    expect(out).toMatchObject({ status: 'paid', amountPaid: f.total, stock: [1], emails: 1, fulfillments: 1, paidEvents: 1, ledgerUnbalanced: [], oversold: false });
    expect(out.ledger).toEqual([
      { txKey: `payment:${pi.id}`, account: 'sales', amount: -f.total },
      { txKey: `payment:${pi.id}`, account: 'stripe_balance', amount: f.total },
    ]);
    const attempt = await prisma.paymentAttempt.findUniqueOrThrow({ where: { paymentIntentId: pi.id } });
    expect(attempt).toMatchObject({ status: 'succeeded', cardBrand: 'visa', cardLast4: '4242' });
    const types = (await prisma.stripeEvent.findMany({ select: { type: true } })).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['payment_intent.succeeded']));
    // Every delivery arrived twice; the second of each was acknowledged as a duplicate.
    // (The duplicate of the last event may still be on its way.)
    await waitFor(async () => responses.length, (n) => n >= 2 * types.length);
    expect(responses.every((s) => s === 200)).toBe(true);

    await gateway.createRefund({ payment_intent: pi.id, amount: 1000 }, { idempotencyKey: `brisk:refund:${f.orderId}:1` });
    const refunded = await waitFor(() => orderOutcome(prisma, f.orderId), (o) => o.status === 'partially_refunded');
    await waitFor(settled, (n) => n === 0);
    expect(refunded).toMatchObject({ status: 'partially_refunded', amountRefunded: 1000, ledgerUnbalanced: [] });
    expect((await orderOutcome(prisma, f.orderId)).refunds).toEqual([{ stripeRefundId: expect.stringMatching(/^re_/), amount: 1000, status: 'succeeded' }]);
  });
});
