// The scheduled pruning (issue #17 part 5): old rows go, everything still needed stays — an event
// within the retention is still recognised as a duplicate, a live session still signs in, an
// active stock hold still holds, a running lockout still locks, and unfinished work is kept.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSession, KNOWN_ADDRESS_MS, validateSession } from '@/lib/admin/auth';
import { ConfigError, parseConfig } from '@/lib/config';
import { recordStripeEvent } from '@/lib/orders/stripe-events';
import type { Stripe } from '@/lib/stripe/client';
import { unusedEventGateway } from '@/tests/helpers/unused-gateway';
import { createTestDatabase } from '@/tests/helpers/db';
import { createOrderFixture } from '@/tests/helpers/payments';
import { startJobs, stopJobs } from './index';
import { DEFAULT_RETENTION, pruneOldRows } from './prune';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
const DAY = 24 * 60 * 60 * 1000;
const gateway = unusedEventGateway;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await stopJobs();
  await database?.drop();
});

const daysAgo = (d: number) => new Date(Date.now() - d * DAY);

function event(id: string): Stripe.Event {
  return { id, object: 'event', type: 'payment_intent.succeeded', created: Math.floor(Date.now() / 1000), api_version: '2025-01-01', livemode: false, pending_webhooks: 1, request: null, data: { object: { id: `pi_${id}` } } } as unknown as Stripe.Event;
}

async function storeEvent(id: string, receivedDaysAgo: number, status: 'processed' | 'received' | 'failed' | 'dead'): Promise<void> {
  expect((await recordStripeEvent(database.prisma, event(id))).inserted).toBe(true);
  await database.prisma.stripeEvent.update({ where: { id }, data: { receivedAt: daysAgo(receivedDaysAgo), status, processedAt: status === 'processed' ? daysAgo(receivedDaysAgo) : null } });
}

it('removes exactly the old rows and keeps what dedup, sign-in, stock and lockouts still need', async () => {
  const { prisma } = database;
  const days = DEFAULT_RETENTION.stripeEventDays;
  // Stripe events: processed and older than the retention go; recent ones and unfinished ones stay.
  await storeEvent('evt_old_processed', days + 1, 'processed');
  await storeEvent('evt_recent_processed', days - 1, 'processed');
  await storeEvent('evt_old_dead', days + 60, 'dead');
  await storeEvent('evt_old_failed', days + 60, 'failed');
  await storeEvent('evt_old_received', days + 60, 'received');

  // Admin sessions: one live, one expired long ago, one revoked long ago, one expired recently (its address still counts as known).
  const admin = await prisma.adminUser.create({ data: { email: `prune-${Date.now()}@example.com`, passwordHash: 'x' } });
  const live = await createSession(prisma, admin.id, { ip: '203.0.113.1', userAgent: 'test' });
  const session = (id: string, createdDaysAgo: number, extra: { expiresAt: Date; revokedAt?: Date }) =>
    prisma.adminSession.create({ data: { id, userId: admin.id, createdAt: daysAgo(createdDaysAgo), lastSeenAt: daysAgo(createdDaysAgo), ip: '203.0.113.9', ...extra } });
  const knownDays = KNOWN_ADDRESS_MS / DAY;
  await session('s_old_expired', knownDays + 1, { expiresAt: daysAgo(knownDays) });
  await session('s_old_revoked', knownDays + 1, { expiresAt: daysAgo(knownDays), revokedAt: daysAgo(knownDays + 1) });
  await session('s_recent_expired', knownDays - 1, { expiresAt: daysAgo(knownDays - 2) });

  // Stock holds: released, taken and lapsed two days ago go; an active one and one released an hour ago stay.
  const order = await createOrderFixture(prisma, { lines: [{ stock: 10, quantity: 1 }, { stock: 10, quantity: 1 }, { stock: 10, quantity: 1 }, { stock: 10, quantity: 1 }, { stock: 10, quantity: 1 }] });
  const hold = (n: number, productId: string, data: { expiresAt: Date; releasedAt?: Date; takenAt?: Date }) =>
    prisma.stockHold.create({ data: { id: `hold_${n}`, orderId: order.orderId, attemptNumber: n, productId, quantity: 1, ...data } });
  const [p0, p1, p2, p3, p4] = order.productIds;
  await hold(1, p0, { expiresAt: daysAgo(2), releasedAt: daysAgo(2) });
  await hold(2, p1, { expiresAt: daysAgo(2), takenAt: daysAgo(2) });
  await hold(3, p2, { expiresAt: daysAgo(2) });
  await hold(4, p3, { expiresAt: new Date(Date.now() + 15 * 60_000) });
  await hold(5, p4, { expiresAt: new Date(Date.now() + 15 * 60_000), releasedAt: new Date(Date.now() - 60 * 60_000) });

  // Throttle counters: one whose window ended two days ago goes; a running lockout stays, even in an old window.
  await prisma.throttleCounter.create({ data: { key: 'prune:old', count: 3, windowEnd: daysAgo(2) } });
  await prisma.throttleCounter.create({ data: { key: 'prune:locked', count: 9, windowEnd: daysAgo(2), blockedUntil: new Date(Date.now() + 60_000) } });
  await prisma.throttleCounter.create({ data: { key: 'prune:current', count: 1, windowEnd: new Date(Date.now() + 60_000) } });

  // Gateway stats: a bucket 31 days old goes, one from a minute ago stays.
  await prisma.gatewayCallStat.create({ data: { bucket: daysAgo(31), operation: 'createPaymentIntent', outcome: 'ok', count: 1, totalMs: 10, maxMs: 10 } });
  await prisma.gatewayCallStat.create({ data: { bucket: new Date(Date.now() - 60_000), operation: 'createPaymentIntent', outcome: 'ok', count: 1, totalMs: 10, maxMs: 10 } });

  const counts = await pruneOldRows(prisma);
  expect(counts).toEqual({ stripeEvents: 1, adminSessions: 2, stockHolds: 3, throttleCounters: 1, gatewayCallStats: 1 });

  expect((await prisma.stripeEvent.findMany({ orderBy: { id: 'asc' } })).map((e) => e.id)).toEqual(['evt_old_dead', 'evt_old_failed', 'evt_old_received', 'evt_recent_processed']);
  // Within the retention a redelivery is still a duplicate; a redelivery of a pruned id (older than Stripe redelivers) would be stored anew.
  expect((await recordStripeEvent(prisma, event('evt_recent_processed'))).inserted).toBe(false);
  expect((await prisma.adminSession.findMany({ orderBy: { id: 'asc' } })).map((s) => s.id).filter((id) => id.startsWith('s_'))).toEqual(['s_recent_expired']);
  expect(await validateSession(prisma, live.token)).not.toBeNull();
  expect((await prisma.stockHold.findMany({ orderBy: { id: 'asc' } })).map((h) => h.id)).toEqual(['hold_4', 'hold_5']);
  expect((await prisma.throttleCounter.findMany({ where: { key: { startsWith: 'prune:' } }, orderBy: { key: 'asc' } })).map((t) => t.key)).toEqual(['prune:current', 'prune:locked']);
  expect(await prisma.gatewayCallStat.count()).toBe(1);

  // A second pass finds nothing more to do.
  expect(Object.values(await pruneOldRows(prisma)).every((n) => n === 0)).toBe(true);
});

