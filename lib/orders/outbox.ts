// The order aggregate's transactional outbox. What an order transaction decides to do after it
// commits — send the email it queued, execute the refund it reserved, cancel the PaymentIntent
// of the attempt it superseded — is written as OutboxMessage rows in that same transaction, so
// the work exists exactly when the change does: a rollback takes it back, a crash after commit
// cannot lose it. lib/jobs' relay (relayOutbox) hands the rows to the job queue.
//
// The rows the work is about (the `queued` Email, the `reserved` Refund, the superseded
// attempt) stay the truth: the jobs check them, so a message delivered twice does nothing the
// second time, and the minutely sweep still finds any of that work left without a job.
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '@/lib/db/query';
import type { Sql, SqlDatabase } from '@/lib/db/sql';

export const OutboxMessage = z.discriminatedUnion('topic', [
  z.object({ topic: z.literal('email.queued'), emailId: z.string().min(1) }),
  z.object({ topic: z.literal('refund.reserved'), refundId: z.string().min(1) }),
  z.object({ topic: z.literal('attempt.superseded'), orderId: z.string().min(1), attemptNumber: z.number().int().positive() }),
]);
export type OutboxMessage = z.infer<typeof OutboxMessage>;

/** Writes messages in the caller's transaction (one statement; none when there are none). */
export async function writeOutbox(tx: Sql, messages: readonly OutboxMessage[]): Promise<void> {
  if (messages.length === 0) return;
  // One statement whatever the count (the driver keeps one prepared statement for it).
  const rows = JSON.stringify(messages.map(({ topic, ...payload }) => ({ topic, payload })));
  await tx.kysely
    .insertInto('OutboxMessage')
    .columns(['topic', 'payload'])
    .expression(sql`SELECT x.topic, x.payload FROM jsonb_to_recordset(${rows}::jsonb) AS x(topic text, payload jsonb)`)
    .execute();
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
