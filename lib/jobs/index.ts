// Background jobs on pg-boss, in the same database as the orders: in-process on PGlite
// (through its PGlite backend), or on PostgreSQL through the connection string, where any
// number of web instances enqueue and worker processes drain.
//
//   stripe-event       process one stored Stripe event (retries with backoff, then dead letter)
//   stripe-event-dead  mark the event `dead` for the admin's dead-letter list
//   email-send         send (or store) one Email row
//   email-send-dead    mark the email `failed`
//   payment-remedy     cancel a superseded attempt's PaymentIntent, or refund a stray payment
//   sweep              every minute: re-enqueue what was stored but never got a job
//   reconcile          every 15 minutes (reconcile-job.ts)
//   prune              hourly: delete old processed events, sessions, holds, counters (prune.ts);
//                      finished jobs are deleted by pg-boss after JOB_RETENTION_DAYS
import 'server-only';
import { PgBoss, fromKysely, type Job, type JobResult } from 'pg-boss';
import { config } from '@/lib/config';
import type { Database } from '@/lib/db/client';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { sqlDatabase } from '@/lib/db/sql';
import type { Db } from '@/lib/db/query';
import { deliverOutboxThrough, relayOutbox, type OutboxMessage } from '@/lib/orders/outbox';
import { cancelSupersededAttempt, executeSystemRefund, pendingRemedies, RemedyJobData, type RemedyGateway } from '@/lib/orders/remedies';
import { StripeEventJobData, isSheddingLoad, markStripeEventDead, processStripeEvent, reopenStripeEvent, stripeEventsWaitingSince, type EventGateway } from '@/lib/orders/stripe-events';
import { EmailJobData, markEmailFailed, requeueStalledEmail, sendEmail, smtpMailerFromConfig, type Mailer } from './email';
import { jobsLog } from './log';
import { preparedPgliteAdapter } from './pglite-adapter';
import { DEFAULT_RETENTION, PRUNE_CRON, PRUNE_QUEUE, registerPruneJob, Retention } from './prune';
import { registerVacuumJob, VACUUM_CRON, VACUUM_QUEUE } from './vacuum';
import { RECONCILE_QUEUE, registerReconcileJob } from './reconcile-job';
import type { StripeGateway } from '@/lib/stripe/gateway';

export const QUEUES = {
  stripeEvent: 'stripe-event',
  stripeEventDead: 'stripe-event-dead',
  emailSend: 'email-send',
  emailSendDead: 'email-send-dead',
  paymentRemedy: 'payment-remedy',
  sweep: 'sweep',
} as const;

const SCHEMA = 'pgboss';
/** How long one email send may run before its job expires (the sweep then requeues its email). */
const EMAIL_SEND_TIMEOUT_SECONDS = 120;

export interface RetryPolicy {
  limit: number;
  delaySeconds: number;
  backoff: boolean;
  maxDelaySeconds: number;
}

export interface StartJobsOptions {
  database: Database;
  /** Stripe reads for event processing; a function so a missing key fails the job, not start-up. */
  gateway: EventGateway | (() => EventGateway);
  /** Run handlers in this process (false: only enqueue, e.g. a web instance with WORKER_MODE=off). */
  worker: boolean;
  retry?: Partial<RetryPolicy>;
  /** How often idle workers poll (pg-boss's minimum is 0.5 s). In-process sends wake them at once. */
  pollingIntervalSeconds?: number;
  /** Stored-but-unqueued work older than this is re-enqueued by the sweep. */
  sweepAfterSeconds?: number;
  /** Schedule the minutely sweep (default: when worker is true). */
  scheduleSweep?: boolean;
  /** Registers the scheduled reconciliation (needs the full gateway: it lists PaymentIntents and refunds). */
  /** The scheduled reconciliation; cron is RECONCILE_CRON (blank or unset: every 15 minutes). */
  reconcile?: { gateway: () => StripeGateway; cron?: string };
  /** Writes to Stripe the shop decides on its own (cancel superseded attempts, refund stray payments); defaults to the reconcile gateway. */
  remedies?: { gateway: () => RemedyGateway };
  /** How long processed events and finished jobs are kept (default: DEFAULT_RETENTION). */
  retention?: Partial<Retention>;
  /** Cron of the pruning ('off': none); default PRUNE_CRON when the sweep is scheduled. */
  pruneCron?: string;
  /** Cron of the embedded database's vacuum ('off': none; PGlite only); default VACUUM_CRON when the sweep is scheduled. */
  vacuumCron?: string;
  /** Overrides SMTP_URL (tests); null stores emails in the database. */
  mailer?: Mailer | null;
  concurrency?: number;
}

