// The embedded database's vacuum (issue #17 part 5, the soak's PGlite drift). PGlite is
// PostgreSQL in single-user mode: there is no autovacuum launcher, so the rows every checkout and
// webhook updates (product stock, pg-boss's job rows, stock holds, throttle counters, attempts,
// the inbox's events) leave dead versions behind that every later scan of those tables and their
// indexes walks, and the planner's statistics are never refreshed. On PostgreSQL autovacuum does
// this; here a scheduled job does: `VACUUM (ANALYZE)` of the whole database, which skips the
// pages that have not changed since the last pass (the visibility map), so a pass costs what
// changed since the previous one. PGlite runs one statement at a time: a pass holds the database
// for its duration (milliseconds to a few seconds on a busy shop), between two transactions.
import 'server-only';
import type { PGlite } from '@electric-sql/pglite';
import type { PgBoss } from 'pg-boss';
import { jobsLog } from './log';

export const VACUUM_QUEUE = 'vacuum';
/** Every minute: without it the soak's server doubled its CPU per checkout in 3 minutes (bench/RESULTS.md, 2026-12-07); a pass after 5 minutes of churn held PGlite 306–504 ms, so shorter, more frequent passes. */
export const VACUUM_CRON = '* * * * *';

/** One pass; returns how long it held the database (ms). */
export async function vacuumEmbedded(pglite: PGlite): Promise<number> {
  const started = performance.now();
  await pglite.exec('VACUUM (ANALYZE)');
  return performance.now() - started;
}

export interface VacuumJobDeps {
  pglite: PGlite;
  /** Cron of the schedule; 'off' leaves it unscheduled; undefined: don't touch the schedule. */
  cron?: string;
  deleteAfterSeconds: number;
  pollingIntervalSeconds?: number;
}

export async function registerVacuumJob(boss: PgBoss, deps: VacuumJobDeps): Promise<string> {
  if (!(await boss.getQueue(VACUUM_QUEUE))) await boss.createQueue(VACUUM_QUEUE, { retryLimit: 0, expireInSeconds: 600, policy: 'singleton', deleteAfterSeconds: deps.deleteAfterSeconds });
  const id = await boss.work(VACUUM_QUEUE, { pollingIntervalSeconds: deps.pollingIntervalSeconds ?? 10 }, async () => {
    const ms = await vacuumEmbedded(deps.pglite);
    // Nothing else runs on the embedded database meanwhile: a long pass is something an
    // operator should see (every request waited for it).
    if (ms >= 1000) jobsLog.warn({ ms: Math.round(ms) }, 'vacuuming the embedded database held it for over a second');
    else jobsLog.debug({ ms: Math.round(ms) }, 'vacuumed the embedded database');
    return { ms: Math.round(ms) };
  });
  if (deps.cron === 'off') await boss.unschedule(VACUUM_QUEUE).catch(() => {});
  else if (deps.cron) await boss.schedule(VACUUM_QUEUE, deps.cron, null, { retryLimit: 0 });
  return id;
}
