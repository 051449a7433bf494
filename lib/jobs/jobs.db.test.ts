import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { createOrderFixture, fakePaymentIntent } from '@/tests/helpers/payments';
import { outboxOfOrder } from '@/tests/helpers/outbox';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { recordStripeEvent, listDeadStripeEvents, type EventGateway } from '@/lib/orders/stripe-events';
import type { Stripe } from '@/lib/stripe/client';
import { StripeUnavailableError } from '@/lib/stripe/gateway';
import { enqueueStripeEvent, jobsRunning, queueDepths, replayStripeEvent, runSweep, startJobs, stopJobs } from './index';
import { webhookLagSeconds } from '@/lib/orders/stripe-events';
import { writeOutbox } from '@/lib/orders/outbox';
import { sqlDatabase, type Sql } from '@/lib/db/sql';
import { sql } from 'kysely';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
const pis = new Map<string, Stripe.PaymentIntent>();
let failing = new Set<string>();
/** PaymentIntents whose next N fetches the rate budget refuses. */
const paced = new Map<string, number>();
/** Every Stripe call the worker made, by PaymentIntent (payment events must make none). */
const stripeCalls: string[] = [];
const gateway: EventGateway = {
  async retrievePaymentIntent(id) {
    stripeCalls.push(id);
    if (failing.has(id)) throw new Error(`Stripe is down for ${id}`);
    const refusals = paced.get(id) ?? 0;
    if (refusals > 0) {
      paced.set(id, refusals - 1);
      throw new StripeUnavailableError('Stripe is busy', 'busy', 200);
    }
    const pi = pis.get(id);
    if (!pi) throw new Error(`no such PaymentIntent ${id}`);
    return pi;
  },
  async retrieveCharge() {
    throw new Error('not used');
  },
  async listRefunds() {
    return { object: 'list', data: [], has_more: false, url: '/v1/refunds' } as unknown as Stripe.ApiList<Stripe.Refund>;
  },
};

beforeAll(async () => {
  database = await createTestDatabase();
  await startJobs({ database, gateway, worker: true, retry: { limit: 1, delaySeconds: 0, backoff: false }, pollingIntervalSeconds: 0.5, scheduleSweep: false, sweepAfterSeconds: 30, mailer: null });
});
afterAll(async () => {
  await stopJobs();
  await database?.drop();
});

function piEvent(id: string, pi: Stripe.PaymentIntent, type = 'payment_intent.succeeded', created = Math.floor(Date.now() / 1000)): Stripe.Event {
  return { id, object: 'event', type, created, api_version: '2025-01-01', livemode: false, pending_webhooks: 1, request: null, data: { object: pi } } as unknown as Stripe.Event;
}

/**
 * A refund event: unlike a payment event (applied from its signed payload), it makes the worker
 * ask Stripe for the PaymentIntent and its refunds, so Stripe's pacing and outages reach it.
 */
function refundEvent(id: string, paymentIntentId: string, created = Math.floor(Date.now() / 1000)): Stripe.Event {
  return {
    id, object: 'event', type: 'charge.refunded', created, api_version: '2025-01-01', livemode: false, pending_webhooks: 1, request: null,
    data: { object: { id: `ch_${id}`, object: 'charge', payment_intent: paymentIntentId, amount_refunded: 0, refunded: false } },
  } as unknown as Stripe.Event;
}