interface JobSystem {
  boss: PgBoss;
  prisma: PrismaClient;
  worker: boolean;
  workerIds: Map<string, string>;
  sweepAfterSeconds: number;
  startedAt: Date;
  /** Stops the outbox relay (worker processes only), waiting for a batch in flight. */
  stopRelay?: () => Promise<void>;
  /** Detaches this process's outbox delivery from the database. */
  detachOutbox?: () => void;
}

/**
 * How often a worker's relay looks for OutboxMessage rows (an empty outbox costs one indexed
 * read). Rows are only written where no job system is attached (scripts, tests, a process's
 * first moments), so this is a safety net, not the path of every message.
 */
const OUTBOX_POLL_MS = 2_000;
/** Messages moved per relay transaction. */
const OUTBOX_BATCH = 100;

/** How often the dead-letter and sweep queues poll by default (their jobs are never urgent). */
const BACKGROUND_POLLING_SECONDS = 10;

const DEFAULT_RETRY: RetryPolicy = { limit: 8, delaySeconds: 2, backoff: true, maxDelaySeconds: 300 };

/** A live worker's jobs prove it every HEARTBEAT_SECONDS / 2; pg-boss's minimum is 10. */
const HEARTBEAT_SECONDS = 15;

// One job system per process, on globalThis: instrumentation.ts starts it in its own bundle, and
// the routes that enqueue (the webhook, the admin's replays) or report it (health, metrics) run
// from other bundles, each with its own copy of this module; a development reload is another.
const g = globalThis as unknown as { __briskJobs?: JobSystem; __briskJobsStarting?: Promise<JobSystem> };

function resolveGateway(gateway: StartJobsOptions['gateway']): () => EventGateway {
  return typeof gateway === 'function' ? gateway : () => gateway;
}

export async function startJobs(opts: StartJobsOptions): Promise<JobSystem> {
  if (g.__briskJobs) return g.__briskJobs;
  g.__briskJobsStarting ??= start(opts).finally(() => {
    g.__briskJobsStarting = undefined;
  });
  return g.__briskJobsStarting;
}

