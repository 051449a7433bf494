// The embedded database's scheduled vacuum (lib/jobs/vacuum.ts): PGlite has no autovacuum, so
// the dead row versions every stock update leaves stay until this job runs; on PostgreSQL the
// server's autovacuum does it and the job is not registered.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { unusedEventGateway } from '@/tests/helpers/unused-gateway';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { startJobs, stopJobs } from './index';
import { VACUUM_CRON, VACUUM_QUEUE } from './vacuum';

const gateway = unusedEventGateway;

let database: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await stopJobs();
  await database?.drop();
});

const deadRowsOfProduct = async () =>
  Number((await database.prisma.$queryRawUnsafe<{ n: bigint | number }[]>(`SELECT n_dead_tup AS n FROM pg_stat_user_tables WHERE relname = 'Product'`))[0]?.n ?? 0);

it.runIf(testDbKind === 'pglite')('vacuums PGlite on its schedule: the dead row versions updates leave are cleared and statistics refreshed', async () => {
  const { prisma } = database;
  const product = await prisma.product.create({ data: { slug: `vacuum-${Date.now()}`, name: 'Churned lamp', description: 'x', price: 1000, image: '/x.png', stock: 1_000_000 } });
  // Updates of an indexed column (no heap-only update, so no pruning on the next read either), as
  // pg-boss's job state changes and the orders' status changes are: each leaves a dead version.
  for (let i = 0; i < 400; i++) await prisma.$executeRawUnsafe(`UPDATE "Product" SET slug = $2, stock = stock - 1 WHERE id = $1`, product.id, `vacuum-${i}-${product.id}`);
  // Table statistics are flushed at most once a second, at the end of a transaction.
  await new Promise((r) => setTimeout(r, 1100));
  await prisma.$executeRawUnsafe(`SELECT 1`);
  expect(await deadRowsOfProduct()).toBeGreaterThan(300);

  const jobs = await startJobs({ database, gateway, worker: true, scheduleSweep: false, vacuumCron: VACUUM_CRON, pollingIntervalSeconds: 0.5, mailer: null });
  // Scheduled on PGlite with the default cron.
  expect((await jobs.boss.getSchedules()).filter((s) => s.name === VACUUM_QUEUE).map((s) => s.cron)).toEqual([VACUUM_CRON]);

  // What the schedule sends, sent now.
  const id = await jobs.boss.send(VACUUM_QUEUE, null);
  const until = Date.now() + 30_000;
  let state = '';
  while (Date.now() < until) {
    state = (await jobs.boss.getJobById(VACUUM_QUEUE, id!))?.state ?? '';
    if (state === 'completed' || state === 'failed') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(state).toBe('completed');
  expect(await deadRowsOfProduct()).toBe(0);
  const stats = (await prisma.$queryRawUnsafe<{ last_vacuum: Date | null; last_analyze: Date | null }[]>(`SELECT last_vacuum, last_analyze FROM pg_stat_user_tables WHERE relname = 'Product'`))[0];
  expect(stats.last_vacuum).not.toBeNull();
  expect(stats.last_analyze).not.toBeNull();
  // The stock is what the updates left: a vacuum changes no data.
  expect((await prisma.product.findUniqueOrThrow({ where: { id: product.id } })).stock).toBe(1_000_000 - 400);
});

it.runIf(testDbKind === 'postgres')('leaves PostgreSQL to its own autovacuum: no vacuum queue, no schedule', async () => {
  const jobs = await startJobs({ database, gateway, worker: true, scheduleSweep: false, vacuumCron: VACUUM_CRON, pollingIntervalSeconds: 0.5, mailer: null });
  expect(await jobs.boss.getQueue(VACUUM_QUEUE)).toBeNull();
  expect((await jobs.boss.getSchedules()).filter((s) => s.name === VACUUM_QUEUE)).toEqual([]);
});
