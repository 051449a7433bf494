// Starting the job system from the environment: inside the Next.js server (instrumentation.ts)
// or as a separate worker process (scripts/worker.ts), and stopping it on shutdown signals so
// no job is left locked `active` until it expires.
import 'server-only';
import { config } from '@/lib/config';
import { db, stripeGateway } from '@/lib/services';
import { startJobs, stopJobs } from './index';
import { jobsLog } from './log';

export class WorkerNeedsPostgresError extends Error {
  constructor() {
    super(
      'A separate worker process needs PostgreSQL: the embedded PGlite database can be opened by one process only, ' +
        'and the Next.js server already runs the worker in-process (WORKER_MODE=inline). ' +
        'Set DATABASE_URL=postgresql://… for both the server and `npm run worker`.',
    );
    this.name = 'WorkerNeedsPostgresError';
  }
}

/**
 * role 'server': WORKER_MODE=inline runs the handlers here; WORKER_MODE=off only enqueues
 * (separate workers drain). role 'worker': always runs handlers, and only on PostgreSQL.
 */
export async function startJobsFromEnvironment(role: 'server' | 'worker'): Promise<void> {
  const cfg = config();
  if (role === 'worker' && !cfg.DATABASE_URL) throw new WorkerNeedsPostgresError();
  // Registered first: with NEXT_MANUAL_SIG_HANDLE the process must exit on SIGTERM even if jobs fail to start.
  stopOnSignals({ exitAfter: role === 'worker' || cfg.NEXT_MANUAL_SIG_HANDLE });
  const database = await db();
  const worker = role === 'worker' || cfg.WORKER_MODE === 'inline';
  await startJobs({
    database,
    gateway: () => stripeGateway(),
    worker,
    reconcile: { gateway: () => stripeGateway(), cron: cfg.RECONCILE_CRON },
    retention: { stripeEventDays: cfg.STRIPE_EVENT_RETENTION_DAYS, jobDays: cfg.JOB_RETENTION_DAYS },
    pruneCron: cfg.PRUNE_CRON,
    vacuumCron: cfg.PGLITE_VACUUM_CRON,
  });
}

// Only instrumentation.ts and scripts/worker.ts import this module; were it evaluated twice,
// a second pair of handlers would find the jobs stopped already (stopJobs is idempotent).
let listening = false;

/**
 * Stops the jobs gracefully on SIGTERM/SIGINT. Inside Next.js the server exits on its own
 * after closing (unless NEXT_MANUAL_SIG_HANDLE is set, when this handler exits instead);
 * pg-boss stops fetching at once and an interrupted job is retried after it expires.
 */
export function stopOnSignals(opts: { exitAfter: boolean }): void {
  if (listening) return;
  listening = true;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      jobsLog.info({ signal }, 'stopping jobs');
      void stopJobs()
        .catch((err) => jobsLog.error({ err }, 'jobs did not stop cleanly'))
        .finally(() => {
          if (opts.exitAfter) process.exit(signal === 'SIGINT' ? 130 : 143);
        });
    });
  }
}
