import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { enqueueStripeEvent, startJobs, stopJobs } from '@/lib/jobs';
import { readHealth } from './health';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await stopJobs();
  await database?.drop();
});

describe(`health (${testDbKind})`, () => {
  it('is not ready while the expected worker is not running, and ready once it is', async () => {
    const prisma = async () => database.prisma;
    const before = await readHealth({ prisma, workerExpected: true });
    expect(before).toMatchObject({ ready: false, database: { ok: true }, migrations: { ok: true, pending: [] }, worker: { running: false }, queues: null, webhookLagSeconds: 0, gateway: { state: 'closed' } });

    // A web instance that only enqueues: the job waits in the queue, the worker is missing.
    await startJobs({ database, gateway: {} as never, worker: false });
    await enqueueStripeEvent('evt_health_waiting');
    const enqueueOnly = await readHealth({ prisma, workerExpected: true });
    expect(enqueueOnly).toMatchObject({ ready: false, worker: { jobsStarted: true, running: false } });
    expect(enqueueOnly.queues?.['stripe-event']).toEqual({ queued: 1, active: 0 });
    await stopJobs();

    await startJobs({ database, gateway: {} as never, worker: true, scheduleSweep: false, mailer: null });
    // The worker takes that job (the event is not stored, so processing finds nothing to do).
    let after = await readHealth({ prisma, workerExpected: true });
    for (let i = 0; i < 100 && (after.queues?.['stripe-event'].queued || after.queues?.['stripe-event'].active); i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await readHealth({ prisma, workerExpected: true });
    }
    expect(after.ready).toBe(true);
    expect(after.queues?.['stripe-event']).toEqual({ queued: 0, active: 0 });
  });

  it('reports unapplied migrations and an unreachable database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'brisk-migrations-'));
    mkdirSync(join(dir, '29990101000000_not_applied'));
    const pending = await readHealth({ prisma: async () => database.prisma, workerExpected: false, migrationsDir: dir });
    expect(pending.migrations).toEqual({ ok: false, pending: ['29990101000000_not_applied'] });
    expect(pending.ready).toBe(false);
    const down = await readHealth({ prisma: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')), workerExpected: false });
    expect(down).toMatchObject({ ready: false, database: { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:5432' } });
  });
});
