// The dead-letter list an admin reads: events whose last retry failed. What goes on it (never
// an event already processed), what it shows (the error, capped; never the payload) and in
// which order (newest delivery first).
import { describe, expect, it } from 'vitest';
import { testDbKind } from '@/tests/helpers/db';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import type { Stripe } from '@/lib/stripe/client';
import { StripeEventJobData, listDeadStripeEvents, markStripeEventDead, recordStripeEvent } from './stripe-events';

const database = databaseForThisFile();

let seq = 0;
async function stored(status: 'received' | 'failed' | 'processed', over: { lastError?: string; receivedAt?: Date } = {}) {
  const id = `evt_dead_${++seq}`;
  const e = { id, object: 'event', type: 'charge.refunded', created: 1_700_000_000 + seq, data: { object: { id: `ch_dead_${seq}`, object: 'charge', payment_intent: `pi_dead_${seq}` } } } as unknown as Stripe.Event;
  await recordStripeEvent(database.prisma, e);
  await database.prisma.stripeEvent.update({ where: { id }, data: { status, attempts: 5, lastError: over.lastError ?? null, ...(over.receivedAt ? { receivedAt: over.receivedAt } : {}) } });
  return id;
}
const row = (id: string) => database.prisma.stripeEvent.findUniqueOrThrow({ where: { id } });

describe(`dead-letter list (${testDbKind})`, () => {
  it('marks a failed event dead with its last error, capped at 2000 characters; keeps the stored error when none is given', async () => {
    const a = await stored('failed', { lastError: 'Error: first try' });
    await markStripeEventDead(database.prisma, a, `Error: ${'y'.repeat(2500)}`);
    const dead = await row(a);
    expect(dead.status).toBe('dead');
    expect(dead.lastError).toHaveLength(2000);
    expect(dead.lastError!.startsWith('Error: yyy')).toBe(true);

    const b = await stored('received', { lastError: 'Error: socket hang up' });
    await markStripeEventDead(database.prisma, b);
    expect(await row(b)).toMatchObject({ status: 'dead', lastError: 'Error: socket hang up' });
    await markStripeEventDead(database.prisma, b, '');
    expect(await row(b)).toMatchObject({ status: 'dead', lastError: 'Error: socket hang up' });
  });

  it('never buries an event that was processed meanwhile (a late retry succeeded)', async () => {
    const id = await stored('processed');
    await markStripeEventDead(database.prisma, id, 'Error: too late');
    expect(await row(id)).toMatchObject({ status: 'processed', lastError: null });
    await markStripeEventDead(database.prisma, 'evt_dead_unknown', 'Error: nothing');
    expect(await database.prisma.stripeEvent.count({ where: { id: 'evt_dead_unknown' } })).toBe(0);
  });

  it('lists only dead events, newest delivery first, up to the limit, without their payloads', async () => {
    await database.prisma.stripeEvent.deleteMany({});
    const t = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);
    const old = await stored('failed', { lastError: 'Error: old', receivedAt: t(30) });
    const recent = await stored('failed', { lastError: 'Error: recent', receivedAt: t(1) });
    const middle = await stored('failed', { lastError: 'Error: middle', receivedAt: t(10) });
    const alive = await stored('failed', { lastError: 'Error: still retrying', receivedAt: t(5) });
    await stored('processed', { receivedAt: t(2) });
    for (const id of [old, recent, middle]) await markStripeEventDead(database.prisma, id);

    const list = await listDeadStripeEvents(database.prisma);
    expect(list.map((e) => e.id)).toEqual([recent, middle, old]);
    expect(list.map((e) => e.id)).not.toContain(alive);
    expect(list[0]).toEqual({ id: recent, type: 'charge.refunded', objectId: expect.stringMatching(/^ch_dead_/), attempts: 5, lastError: 'Error: recent', receivedAt: expect.any(Date), apiCreated: expect.any(Date) });
    expect(Object.keys(list[0]).sort()).toEqual(['apiCreated', 'attempts', 'id', 'lastError', 'objectId', 'receivedAt', 'type']);
    expect((await listDeadStripeEvents(database.prisma, 2)).map((e) => e.id)).toEqual([recent, middle]);
  });

  it('shows at most 100 by default', async () => {
    await database.prisma.stripeEvent.deleteMany({});
    await database.prisma.stripeEvent.createMany({
      data: Array.from({ length: 101 }, (_, i) => ({ id: `evt_dead_many_${i}`, type: 'refund.updated', apiCreated: new Date(), payload: {}, status: 'dead' as const, receivedAt: new Date(Date.now() - i * 1000) })),
    });
    const list = await listDeadStripeEvents(database.prisma);
    expect(list).toHaveLength(100);
    expect(list[0].id).toBe('evt_dead_many_0');
    expect(list.at(-1)!.id).toBe('evt_dead_many_99');
  });

  it('a stripe-event job names one Stripe event id, nothing else', () => {
    expect(StripeEventJobData.parse({ eventId: 'evt_1Abc_2' })).toEqual({ eventId: 'evt_1Abc_2' });
    for (const eventId of ['pi_123', 'evt_', 'xevt_1', 'evt_1 OR 1=1', 'evt_1\n']) {
      const r = StripeEventJobData.safeParse({ eventId });
      expect(r.success, eventId).toBe(false);
      expect(r.error?.issues[0].message).toBe('must be a Stripe event id');
    }
  });
});
