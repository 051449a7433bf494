// The scheduled pruning of rows that only grow (issue #17 part 5): a year of traffic must not
// leave the tables that every checkout and webhook touches ten times their working size.
// Registered by the job worker (lib/jobs/index.ts) beside the sweep and the reconciliation.
//
// What goes, and why it is safe:
//   StripeEvent     processed events received more than STRIPE_EVENT_RETENTION_DAYS ago (30).
//                   The row's id is how a redelivery is recognised as a duplicate; Stripe
//                   redelivers for up to 3 days, so the retention may not go below 4. Events
//                   still received, failed or dead are never pruned (work to do, the admin's
//                   dead letters).
//   AdminSession    expired or revoked sessions created more than KNOWN_ADDRESS_MS (30 days)
//                   ago: until then a session is how sign-in recognises a known address.
//   StockHold       holds released, taken or lapsed more than a day ago: only active holds
//                   count against stock, and a new hold for the same attempt is an insert.
//   ThrottleCounter counters whose window and block ended more than a day ago: such a counter
//                   is read as absent (the next attempt starts a fresh window).
//   GatewayCallStat per-minute buckets older than 30 days (the dashboard reads 15 minutes).
//   pg-boss jobs    not here: pg-boss deletes finished jobs itself after each queue's
//                   deleteAfterSeconds (JOB_RETENTION_DAYS, set on every queue by index.ts),
//                   in its supervisor's maintenance every minute.
// Never pruned: SideEffect (its key is what makes a follow-up happen once: deleting it would let
// a replayed or late event send a second email or take stock twice; it lives and dies with its
// order), and the business records (orders, ledger, refunds, emails, audit log, reconciliation
// runs).
import 'server-only';
import type { PgBoss } from 'pg-boss';
import { z } from 'zod';
import { KNOWN_ADDRESS_MS } from '@/lib/admin/auth';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { sqlOf } from '@/lib/db/sql';
import { deleteInBatches } from '@/lib/db/batches';
import { pruneEndedStockHolds } from '@/lib/orders/stock-holds';
import { jobsLog } from './log';

export const PRUNE_QUEUE = 'prune';
/** Hourly, off the hour's other crons. */
export const PRUNE_CRON = '41 * * * *';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Grace after a hold, counter or block has ended (a clock a little off must not matter). */
const ENDED_GRACE_MS = DAY_MS;
const GATEWAY_STATS_KEEP_MS = 30 * DAY_MS;
/** Rows deleted per statement: a first run on a year of rows must not hold one huge transaction. */
const BATCH = 5_000;

export const Retention = z.object({
  stripeEventDays: z.number().int().min(4).max(3650),
  jobDays: z.number().int().min(1).max(365),
});
export type Retention = z.infer<typeof Retention>;
export const DEFAULT_RETENTION: Retention = { stripeEventDays: 30, jobDays: 7 };

export interface PruneCounts {
  stripeEvents: number;
  adminSessions: number;
  stockHolds: number;
  throttleCounters: number;
  gatewayCallStats: number;
}

/** One pass of the pruning, as of `now`. */
export async function pruneOldRows(prisma: PrismaClient, retention: Retention = DEFAULT_RETENTION, now = new Date()): Promise<PruneCounts> {
  const r = Retention.parse(retention);
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const ended = ago(ENDED_GRACE_MS);
  const db = sqlOf(prisma).kysely;
  return {
    // receivedAt (indexed with status) rather than processedAt: Stripe's redelivery window runs from the delivery.
    stripeEvents: await deleteInBatches(db, BATCH, 'StripeEvent', ['id'], (eb) => eb.and([eb('status', '=', 'processed'), eb('receivedAt', '<', ago(r.stripeEventDays * DAY_MS))])),
    adminSessions: await deleteInBatches(db, BATCH, 'AdminSession', ['id'], (eb) =>
      eb.and([eb('createdAt', '<', ago(KNOWN_ADDRESS_MS)), eb.or([eb('expiresAt', '<', now), eb('revokedAt', 'is not', null)])]),
    ),
    // Holds belong to the order aggregate: lib/orders deletes its own.
    stockHolds: await pruneEndedStockHolds(db, ended, BATCH),
    throttleCounters: await deleteInBatches(db, BATCH, 'ThrottleCounter', ['key'], (eb) => eb.and([eb('windowEnd', '<', ended), eb.or([eb('blockedUntil', 'is', null), eb('blockedUntil', '<', ended)])])),
    gatewayCallStats: await deleteInBatches(db, BATCH, 'GatewayCallStat', ['bucket', 'operation', 'outcome'], (eb) => eb('bucket', '<', ago(GATEWAY_STATS_KEEP_MS))),
  };
}

export interface PruneJobDeps {
  prisma: PrismaClient;
  retention: Retention;
  /** Cron of the schedule; 'off' leaves it unscheduled; undefined: don't touch the schedule. */
  cron?: string;
}

export async function registerPruneJob(boss: PgBoss, deps: PruneJobDeps): Promise<string> {
  // One run at a time; a run that outlives 30 minutes is expired (the next hour's run goes on from where it stopped).
  if (!(await boss.getQueue(PRUNE_QUEUE))) await boss.createQueue(PRUNE_QUEUE, { retryLimit: 0, expireInSeconds: 1800, policy: 'singleton', deleteAfterSeconds: deps.retention.jobDays * 86_400 });
  const id = await boss.work(PRUNE_QUEUE, { pollingIntervalSeconds: 10 }, async () => {
    const counts = await pruneOldRows(deps.prisma, deps.retention);
    if (Object.values(counts).some((n) => n > 0)) jobsLog.info(counts, 'pruned old rows');
    return counts;
  });
  if (deps.cron === 'off') await boss.unschedule(PRUNE_QUEUE).catch(() => {});
  else if (deps.cron) await boss.schedule(PRUNE_QUEUE, deps.cron, null, { retryLimit: 0 });
  return id;
}
