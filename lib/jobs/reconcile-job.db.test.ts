import { PgBoss, fromPglite } from 'pg-boss';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmulator } from '@/emulator/src/server';
import { createStripeClient } from '@/lib/stripe/client';
import { StripeGateway } from '@/lib/stripe/gateway';
import { createTestDatabase } from '@/tests/helpers/db';
import { RECONCILE_CRON, RECONCILE_QUEUE, registerReconcileJob } from './reconcile-job';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let emulator: Awaited<ReturnType<typeof startEmulator>>;
let boss: PgBoss;

beforeAll(async () => {
  [database, emulator] = await Promise.all([createTestDatabase(), startEmulator({ port: 0 })]);
  boss =
    database.kind === 'pglite'
      ? new PgBoss({ db: fromPglite(database.pglite!), backend: 'pglite', schema: 'pgboss', supervise: false, schedule: false })
      : new PgBoss({ connectionString: database.url!, schema: 'pgboss', max: 2, supervise: false, schedule: false });
  await boss.start();
});
afterAll(async () => {
  await boss?.stop({ graceful: false, close: true });
  await emulator?.close();
  await database?.drop();
});

it('schedules reconciliation every 15 minutes and runs it over the last 24 hours', async () => {
  const gateway = new StripeGateway(createStripeClient({ secretKey: emulator.secretKey, apiBase: emulator.url }));
  await registerReconcileJob(boss, { prisma: database.prisma, gateway: () => gateway });
  const schedules = await boss.getSchedules();
  expect(schedules.map((s) => [s.name, s.cron])).toEqual([[RECONCILE_QUEUE, RECONCILE_CRON]]);

  await boss.send(RECONCILE_QUEUE, {});
  const until = Date.now() + 20_000;
  let run = null;
  while (!run && Date.now() < until) {
    run = await database.prisma.reconciliationRun.findFirst({ where: { trigger: 'schedule', status: 'succeeded' } });
    if (!run) await new Promise((r) => setTimeout(r, 100));
  }
  expect(run).not.toBeNull();
  expect(run!.windowEnd.getTime() - run!.windowStart.getTime()).toBe(24 * 60 * 60 * 1000);
});
