// PGlite has one process: a job left `active` at start-up was orphaned by a crash and is retried
// at once, not after its 5-minute expiry.
import { afterAll, expect, it } from 'vitest';
import { openDatabase } from '@/lib/db/client';
import { applyMigrations } from '@/lib/db/migrate';
import { enqueueStripeEvent, startJobs, stopJobs } from './index';

const database = await openDatabase({ dataDir: 'memory://' });
afterAll(async () => {
  await stopJobs();
  await database.close();
});

it('retries a job a dead predecessor left active when the worker starts on PGlite', async () => {
  await applyMigrations(database.adapterFactory);
  const gateway = {} as never;
  await startJobs({ database, gateway, worker: false, mailer: null });
  const id = await enqueueStripeEvent('evt_orphaned_by_a_crash');
  // What a SIGKILL mid-job leaves behind.
  await database.pglite!.query(`UPDATE pgboss.job SET state = 'active', started_on = now() WHERE id = $1`, [id]);
  await stopJobs();

  await startJobs({ database, gateway, worker: true, mailer: null, pollingIntervalSeconds: 0.5, retry: { delaySeconds: 0, backoff: false } });
  const deadline = Date.now() + 15_000;
  let state = 'active';
  while (Date.now() < deadline && state !== 'completed') {
    await new Promise((r) => setTimeout(r, 200));
    state = (await database.pglite!.query<{ state: string }>(`SELECT state FROM pgboss.job WHERE id = $1`, [id])).rows[0]?.state ?? 'gone';
  }
  // The event row does not exist, so processing finds it `missing` and completes the job.
  expect(state).toBe('completed');
});
