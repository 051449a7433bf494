// Group commit for the webhook route: events verified by concurrent requests are inserted by
// one statement, and every request in the batch is answered as soon as that statement has
// committed — a 2xx always means "stored". Their jobs are then enqueued by one more statement,
// off the answer's path: if the process dies first, or the queue fails, the sweep enqueues
// the stored events later (DESIGN: nothing answered 2xx is lost).
// A lone webhook is written at once; while deliveries keep arriving (the last write ended less
// than busyWindowMs ago) the next write waits gatherMs to collect them, because on PGlite the
// statement runs on the server's own thread and requests still being parsed would miss it.
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { sql } from 'kysely';
import { sqlDatabase, type Sql } from '@/lib/db/sql';
import { statement } from '@/lib/db/statement';
import { PAID_STATUSES } from './state-machine';
import type { StripeEventEnvelope } from '@/lib/stripe/payment';

export interface InboxOptions {
  prisma: () => PrismaClient | Promise<PrismaClient>;
  /** Enqueue processing for newly stored events (one call per batch, after the answers). */
  enqueue: (eventIds: string[]) => Promise<unknown>;
  onEnqueueError?: (err: unknown) => void;
  maxBatch?: number;
  /** How long a busy inbox gathers deliveries before writing (default 4 ms). */
  gatherMs?: number;
  busyWindowMs?: number;
  /**
   * At most one queue insert per this many milliseconds (default 25): ids stored meanwhile
   * gather and go together. A lone event, after a quiet spell, is enqueued at once.
   */
  enqueueGatherMs?: number;
}

/**
 * True for an event row `x` whose processing could change nothing, judged from our records as
 * the worker would judge them (lib/orders/stripe-events.ts), and for good: a payment event about
 * a PaymentIntent that succeeded and paid its order (the checkout applied Stripe's answer before
 * the webhook came), or a charge event whose card its attempt already shows. Such events, the
 * common case after a checkout, are stored as processed and never queued: no job to insert,
 * fetch and complete, no event read back. Both facts only ever become true (an attempt's success
 * is terminal; a paid order stays paid, refunded or not), so an event judged now is judged as
 * its job would have judged it later.
 */
// Each event's attempt is looked up by its unique PaymentIntent id, in a scalar subquery per
// event: an EXISTS here let PostgreSQL run it as one hashed pass over every succeeded attempt and
// paid order (a generic plan of this prepared statement, for the batch's assumed 100 rows), so
// each webhook cost grew with the shop: 5 ms at 3,900 orders in the soak, acks of 10 webhooks/s
// from 9 ms to over a second p50 in 30 minutes (bench/RESULTS.md, 2026-12-07).
const SETTLED = sql<boolean>`COALESCE(CASE
  WHEN x."type" IN ('payment_intent.created', 'payment_intent.processing', 'payment_intent.requires_action', 'payment_intent.amount_capturable_updated',
                    'payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.canceled') THEN (
    SELECT a.status = 'succeeded' AND o."paymentIntentId" = x."objectId" AND o.status = ANY(${PAID_STATUSES}::"OrderStatus"[])
    FROM "PaymentAttempt" a JOIN "Order" o ON o.id = a."orderId"
    WHERE a."paymentIntentId" = x."objectId")
  WHEN x."type" IN ('charge.succeeded', 'charge.failed') THEN (
    SELECT a."cardLast4" IS NOT NULL FROM "PaymentAttempt" a
    WHERE a."paymentIntentId" = x."payload"->'data'->'object'->>'payment_intent')
  END, false)`;

/** Jobs per queue insert: about 10 ms of PGlite's thread at 0.04 ms a job. */
const ENQUEUE_CHUNK = 250;

/** A verified event as stored: `payload` is the exact JSON it was verified from. */
export interface EventRow {
  id: string;
  type: string;
  objectId: string | null;
  apiCreated: Date;
  payload: string;
}

export function eventRow(event: StripeEventEnvelope, rawBody: string): EventRow {
  const object = event.data.object as { id?: unknown };
  return { id: event.id, type: event.type, objectId: typeof object.id === 'string' ? object.id : null, apiCreated: new Date(event.created * 1000), payload: rawBody };
}

// Column arrays, one parameter each, unnested into rows.
const storeEvents = statement(
  (
    db,
    p: { settle: boolean; now: Date; ids: string[]; types: string[]; objectIds: (string | null)[]; apiCreated: string[]; payloads: string[] },
  ) =>
    db
      .insertInto('StripeEvent')
      .columns(['id', 'type', 'objectId', 'apiCreated', 'payload', 'status', 'processedAt'])
      .expression(
        sql`SELECT x."id", x."type", x."objectId", x."apiCreated", x."payload",
          CASE WHEN ${p.settle}::boolean AND ${SETTLED} THEN 'processed'::"StripeEventStatus" ELSE 'received'::"StripeEventStatus" END,
          CASE WHEN ${p.settle}::boolean AND ${SETTLED} THEN ${p.now}::timestamp END
        FROM unnest(${p.ids}::text[], ${p.types}::text[], ${p.objectIds}::text[], ${p.apiCreated}::timestamp(3)[], ${p.payloads}::jsonb[])
          AS x("id", "type", "objectId", "apiCreated", "payload")`,
      )
      .onConflict((oc) => oc.column('id').doNothing())
      .returning(['id', sql<boolean>`"status" = 'processed'`.as('settled')]),
);

