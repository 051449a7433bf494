import { describe, expect, it } from 'vitest';
import { testDbKind } from '@/tests/helpers/db';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import { sqlDatabase } from '@/lib/db/sql';
import { deliverOutboxThrough, pendingOutbox, relayOutbox, writeOutbox, type OutboxMessage } from './outbox';

const database = databaseForThisFile();
const db = () => sqlDatabase(database.prisma);

async function drain(): Promise<OutboxMessage[]> {
  const all: OutboxMessage[] = [];
  while ((await relayOutbox(db(), async (_tx, m) => void all.push(...m))) > 0);
  return all;
}

/** An order transaction that writes a message and then fails. */
async function writeThenRollBack(): Promise<void> {
  await expect(
    db().transaction(async (tx) => {
      await writeOutbox(db(), tx, [{ topic: 'email.queued', emailId: 'rolled-back' }]);
      throw new Error('the order change failed');
    }),
  ).rejects.toThrow('the order change failed');
}

describe(`the order outbox (${testDbKind})`, () => {
  it('holds a message exactly when its transaction commits', async () => {
    await drain();
    await writeThenRollBack();
    expect(await pendingOutbox(db())).toEqual([]);
    await db().transaction((tx) =>
      writeOutbox(db(), tx, [
        { topic: 'email.queued', emailId: 'e1' },
        { topic: 'refund.reserved', refundId: 'r1' },
        { topic: 'attempt.superseded', orderId: 'o1', attemptNumber: 2 },
      ]),
    );
    expect(await pendingOutbox(db())).toEqual([
      { topic: 'email.queued', emailId: 'e1' },
      { topic: 'refund.reserved', refundId: 'r1' },
      { topic: 'attempt.superseded', orderId: 'o1', attemptNumber: 2 },
    ]);
    expect(await drain()).toHaveLength(3);
    expect(await pendingOutbox(db())).toEqual([]);
  });

  it('hands each message over once, oldest first, in batches, even to relays running side by side', async () => {
    await drain();
    const messages = Array.from({ length: 45 }, (_, i) => ({ topic: 'email.queued' as const, emailId: `e${i}` }));
    for (let i = 0; i < messages.length; i += 9) await db().transaction((tx) => writeOutbox(db(), tx, messages.slice(i, i + 9)));
    const seen: OutboxMessage[] = [];
    const relay = async () => {
      while ((await relayOutbox(db(), async (_tx, m) => void seen.push(...m), 10)) > 0);
    };
    await Promise.all([relay(), relay(), relay()]);
    expect(seen.map((m) => (m as { emailId: string }).emailId).sort()).toEqual(messages.map((m) => m.emailId).sort());
    expect(await pendingOutbox(db())).toEqual([]);
  });

  it('keeps the messages when delivery fails, and delivers what the delivery wrote in the same transaction', async () => {
    await drain();
    await db().transaction((tx) => writeOutbox(db(), tx, [{ topic: 'refund.reserved', refundId: 'r-keep' }]));
    await expect(
      relayOutbox(db(), async (tx) => {
        // Written through the relay's transaction, then the delivery fails: both are undone.
        await tx.insertInto('OutboxMessage').values({ topic: 'email.queued', payload: JSON.stringify({ emailId: 'written-by-delivery' }) }).execute();
        throw new Error('queue down');
      }),
    ).rejects.toThrow('queue down');
    expect(await pendingOutbox(db())).toEqual([{ topic: 'refund.reserved', refundId: 'r-keep' }]);
  });

  it('drops a row no version of the code could run, instead of failing on it forever', async () => {
    await drain();
    await db().kysely.insertInto('OutboxMessage').values({ topic: 'email.queued', payload: JSON.stringify({ notAnEmail: 1 }) }).execute();
    await db().transaction((tx) => writeOutbox(db(), tx, [{ topic: 'email.queued', emailId: 'ok' }]));
    expect(await drain()).toEqual([{ topic: 'email.queued', emailId: 'ok' }]);
    expect(await pendingOutbox(db())).toEqual([]);
  });

  it("with a job system attached, writes through its delivery in the caller's transaction, and wakes it only after commit", async () => {
    await drain();
    const woken: OutboxMessage[] = [];
    // A stand-in for lib/jobs' delivery (which inserts pg-boss jobs): it writes a row through the
    // transaction it is given, so whether that row survives shows whose transaction it was.
    const detach = deliverOutboxThrough(db(), {
      write: async (tx, messages) => {
        await tx.insertInto('OutboxMessage').values({ topic: 'email.queued', payload: JSON.stringify({ emailId: `delivered-${messages.length}` }) }).execute();
      },
      committed: (messages) => void woken.push(...messages),
    });
    try {
      await writeThenRollBack();
      expect(await pendingOutbox(db())).toEqual([]);
      const committed = await db().transaction((tx) => writeOutbox(db(), tx, [{ topic: 'refund.reserved', refundId: 'r1' }, { topic: 'email.queued', emailId: 'e1' }]));
      // The delivery wrote its own row (no OutboxMessage of the messages themselves), and has not been woken yet.
      expect(await pendingOutbox(db())).toEqual([{ topic: 'email.queued', emailId: 'delivered-2' }]);
      expect(woken).toEqual([]);
      committed();
      expect(woken).toEqual([{ topic: 'refund.reserved', refundId: 'r1' }, { topic: 'email.queued', emailId: 'e1' }]);
    } finally {
      detach();
    }
    await drain();
    // Detached: rows again.
    await db().transaction((tx) => writeOutbox(db(), tx, [{ topic: 'email.queued', emailId: 'e2' }]));
    expect(await pendingOutbox(db())).toEqual([{ topic: 'email.queued', emailId: 'e2' }]);
  });
});