async function waitFor<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe(`jobs on pg-boss (${testDbKind})`, () => {
  it('defers an event while Stripe calls are paced, without spending its retries, then processes it', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 2, quantity: 1 }] });
    const pi = fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' });
    pis.set(pi.id, pi);
    // More refusals than the queue's retry limit (1 here): a failure would be dead by now.
    paced.set(pi.id, 3);
    await recordStripeEvent(prisma, refundEvent('evt_jobs_paced', pi.id));
    await enqueueStripeEvent('evt_jobs_paced');
    const ev = await waitFor(() => prisma.stripeEvent.findUniqueOrThrow({ where: { id: 'evt_jobs_paced' } }), (e) => e.status === 'processed', 30_000);
    expect(ev).toMatchObject({ status: 'processed', attempts: 4, lastError: null });
    expect(paced.get(pi.id)).toBe(0);
    expect((await prisma.order.findUniqueOrThrow({ where: { id: f.orderId } })).status).toBe('paid');
  }, 40_000);

  it('processes an enqueued event end to end: order paid, email stored', async () => {
    const prisma = database.prisma;
    expect(jobsRunning()).toMatchObject({ started: true, worker: true });
    const f = await createOrderFixture(prisma, { lines: [{ stock: 2, quantity: 1 }] });
    const pi = fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' });
    pis.set(pi.id, pi);
    // Applied from the event's signed payload: no Stripe call (the state machine orders events).
    const callsBefore = stripeCalls.length;
    await recordStripeEvent(prisma, piEvent('evt_jobs_ok', pi));
    await enqueueStripeEvent('evt_jobs_ok');
    const ev = await waitFor(() => prisma.stripeEvent.findUniqueOrThrow({ where: { id: 'evt_jobs_ok' } }), (e) => e.status === 'processed');
    expect(ev).toMatchObject({ status: 'processed', attempts: 1, lastError: null });
    expect((await prisma.order.findUniqueOrThrow({ where: { id: f.orderId } })).status).toBe('paid');
    const email = await waitFor(() => prisma.email.findFirstOrThrow({ where: { orderId: f.orderId } }), (e) => e.status !== 'queued');
    expect(email.status).toBe('stored');
    expect(stripeCalls.length).toBe(callsBefore);
    expect(await webhookLagSeconds(prisma)).toBe(0);
  });

  it('lands an event whose processing keeps failing in the dead state, and replays it', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 2, quantity: 1 }] });
    const pi = fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' });
    pis.set(pi.id, pi);
    failing.add(pi.id);
    await recordStripeEvent(prisma, refundEvent('evt_jobs_dead', pi.id));
    await enqueueStripeEvent('evt_jobs_dead');
    const ev = await waitFor(() => prisma.stripeEvent.findUniqueOrThrow({ where: { id: 'evt_jobs_dead' } }), (e) => e.status === 'dead');
    expect(ev).toMatchObject({ status: 'dead', attempts: 2 });
    expect(ev.lastError).toMatch(/Stripe is down/);
    expect((await listDeadStripeEvents(prisma)).map((e) => e.id)).toContain('evt_jobs_dead');
    expect(await webhookLagSeconds(prisma)).toBe(0);

    failing = new Set();
    expect(await replayStripeEvent('evt_jobs_dead')).toBe(true);
    await waitFor(() => prisma.stripeEvent.findUniqueOrThrow({ where: { id: 'evt_jobs_dead' } }), (e) => e.status === 'processed');
    expect((await prisma.order.findUniqueOrThrow({ where: { id: f.orderId } })).status).toBe('paid');
    expect(await replayStripeEvent('evt_jobs_dead')).toBe(false);
  });

  it('does not sweep an old event whose job is still waiting (deferred while Stripe calls are paced)', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 2, quantity: 1 }] });
    const pi = fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' });
    pis.set(pi.id, pi);
    // Every fetch refused for now: each run defers the event to a new job a second or more away.
    paced.set(pi.id, 1_000_000);
    await recordStripeEvent(prisma, refundEvent('evt_jobs_waiting', pi.id));
    await enqueueStripeEvent('evt_jobs_waiting');
    await waitFor(() => prisma.stripeEvent.findUniqueOrThrow({ where: { id: 'evt_jobs_waiting' } }), (e) => e.attempts >= 1);
    await prisma.stripeEvent.update({ where: { id: 'evt_jobs_waiting' }, data: { receivedAt: new Date(Date.now() - 60_000) } });
    const queuedBefore = (await queueDepths())['stripe-event'];
    expect(queuedBefore.queued + queuedBefore.active).toBeGreaterThanOrEqual(1);
    // A second job for it would apply it twice over (harmless, but the sweep is for lost work only).
    expect(await runSweep()).toEqual({ stripeEvents: 0, emails: 0, remedies: 0 });
    paced.delete(pi.id);
    const done = await waitFor(() => prisma.stripeEvent.findUniqueOrThrow({ where: { id: 'evt_jobs_waiting' } }), (e) => e.status === 'processed', 20_000);
    expect(done.status).toBe('processed');
  });

  it('sweeps a received event that never got a job, and only that one', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 2, quantity: 1 }] });
    const pi = fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' });
    pis.set(pi.id, pi);
    // As if the process died between the insert and the enqueue, a minute ago.
    await recordStripeEvent(prisma, piEvent('evt_jobs_lost', pi));
    await prisma.stripeEvent.update({ where: { id: 'evt_jobs_lost' }, data: { receivedAt: new Date(Date.now() - 60_000) } });
    await recordStripeEvent(prisma, piEvent('evt_jobs_fresh', pi));
    expect(await webhookLagSeconds(prisma)).toBeGreaterThanOrEqual(59);

    expect(await runSweep()).toEqual({ stripeEvents: 1, emails: 0, remedies: 0 });
    await waitFor(() => prisma.stripeEvent.findUniqueOrThrow({ where: { id: 'evt_jobs_lost' } }), (e) => e.status === 'processed');
    expect((await prisma.order.findUniqueOrThrow({ where: { id: f.orderId } })).status).toBe('paid');
    expect((await prisma.stripeEvent.findUniqueOrThrow({ where: { id: 'evt_jobs_fresh' } })).status).toBe('received');
    const depths = await queueDepths();
    expect(Object.keys(depths)).toEqual(expect.arrayContaining(['stripe-event', 'email-send']));
    expect(depths['stripe-event'].queued).toBe(0);
  });

  it('sweeps an email a dead process left `sending` (no job holds it), and not one just claimed', async () => {
    const prisma = database.prisma;
    const minuteAgo = new Date(Date.now() - 60_000);
    const stalled = await prisma.email.create({ data: { dedupeKey: 'sweep-stalled', to: 'a@example.com', subject: 'Hi', text: 'Receipt', kind: 'order_confirmation', status: 'sending', createdAt: minuteAgo } });
    const fresh = await prisma.email.create({ data: { dedupeKey: 'sweep-fresh', to: 'a@example.com', subject: 'Hi', text: 'Receipt', kind: 'order_confirmation', status: 'sending' } });
    expect(await runSweep()).toEqual({ stripeEvents: 0, emails: 1, remedies: 0 });
    expect((await waitFor(() => prisma.email.findUniqueOrThrow({ where: { id: stalled.id } }), (e) => e.status === 'stored')).status).toBe('stored');
    expect((await prisma.email.findUniqueOrThrow({ where: { id: fresh.id } })).status).toBe('sending');
  });

  it('sends the receipt of an order paid outside the worker (the order page) through the outbox, with no sweep', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 2, quantity: 1 }] });
    const pi = fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' });
    // The sweep is not scheduled here and would only look at rows 30 s old: only the relay can send it.
    await applyPaymentIntent(prisma, pi, { source: 'return_page' });
    const email = await waitFor(() => prisma.email.findFirstOrThrow({ where: { orderId: f.orderId } }), (e) => e.status !== 'queued', 5_000);
    expect(email.status).toBe('stored');
    expect(await outboxOfOrder(prisma, f.orderId)).toEqual({ emails: [], refunds: [], superseded: [] });
  });

  it("writes an outbox message as its job in the order's own transaction: a rollback takes the job back, and no row is left to relay", async () => {
    const db = sqlDatabase(database.prisma);
    const jobsFor = (tx: Sql, emailId: string) =>
      sql<{ n: number }>`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'email-send' AND data->>'emailId' = ${emailId}`.execute(tx.kysely).then((r) => r.rows[0].n);
    const emailId = randomUUID();
    const inside = await db
      .transaction(async (tx) => {
        await writeOutbox(db, tx, [{ topic: 'email.queued', emailId }]);
        const seen = { jobs: await jobsFor(tx, emailId), rows: (await tx.kysely.selectFrom('OutboxMessage').select('id').execute()).length };
        throw Object.assign(new Error('rolled back'), { seen });
      })
      .catch((err: { seen?: { jobs: number; rows: number } }) => err.seen ?? err);
    expect(inside).toEqual({ jobs: 1, rows: 0 });
    expect(await jobsFor(db, emailId)).toBe(0);
  });
});