/**
 * The one statement that stores Stripe events (the inbox's batches, and single events): each
 * new id inserted once, a redelivery not; an event that can tell us nothing new stored processed
 * (see SETTLED). Returns the ids inserted, and which of them need processing.
 */
export async function storeStripeEvents(
  db: Sql,
  rows: EventRow[],
  opts: { now?: Date; /** false: store every new event as received, for the worker to judge (tests of the worker). */ settle?: boolean } = {},
): Promise<{ inserted: Set<string>; toProcess: string[] }> {
  const { rows: stored } = await storeEvents(db, {
    settle: opts.settle ?? true,
    now: opts.now ?? new Date(),
    ids: rows.map((r) => r.id),
    types: rows.map((r) => r.type),
    objectIds: rows.map((r) => r.objectId),
    // A UTC wall time, as Prisma stores DateTime in "timestamp(3) without time zone".
    apiCreated: rows.map((r) => r.apiCreated.toISOString().slice(0, 23)),
    payloads: rows.map((r) => r.payload),
  });
  return { inserted: new Set(stored.map((r) => r.id)), toProcess: stored.filter((r) => !r.settled).map((r) => r.id) };
}

interface Item {
  id: string;
  row: EventRow;
  resolve: (r: { inserted: boolean }) => void;
  reject: (err: unknown) => void;
}

export class StripeEventInbox {
  private queue: Item[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout | null = null;
  private lastWriteEnded = -Infinity;
  // Enqueues run one at a time, behind the answers and beside the next inserts; ids stored
  // while one runs or gathers wait for the next, which takes them all (under load one queue
  // insert covers several batches: on PGlite it costs more than the batch insert itself).
  private toEnqueue: string[] = [];
  private enqueuing: Promise<void> | null = null;
  private readonly maxBatch: number;
  private readonly gatherMs: number;
  private readonly busyWindowMs: number;
  private readonly enqueueGatherMs: number;
  private lastEnqueueAt = -Infinity;

  constructor(private readonly opts: InboxOptions) {
    this.maxBatch = opts.maxBatch ?? 100;
    this.gatherMs = opts.gatherMs ?? 4;
    this.busyWindowMs = opts.busyWindowMs ?? 20;
    this.enqueueGatherMs = opts.enqueueGatherMs ?? 25;
  }

  /** Stores a verified event (rawBody: the exact JSON it was verified from). */
  add(event: StripeEventEnvelope, rawBody: string): Promise<{ inserted: boolean }> {
    const row = eventRow(event, rawBody);
    return new Promise((resolve, reject) => {
      this.queue.push({ id: event.id, row, resolve, reject });
      if (this.flushing || this.timer) return;
      if (performance.now() - this.lastWriteEnded > this.busyWindowMs) void this.flush();
      else
        this.timer = setTimeout(() => {
          this.timer = null;
          void this.flush();
        }, this.gatherMs);
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        await this.write(batch);
      }
    } finally {
      this.lastWriteEnded = performance.now();
      this.flushing = false;
    }
  }

  private async write(batch: Item[]): Promise<void> {
    // The same event twice in one batch: the first occurrence is the insert, the rest duplicates.
    const first = new Map<string, Item>();
    for (const item of batch) if (!first.has(item.id)) first.set(item.id, item);
    let inserted: Set<string>;
    let toProcess: string[];
    try {
      // Straight to the driver, as a prepared statement (lib/db/query.ts).
      ({ inserted, toProcess } = await storeStripeEvents(sqlDatabase(await this.opts.prisma()), [...first.values()].map((i) => i.row)));
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    for (const item of batch) item.resolve({ inserted: first.get(item.id) === item && inserted.has(item.id) });
    if (toProcess.length > 0) {
      this.toEnqueue.push(...toProcess);
      this.enqueuing ??= this.drainEnqueues();
    }
  }

  private async drainEnqueues(): Promise<void> {
    try {
      while (this.toEnqueue.length > 0) {
        // Processing can wait a little (the answers have gone); the thread shared with the
        // requests then spends one queue insert on many batches. On PGlite a queue insert costs
        // about 0.3 ms plus 0.04 ms a job (measured, prepared: lib/jobs/pglite-adapter.ts), and
        // blocks the thread while it runs. Longer gathers make each insert block it longer (at
        // 100 ms: p99 44 ms at 500 events/s, against 21), and so would a backlog left by a stall
        // if it went in one statement: at most ENQUEUE_CHUNK jobs each, 25 ms apart.
        const wait = this.lastEnqueueAt + this.enqueueGatherMs - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        this.lastEnqueueAt = performance.now();
        const ids = this.toEnqueue.splice(0, ENQUEUE_CHUNK);
        // Stored either way: if this fails, the sweep enqueues them. Stripe must not resend for it.
        await Promise.resolve()
          .then(() => this.opts.enqueue(ids))
          .catch((err: unknown) => this.opts.onEnqueueError?.(err));
      }
    } finally {
      this.enqueuing = null;
    }
  }

  /** Resolves when every enqueue started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.flushing || this.timer || this.queue.length > 0 || this.enqueuing) await new Promise((r) => setTimeout(r, 1));
  }
}