async function start(opts: StartJobsOptions): Promise<JobSystem> {
  const { database, worker } = opts;
  const retry = { ...DEFAULT_RETRY, ...opts.retry };
  // The supervisor's maintenance deletes finished jobs past their queue's deleteAfterSeconds; pg-boss
  // runs it daily by default, hourly here so each pass deletes an hour of jobs, not a day's pile.
  const background = { supervise: worker, schedule: opts.scheduleSweep ?? worker, maintenanceIntervalSeconds: 3600 };
  const boss =
    database.kind === 'pglite'
      ? new PgBoss({ db: preparedPgliteAdapter(database.pglite!, database.db), backend: 'pglite', schema: SCHEMA, ...background })
      : new PgBoss({ connectionString: database.url!, schema: SCHEMA, max: 5, application_name: worker ? 'brisk-worker' : 'brisk-web', ...background });
  boss.on('error', (err) => jobsLog.error({ err }, 'pg-boss error'));
  await boss.start();

  const retention = Retention.parse({ ...DEFAULT_RETENTION, ...opts.retention });
  // Finished jobs (completed, failed, cancelled) are deleted by pg-boss's own maintenance once
  // this old: set on every queue, so a year of traffic leaves a week of jobs, not a year.
  const kept = { deleteAfterSeconds: retention.jobDays * 86_400 };
  const retryOptions = { retryLimit: retry.limit, retryDelay: retry.delaySeconds, retryBackoff: retry.backoff, ...(retry.backoff ? { retryDelayMax: retry.maxDelaySeconds } : {}) };
  await ensureQueue(boss, QUEUES.stripeEventDead, kept);
  await ensureQueue(boss, QUEUES.emailSendDead, kept);
  // A job held by a process that died (SIGKILL, a lost machine) is retried once its heartbeat
  // stops: pg-boss's workers refresh it every HEARTBEAT_SECONDS / 2 while the handler runs, and
  // the supervisor (every minute) fails a job whose heartbeat is older. Without it such a job
  // stayed active until its expiry, and on PostgreSQL, where another process may hold it, the
  // restart cannot tell it from a live one: its event waited 5 minutes.
  const alive = { heartbeatSeconds: HEARTBEAT_SECONDS };
  await ensureQueue(boss, QUEUES.stripeEvent, { ...retryOptions, ...kept, ...alive, expireInSeconds: 300, deadLetter: QUEUES.stripeEventDead });
  await ensureQueue(boss, QUEUES.emailSend, { ...retryOptions, ...kept, ...alive, expireInSeconds: EMAIL_SEND_TIMEOUT_SECONDS, deadLetter: QUEUES.emailSendDead });
  await ensureQueue(boss, QUEUES.paymentRemedy, { ...retryOptions, ...kept, ...alive, expireInSeconds: 120 });
  await ensureQueue(boss, QUEUES.sweep, { ...kept, retryLimit: 0, expireInSeconds: 120 });

  const system: JobSystem = {
    boss,
    prisma: database.prisma,
    worker,
    workerIds: new Map(),
    sweepAfterSeconds: opts.sweepAfterSeconds ?? 30,
    startedAt: new Date(),
  };

  if (worker && database.kind === 'pglite') await retryOrphanedJobs(boss);

  if (worker) {
    const prisma = database.prisma;
    const gateway = resolveGateway(opts.gateway);
    const mailer = opts.mailer !== undefined ? opts.mailer : smtpMailerFromConfig(config());
    const polling = { pollingIntervalSeconds: opts.pollingIntervalSeconds ?? 2, localConcurrency: opts.concurrency ?? 4 };
    // Workers in their own processes hear of new jobs only by polling: one job per fetch and a
    // poll interval after each left a backlog draining at 4 jobs/s across two workers (the
    // scale-out chaos run). Batches keep fetching at once while they come back full, and each
    // job still succeeds or fails (and retries) on its own.
    const batches = { ...polling, batchSize: 8, burstWhenBatchFull: true, perJobResults: true } as const;
    // Queues nothing in this process sends to and nobody waits on (dead letters, the minutely
    // sweep) poll less often unless the caller set an interval: every poll is a query, and on
    // PGlite an idle server spent about 30 ms of CPU per second polling (bench:server).
    const background = { pollingIntervalSeconds: opts.pollingIntervalSeconds ?? BACKGROUND_POLLING_SECONDS };

    system.workerIds.set(
      QUEUES.stripeEvent,
      await boss.work(
        QUEUES.stripeEvent,
        batches,
        eachJob(async (job) => {
          const { eventId } = StripeEventJobData.parse(job.data);
          try {
            return { outcome: await processStripeEvent(prisma, gateway(), eventId) };
          } catch (err) {
            if (!isSheddingLoad(err)) throw err;
            // Paced, not failed: try again once the budget has room, without using up a retry
            // (the queue's backoff would otherwise push it minutes away, or to the dead letters).
            const seconds = Math.ceil(err.retryAfterMs / 1000) + Math.floor(Math.random() * 3);
            await boss.send(QUEUES.stripeEvent, StripeEventJobData.parse({ eventId }), { startAfter: seconds });
            return { outcome: 'deferred', seconds };
          }
        }),
      ),
    );
    system.workerIds.set(
      QUEUES.stripeEventDead,
      await boss.work(QUEUES.stripeEventDead, background, async ([job]: Job<unknown>[]) => {
        const { eventId } = StripeEventJobData.parse(job.data);
        await markStripeEventDead(prisma, eventId);
        jobsLog.error({ eventId }, 'stripe event is dead after its last retry');
      }),
    );
    system.workerIds.set(
      QUEUES.emailSend,
      await boss.work(
        QUEUES.emailSend,
        batches,
        eachJob(async (job) => ({ outcome: await sendEmail(prisma, mailer, EmailJobData.parse(job.data).emailId) })),
      ),
    );
    system.workerIds.set(
      QUEUES.emailSendDead,
      await boss.work(QUEUES.emailSendDead, background, async ([job]: Job<unknown>[]) => {
        await markEmailFailed(prisma, EmailJobData.parse(job.data).emailId);
      }),
    );
    const remedyGateway = opts.remedies?.gateway ?? opts.reconcile?.gateway;
    if (remedyGateway) {
      system.workerIds.set(
        QUEUES.paymentRemedy,
        await boss.work(
          QUEUES.paymentRemedy,
          batches,
          eachJob(async (job) => {
            const data = RemedyJobData.parse(job.data);
            const outcome =
              data.kind === 'refund'
                ? await executeSystemRefund(prisma, remedyGateway(), data.refundId)
                : await cancelSupersededAttempt(prisma, remedyGateway(), data.orderId, data.attemptNumber);
            jobsLog.info({ ...data, outcome }, 'payment remedy');
            return { outcome };
          }),
        ),
      );
    }
    system.workerIds.set(
      QUEUES.sweep,
      // A sweep still running while the jobs stop (SIGTERM) has nothing to sweep into: it is
      // skipped, not failed (the next start sweeps).
      await boss.work(QUEUES.sweep, background, async () => (g.__briskJobs ? runSweep() : { skipped: 'jobs are stopping' })),
    );
    if (opts.scheduleSweep ?? true) await boss.schedule(QUEUES.sweep, '* * * * *', null, { retryLimit: 0 });
    if (opts.reconcile) {
      system.workerIds.set(RECONCILE_QUEUE, await registerReconcileJob(boss, { prisma, gateway: opts.reconcile.gateway, cron: opts.reconcile.cron, schedule: opts.scheduleSweep ?? true }));
    }
    const pruneCron = opts.pruneCron ?? ((opts.scheduleSweep ?? true) ? PRUNE_CRON : undefined);
    system.workerIds.set(PRUNE_QUEUE, await registerPruneJob(boss, { prisma, retention, cron: pruneCron }));
    // PGlite has no autovacuum (vacuum.ts); PostgreSQL's own autovacuum does this there.
    if (database.kind === 'pglite') {
      const vacuumCron = opts.vacuumCron ?? ((opts.scheduleSweep ?? true) ? VACUUM_CRON : undefined);
      system.workerIds.set(VACUUM_QUEUE, await registerVacuumJob(boss, { pglite: database.pglite!, cron: vacuumCron, deleteAfterSeconds: kept.deleteAfterSeconds, pollingIntervalSeconds: background.pollingIntervalSeconds }));
    }
  }

  // Emails, refunds and cancellations decided in an order transaction reach the queue through
  // the order outbox (lib/orders/outbox.ts): written as jobs in that transaction from now on;
  // rows written without a delivery attached are relayed by worker processes, each once.
  // pg-boss looks a queue up on its own connection the first time it inserts into it; inside an
  // order's transaction on PGlite that lookup would wait for the transaction holding the only
  // backend. An empty insert now puts the outbox's queues in pg-boss's cache first.
  for (const queue of OUTBOX_QUEUES) await boss.insert(queue, []);
  system.detachOutbox = deliverOutboxThrough(sqlDatabase(database.prisma), {
    write: async (tx, messages) => void (await insertJobs(system, tx, messages)),
    committed: (messages) => wakeWorkers(system, messages.map((m) => jobOf(m).queue)),
  });
  if (worker) system.stopRelay = startOutboxRelay(system);
  g.__briskJobs = system;
  jobsLog.info({ kind: database.kind, worker }, 'jobs started');
  return system;
}