it('refuses a retention shorter than Stripe redelivers, at start-up and in the job', async () => {
  expect(() => parseConfig({ STRIPE_EVENT_RETENTION_DAYS: '3' })).toThrow(ConfigError);
  expect(() => parseConfig({ STRIPE_EVENT_RETENTION_DAYS: '3' })).toThrow(/STRIPE_EVENT_RETENTION_DAYS must be at least 4/);
  expect(() => parseConfig({ JOB_RETENTION_DAYS: '0' })).toThrow(/JOB_RETENTION_DAYS/);
  expect(() => parseConfig({ PRUNE_CRON: 'hourly' })).toThrow(/PRUNE_CRON/);
  const cfg = parseConfig({});
  expect([cfg.STRIPE_EVENT_RETENTION_DAYS, cfg.JOB_RETENTION_DAYS, cfg.PRUNE_CRON]).toEqual([DEFAULT_RETENTION.stripeEventDays, DEFAULT_RETENTION.jobDays, undefined]);
  await expect(pruneOldRows(database.prisma, { stripeEventDays: 3, jobDays: 7 })).rejects.toThrow();
  expect(await database.prisma.stripeEvent.count()).toBeGreaterThan(0);
});

it('has pg-boss delete finished jobs older than the job retention, and keep the rest', async () => {
  const jobs = await startJobs({ database, gateway, worker: true, scheduleSweep: false, retention: { jobDays: 2 }, pollingIntervalSeconds: 0.5, mailer: null });
  const sql = jobs.boss.getDb();
  // Three Stripe-event jobs for events nobody stored: each completes at once ("missing").
  const ids = await Promise.all(['evt_job_a', 'evt_job_b', 'evt_job_c'].map((eventId) => jobs.boss.send('stripe-event', { eventId })));
  const until = Date.now() + 20_000;
  const stateOf = async () => (await sql.executeSql(`SELECT id, state FROM pgboss.job WHERE id = ANY($1::uuid[])`, [ids])).rows as { id: string; state: string }[];
  while ((await stateOf()).some((j) => j.state !== 'completed') && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  expect((await stateOf()).map((j) => j.state)).toEqual(['completed', 'completed', 'completed']);
  // One finished three days ago (past the retention), one a day ago (within it), one just now.
  await sql.executeSql(`UPDATE pgboss.job SET completed_on = now() - interval '3 days' WHERE id = $1`, [ids[0]]);
  await sql.executeSql(`UPDATE pgboss.job SET completed_on = now() - interval '1 day' WHERE id = $1`, [ids[1]]);
  // An hour on: the queue's maintenance is due again (pg-boss stamps it per queue; hourly here).
  await sql.executeSql(`UPDATE pgboss.queue SET maintain_on = NULL WHERE name = 'stripe-event'`, []);
  await jobs.boss.supervise('stripe-event');
  expect((await stateOf()).map((j) => j.id).sort()).toEqual([ids[1], ids[2]].sort());
});
