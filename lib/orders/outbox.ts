// The order aggregate's transactional outbox. What an order transaction decides to do after it
// commits — send the email it queued, execute the refund it reserved, cancel the PaymentIntent
// of the attempt it superseded — is written in that same transaction, so the work exists
// exactly when the change does: a rollback takes it back, a crash after commit cannot lose it.
//
// Where it is written: a process running the job system attaches a delivery to its database
// (`deliverOutboxThrough`, lib/jobs), and the messages become the queue's jobs in the order's
// own transaction (pg-boss writes through it) — one statement, nothing to relay. Without one
// (a script, a test, the moment before the jobs start) they are OutboxMessage rows, which a
// worker's relay (relayOutbox) moves into the queue, each row once.
//
// The rows the work is about (the `queued` Email, the `reserved` Refund, the superseded
// attempt) stay the truth: the jobs check them, so a message delivered twice does nothing the
// second time, and the minutely sweep still finds any of that work left without a job.
import { sql } from 'kysely';
import { z } from 'zod';
import { processWide, type Db } from '@/lib/db/query';
import type { Sql, SqlDatabase } from '@/lib/db/sql';

export const OutboxMessage = z.discriminatedUnion('topic', [
  z.object({ topic: z.literal('email.queued'), emailId: z.string().min(1) }),
  z.object({ topic: z.literal('refund.reserved'), refundId: z.string().min(1) }),
  z.object({ topic: z.literal('attempt.superseded'), orderId: z.string().min(1), attemptNumber: z.number().int().positive() }),
]);
export type OutboxMessage = z.infer<typeof OutboxMessage>;

/** How a process's job system takes outbox messages in the writer's transaction. */
export interface OutboxDelivery {
  /** Writes the messages' work through `tx` (the order's transaction). */
  write(tx: Db, messages: readonly OutboxMessage[]): Promise<void>;
  /** After that transaction committed: wake what runs the work in this process (no statement). */
  committed(messages: readonly OutboxMessage[]): void;
}

// Keyed by the database: a test or tool with two databases open delivers each to its own jobs.
// Process-wide because Next.js loads this module more than once in one server (lib/services.ts).
const deliveries = processWide<SqlDatabase, OutboxDelivery>('brisk.outboxDelivery');

/** Attaches the job system's delivery to `db` (lib/jobs, at start); returns the detach. */
export function deliverOutboxThrough(db: SqlDatabase, delivery: OutboxDelivery): () => void {
  deliveries.set(db, delivery);
  return () => {
    if (deliveries.get(db) === delivery) deliveries.delete(db);
  };
}

/**
 * Writes messages in the caller's transaction `tx` on `db` (one statement; none when there are
 * none). Returns what to call once that transaction has committed (it wakes this process's
 * workers, which otherwise find the work at their next poll).
 */
export async function writeOutbox(db: SqlDatabase, tx: Sql, messages: readonly OutboxMessage[]): Promise<() => void> {
  if (messages.length === 0) return () => undefined;
  const delivery = deliveries.get(db);
  if (delivery) {
    await delivery.write(tx.kysely, messages);
    return () => delivery.committed(messages);
  }
  // One statement whatever the count (the driver keeps one prepared statement for it).
  const rows = JSON.stringify(messages.map(({ topic, ...payload }) => ({ topic, payload })));
  await tx.kysely
    .insertInto('OutboxMessage')
    .columns(['topic', 'payload'])
    .expression(sql`SELECT x.topic, x.payload FROM jsonb_to_recordset(${rows}::jsonb) AS x(topic text, payload jsonb)`)
    .execute();
  return () => undefined;
}

/** Messages still in the outbox, oldest first (admin and tests). */
export async function pendingOutbox(db: SqlDatabase, limit = 100): Promise<OutboxMessage[]> {
  const rows = await db.kysely.selectFrom('OutboxMessage').select(['topic', 'payload']).orderBy('id').limit(limit).execute();
  return rows.flatMap((r) => parsed(r.topic, r.payload));
}

function parsed(topic: string, payload: unknown): OutboxMessage[] {
  const m = OutboxMessage.safeParse({ ...(payload as object), topic });
  // A row no version of this code writes is left out (and deleted with its batch): nothing could run it.
  return m.success ? [m.data] : [];
}

/**
 * Takes up to `limit` messages and hands them to `deliver` inside one transaction: the rows are
 * deleted in it and `deliver` writes what it makes of them (the jobs) through the same
 * transaction, so each message becomes work exactly once, or stays when `deliver` throws.
 * Rows another relay holds are skipped (PostgreSQL's SKIP LOCKED): relays in many processes
 * share the outbox. Returns how many rows were taken (0: the outbox was empty).
 */
export async function relayOutbox(db: SqlDatabase, deliver: (tx: Db, messages: OutboxMessage[]) => Promise<void>, limit = 100): Promise<number> {
  // The common case, an empty outbox, costs one indexed read and no transaction.
  const any = await db.kysely.selectFrom('OutboxMessage').select('id').limit(1).executeTakeFirst();
  if (!any) return 0;
  return db.transaction(async (tx) => {
    const taken = await tx.kysely
      .deleteFrom('OutboxMessage')
      .where('id', 'in', (eb) => eb.selectFrom('OutboxMessage').select('id').orderBy('id').limit(limit).forUpdate().skipLocked())
      .returning(['topic', 'payload'])
      .execute();
    const messages = taken.flatMap((r) => parsed(r.topic, r.payload));
    if (messages.length > 0) await deliver(tx.kysely, messages);
    return taken.length;
  });
}