/** The queues outbox messages become jobs of (jobOf). */
const OUTBOX_QUEUES = [QUEUES.emailSend, QUEUES.paymentRemedy] as const;

/** The job each outbox message becomes. */
function jobOf(m: OutboxMessage): { queue: string; data: object } {
  switch (m.topic) {
    case 'email.queued':
      return { queue: QUEUES.emailSend, data: EmailJobData.parse({ emailId: m.emailId }) };
    case 'refund.reserved':
      return { queue: QUEUES.paymentRemedy, data: RemedyJobData.parse({ kind: 'refund', refundId: m.refundId }) };
    case 'attempt.superseded':
      return { queue: QUEUES.paymentRemedy, data: RemedyJobData.parse({ kind: 'cancel', orderId: m.orderId, attemptNumber: m.attemptNumber }) };
  }
}

/** The messages' jobs, inserted through `tx` (pg-boss writes in the caller's transaction): one statement per queue. */
async function insertJobs(system: JobSystem, tx: Db, messages: readonly OutboxMessage[]): Promise<string[]> {
  const byQueue = new Map<string, object[]>();
  for (const m of messages) {
    const { queue, data } = jobOf(m);
    byQueue.set(queue, [...(byQueue.get(queue) ?? []), data]);
  }
  for (const [queue, jobs] of byQueue) await system.boss.insert(queue, jobs.map((data) => ({ data })), { db: fromKysely(tx) });
  return [...byQueue.keys()];
}

