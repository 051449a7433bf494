import { PgBoss, fromPglite } from 'pg-boss';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { startEmulator } from '@/emulator/src/server';
import { createStripeClient, type Stripe } from '@/lib/stripe/client';
import { StripeGateway } from '@/lib/stripe/gateway';
import { createTestDatabase } from '@/tests/helpers/db';
import { createOrderFixture } from '@/tests/helpers/payments';
import { RECONCILE_CRON, RECONCILE_QUEUE, registerReconcileJob } from './reconcile-job';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let emulator: Awaited<ReturnType<typeof startEmulator>>;
let stripe: Stripe;
let gateway: StripeGateway;
let boss: PgBoss;

beforeAll(async () => {
  [database, emulator] = await Promise.all([createTestDatabase(), startEmulator({ port: 0 })]);
  stripe = createStripeClient({ secretKey: emulator.secretKey, apiBase: emulator.url });
  gateway = new StripeGateway(stripe, { baseDelayMs: 10, maxDelayMs: 50 });
});
// Each test starts from an empty pg-boss (no queue, no schedule) and without RECONCILE_CRON.
beforeEach(async () => {
  cron = undefined;
  await database.prisma.$executeRawUnsafe('DROP SCHEMA IF EXISTS pgboss CASCADE');
  boss =
    database.kind === 'pglite'
      ? new PgBoss({ db: fromPglite(database.pglite!), backend: 'pglite', schema: 'pgboss', supervise: false, schedule: false })
      : new PgBoss({ connectionString: database.url!, schema: 'pgboss', max: 2, supervise: false, schedule: false });
  await boss.start();
});
afterEach(async () => {
  await boss?.stop({ graceful: false, close: true });
});
afterAll(async () => {
  await emulator?.close();
  await database?.drop();
});

let cron: string | undefined;
const register = (schedule?: boolean) => registerReconcileJob(boss, { prisma: database.prisma, gateway: () => gateway, cron, ...(schedule === undefined ? {} : { schedule }) });
const schedules = async () => (await boss.getSchedules()).map((s) => [s.name, s.cron]);

it('schedules reconciliation every 15 minutes and runs it over the last 24 hours, healing a payment whose webhook was lost', async () => {
  // A payment Stripe took a moment ago that our order never heard of.
  const f = await createOrderFixture(database.prisma, { lines: [{ stock: 5, quantity: 1, price: 2000 }] });
  const pi = await stripe.paymentIntents.create({ amount: f.total, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, metadata: { order_id: f.orderId, attempt: '1' } });
  await database.prisma.paymentAttempt.update({ where: { paymentIntentId: f.paymentIntentIds[0] }, data: { paymentIntentId: pi.id } });
  await database.prisma.order.update({ where: { id: f.orderId }, data: { paymentIntentId: pi.id } });

  await register();
  // One run at a time, never retried, expired after 10 minutes; the worker polls every 5 s.
  expect(await boss.getQueue(RECONCILE_QUEUE)).toMatchObject({ policy: 'singleton', retryLimit: 0, expireInSeconds: 600 });
  expect(boss.getWipData().filter((w) => w.name === RECONCILE_QUEUE).map((w) => w.options)).toEqual([expect.objectContaining({ pollingIntervalSeconds: 5 })]);
  const [schedule] = await boss.getSchedules();
  expect([schedule.name, schedule.cron]).toEqual([RECONCILE_QUEUE, RECONCILE_CRON]);
  expect(schedule.options).toMatchObject({ retryLimit: 0 });

  const sentAt = Date.now();
  const jobId = (await boss.send(RECONCILE_QUEUE, {}))!;
  const until = Date.now() + 20_000;
  let job = await boss.getJobById(RECONCILE_QUEUE, jobId);
  while (job?.state !== 'completed' && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    job = await boss.getJobById(RECONCILE_QUEUE, jobId);
  }
  expect(job?.state).toBe('completed');
  const run = await database.prisma.reconciliationRun.findFirstOrThrow({ where: { trigger: 'schedule' }, include: { findings: true } });
  expect(run).toMatchObject({ status: 'succeeded', checked: 1, healed: 1, unresolved: 0 });
  expect(run.windowEnd.getTime() - run.windowStart.getTime()).toBe(24 * 60 * 60 * 1000);
  expect(run.windowEnd.getTime()).toBeGreaterThanOrEqual(sentAt);
  expect(run.windowEnd.getTime()).toBeLessThanOrEqual(Date.now());
  expect(run.findings.map((x) => [x.kind, x.orderId, x.paymentIntentId])).toEqual([['missed_payment_update', f.orderId, pi.id]]);
  expect(await database.prisma.order.findUniqueOrThrow({ where: { id: f.orderId } })).toMatchObject({ status: 'paid', amountPaid: 2000 });
  // The job's own record says what the run did (the jobs page shows it).
  expect(job!.output).toEqual({ runId: run.id, status: 'succeeded', healed: 1, unresolved: 0 });
});

it('takes its schedule from RECONCILE_CRON (trimmed; blank means the default)', async () => {
  cron = '  0 * * * *  ';
  await register();
  expect(await schedules()).toEqual([[RECONCILE_QUEUE, '0 * * * *']]);

  cron = '   ';
  await register();
  expect(await schedules()).toEqual([[RECONCILE_QUEUE, RECONCILE_CRON]]);
});

it("RECONCILE_CRON=off removes the schedule, leaving only the admin's Run now; schedule: false leaves the schedule as it was", async () => {
  await register();
  expect(await schedules()).toEqual([[RECONCILE_QUEUE, RECONCILE_CRON]]);

  cron = '0 3 * * *';
  await register(false);
  expect(await schedules()).toEqual([[RECONCILE_QUEUE, RECONCILE_CRON]]);

  cron = 'off';
  await register();
  expect(await schedules()).toEqual([]);
  // Off with nothing scheduled is no error, and the handler is still there for Run now.
  await register();
  expect(await schedules()).toEqual([]);
  expect(boss.getWipData().filter((w) => w.name === RECONCILE_QUEUE).length).toBeGreaterThan(0);
});

it('registers only the handler when told not to schedule', async () => {
  await register(false);
  expect(await schedules()).toEqual([]);
  expect(await boss.getQueue(RECONCILE_QUEUE)).toMatchObject({ policy: 'singleton' });
});