/** Wakes this process's workers of these queues (no statement; a worker-less process has none). */
function wakeWorkers(system: JobSystem, queues: readonly string[]): void {
  for (const queue of new Set(queues)) {
    const workerId = system.workerIds.get(queue);
    if (workerId) system.boss.notifyWorker(workerId);
  }
}

/**
 * Moves outbox messages into the job queue: the jobs are inserted in the transaction that
 * deletes the rows (pg-boss writes through it), so a message becomes a job exactly once. Polls
 * every OUTBOX_POLL_MS, at once again while batches come back full; this process's workers are
 * woken after each commit. Returns the stop function.
 */
function startOutboxRelay(system: JobSystem): () => Promise<void> {
  const db = sqlDatabase(system.prisma);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let woken: string[] = [];
  const deliver = async (tx: Db, messages: OutboxMessage[]) => {
    woken = await insertJobs(system, tx, messages);
  };
  const pass = async () => {
    try {
      for (;;) {
        woken = [];
        const taken = await relayOutbox(db, deliver, OUTBOX_BATCH);
        wakeWorkers(system, woken);
        if (stopped || taken < OUTBOX_BATCH) break;
      }
    } catch (err) {
      // The rows stay; the next pass (or the sweep's own checks) picks them up.
      if (!stopped) jobsLog.warn({ err }, 'outbox relay failed; retrying');
    }
    if (!stopped) {
      timer = setTimeout(() => (running = pass()), OUTBOX_POLL_MS);
      timer.unref?.();
    }
  };
  running = pass();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}

/**
 * A batch handler that settles each job on its own: a job whose handler throws fails (and is
 * retried or dead-lettered as its queue says), the others complete. The jobs of a batch run
 * side by side: one at a time, a worker had only localConcurrency jobs in flight, each mostly
 * waiting on round trips (the events benchmark: ~10 ms of CPU in ~100 ms of waiting per event).
 * Jobs about the same order are safe together: applying locks the order's row.
 */
function eachJob(handle: (job: Job<unknown>) => Promise<object>): (jobs: Job<unknown>[]) => Promise<JobResult[]> {
  return (jobs) =>
    Promise.all(
      jobs.map(async (job): Promise<JobResult> => {
        try {
          return { id: job.id, status: 'completed', output: await handle(job) };
        } catch (err) {
          return { id: job.id, status: 'failed', output: { message: err instanceof Error ? err.message : String(err) } };
        }
      }),
    );
}

/**
 * Only one process can open a PGlite database, so a job still `active` when this process starts
 * was left by a predecessor that died mid-job (a crash, a SIGKILL). Failing it now retries it
 * at once instead of after its expiry (5 minutes for a Stripe event).
 */
async function retryOrphanedJobs(boss: PgBoss): Promise<void> {
  const { rows } = await boss.getDb().executeSql(`SELECT name, id FROM ${SCHEMA}.job WHERE state = 'active'`, []);
  const byQueue = new Map<string, string[]>();
  for (const r of rows as { name: string; id: string }[]) byQueue.set(r.name, [...(byQueue.get(r.name) ?? []), r.id]);
  for (const [name, ids] of byQueue) await boss.fail(name, ids, { message: 'the process running it stopped' });
  if (byQueue.size > 0) jobsLog.warn({ jobs: rows.length }, 'retrying jobs left active by a process that stopped mid-job');
}

async function ensureQueue(boss: PgBoss, name: string, options: Record<string, unknown>): Promise<void> {
  const existing = await boss.getQueue(name);
  if (!existing) await boss.createQueue(name, options);
  else if (Object.keys(options).length > 0) await boss.updateQueue(name, options);
}

/** Stops workers after their current jobs (so none is left locked) and closes pg-boss. */
export async function stopJobs(opts: { timeoutMs?: number } = {}): Promise<void> {
  const starting = g.__briskJobsStarting;
  if (starting) await starting.catch(() => undefined);
  const system = g.__briskJobs;
  if (!system) return;
  g.__briskJobs = undefined;
  system.detachOutbox?.();
  await system.stopRelay?.();
  await system.boss.stop({ graceful: true, timeout: opts.timeoutMs ?? 10_000, close: true });
  jobsLog.info('jobs stopped');
}

export function jobsRunning(): { started: boolean; worker: boolean; since: Date | null } {
  const s = g.__briskJobs;
  return { started: Boolean(s), worker: Boolean(s?.worker), since: s?.startedAt ?? null };
}

function system(): JobSystem {
  const s = g.__briskJobs;
  if (!s) throw new Error('jobs are not started (startJobs)');
  return s;
}

async function send(queue: string, data: object): Promise<string | null> {
  const s = system();
  const id = await s.boss.send(queue, data);
  // Wake this process's worker now instead of at its next poll.
  const workerId = s.workerIds.get(queue);
  if (workerId) s.boss.notifyWorker(workerId);
  return id;
}

export function enqueueStripeEvent(eventId: string): Promise<string | null> {
  return send(QUEUES.stripeEvent, StripeEventJobData.parse({ eventId }));
}

/** One round trip for many events (the webhook route's group commit). */
export async function enqueueStripeEvents(eventIds: string[]): Promise<void> {
  if (eventIds.length === 0) return;
  const s = system();
  await s.boss.insert(QUEUES.stripeEvent, eventIds.map((eventId) => ({ data: StripeEventJobData.parse({ eventId }) })));
  const workerId = s.workerIds.get(QUEUES.stripeEvent);
  if (workerId) s.boss.notifyWorker(workerId);
}

export function enqueueEmail(emailId: string): Promise<string | null> {
  return send(QUEUES.emailSend, EmailJobData.parse({ emailId }));
}

export function enqueueRemedy(data: RemedyJobData): Promise<string | null> {
  return send(QUEUES.paymentRemedy, RemedyJobData.parse(data));
}

/** Puts a dead (or failed) event back in the queue. False when there is no such event or it is already processed. */
export async function replayStripeEvent(eventId: string): Promise<boolean> {
  const s = system();
  if (!(await reopenStripeEvent(s.prisma, eventId))) return false;
  await enqueueStripeEvent(eventId);
  return true;
}

/**
 * The data of every job of `queue` still waiting or running, read once per sweep. (It asked
 * pg-boss's findJobs per candidate before: a scan of the queue's jobs, completed ones included,
 * for each of up to 500 events a minute — with a backlog of 2,000 events on PGlite that sweep
 * was most of the appliers' CPU, in the database's WASM.)
 */
async function openJobData(boss: PgBoss, queue: string): Promise<Record<string, unknown>[]> {
  const { rows } = await boss.getDb().executeSql(`SELECT data FROM ${SCHEMA}.job WHERE name = $1 AND state IN ('created', 'retry', 'active')`, [queue]);
  return (rows as { data: unknown }[]).map((r) => (typeof r.data === 'string' ? JSON.parse(r.data) : (r.data ?? {})) as Record<string, unknown>);
}

/** Whether some open job's data holds every field of `data` (pg-boss's `data @>` for flat objects). */
function holds(open: Record<string, unknown>[], data: Record<string, unknown>): boolean {
  return open.some((d) => Object.entries(data).every(([k, v]) => d[k] === v));
}

/**
 * Re-enqueues events still `received` and emails still `queued` (or left `sending` by a process
 * that died mid-send) after sweepAfterSeconds that have no open job: what a process killed
 * between its insert and its enqueue, or in the middle of a send, leaves behind.
 */
export async function runSweep(): Promise<{ stripeEvents: number; emails: number; remedies: number }> {
  const s = system();
  const before = new Date(Date.now() - s.sweepAfterSeconds * 1000);
  let stripeEvents = 0;
  let emails = 0;
  const events = await stripeEventsWaitingSince(s.prisma, before);
  if (events.length > 0) {
    const open = new Set((await openJobData(s.boss, QUEUES.stripeEvent)).map((d) => d.eventId));
    for (const { id } of events) {
      if (open.has(id)) continue;
      await enqueueStripeEvent(id);
      stripeEvents++;
    }
  }
  // `sending` with no job holding it: the process sending it died (a crash between the claim
  // and the write of `sent`); the job's own retry skips it, so only the sweep brings it back.
  const queued = await s.prisma.email.findMany({ where: { status: { in: ['queued', 'sending'] }, createdAt: { lt: before } }, orderBy: { createdAt: 'asc' }, take: 500, select: { id: true, status: true } });
  if (queued.length > 0) {
    const open = new Set((await openJobData(s.boss, QUEUES.emailSend)).map((d) => d.emailId));
    for (const { id, status } of queued) {
      if (open.has(id)) continue;
      if (status === 'sending' && !(await requeueStalledEmail(s.prisma, id))) continue;
      await enqueueEmail(id);
      emails++;
    }
  }
  let remedies = 0;
  const pending = await pendingRemedies(s.prisma, before);
  if (pending.length > 0) {
    const open = await openJobData(s.boss, QUEUES.paymentRemedy);
    for (const data of pending) {
      if (holds(open, data as unknown as Record<string, unknown>)) continue;
      await enqueueRemedy(data);
      remedies++;
    }
  }
  if (stripeEvents || emails || remedies) jobsLog.warn({ stripeEvents, emails, remedies }, 'sweep re-enqueued work that had no job');
  return { stripeEvents, emails, remedies };
}

export interface QueueDepth {
  queued: number;
  active: number;
}

/** Jobs waiting and running per queue, read from pg-boss's table (not its minutely cache). */
export async function queueDepths(): Promise<Record<string, QueueDepth>> {
  const s = system();
  const names = Object.values(QUEUES);
  const { rows } = await s.boss
    .getDb()
    .executeSql(`SELECT name, state, count(*)::int AS n FROM ${SCHEMA}.job WHERE name = ANY($1::text[]) AND state IN ('created', 'retry', 'active') GROUP BY name, state`, [names]);
  const out: Record<string, QueueDepth> = Object.fromEntries(names.map((n) => [n, { queued: 0, active: 0 }]));
  for (const r of rows as { name: string; state: string; n: number }[]) {
    if (r.state === 'active') out[r.name].active += r.n;
    else out[r.name].queued += r.n;
  }
  return out;
}


