import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import type { Stripe } from '@/lib/stripe/client';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { StripeEventInbox } from './event-inbox';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database?.drop());

function eventOf(id: string, created = 1_790_000_000): { event: Stripe.Event; raw: string } {
  const raw = JSON.stringify({ id, object: 'event', created, type: 'payment_intent.succeeded', livemode: false, data: { object: { id: `pi_${id}`, object: 'payment_intent', amount: 4200, metadata: { order_id: 'x' } } } });
  return { event: JSON.parse(raw) as Stripe.Event, raw };
}

describe(`StripeEventInbox (${testDbKind})`, () => {
  it('stores concurrent events in few statements, each once, and enqueues each new one once', async () => {
    const enqueued: string[][] = [];
    const inbox = new StripeEventInbox({ prisma: () => database.prisma, enqueue: async (ids) => void enqueued.push(ids) });
    const tag = 'p';
    const event = (id: string) => eventOf(id.replace('evt_inbox_', `evt_inbox_${tag}`));
    const ids = Array.from({ length: 20 }, (_, i) => `evt_inbox_${tag}${i}`);
    // Two deliveries of evt_inbox_3 in the same burst, and one of an event stored before.
    await inbox.add(event('evt_inbox_old').event, event('evt_inbox_old').raw);
    const sent = [...ids.map((id) => eventOf(id)), event('evt_inbox_3'), event('evt_inbox_old')];
    const results = await Promise.all(sent.map((e) => inbox.add(e.event, e.raw)));
    expect(results.filter((r) => r.inserted)).toHaveLength(20);
    expect(results.at(-1)).toEqual({ inserted: false });
    await inbox.idle();
    expect(results.filter((r, i) => sent[i].event.id === `evt_inbox_${tag}3`).map((r) => r.inserted).sort()).toEqual([false, true]);
    const flat = enqueued.flat();
    expect(flat.sort()).toEqual([`evt_inbox_${tag}old`, ...ids].sort());
    // The first add ran alone; the burst shared statements.
    expect(enqueued.length).toBeLessThan(1 + sent.length);
    const row = await database.prisma.stripeEvent.findUniqueOrThrow({ where: { id: `evt_inbox_${tag}7` } });
    expect(row).toMatchObject({ type: 'payment_intent.succeeded', objectId: `pi_evt_inbox_${tag}7`, status: 'received', attempts: 0 });
    expect(row.apiCreated.toISOString()).toBe(new Date(1_790_000_000 * 1000).toISOString());
    expect(row.payload).toEqual(JSON.parse(sent[7].raw));
  });

  it('rejects every event of a batch the database refused, and stores none of them', async () => {
    const broken = { $queryRawUnsafe: () => Promise.reject(new Error('connection refused')) } as unknown as PrismaClient;
    const inbox = new StripeEventInbox({ prisma: () => broken, enqueue: async () => {} });
    const a = eventOf('evt_inbox_down_a');
    const b = eventOf('evt_inbox_down_b');
    const results = await Promise.allSettled([inbox.add(a.event, a.raw), inbox.add(b.event, b.raw)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await database.prisma.stripeEvent.count({ where: { id: { startsWith: 'evt_inbox_down' } } })).toBe(0);
  });

  it('answers once the row is committed, before the job is enqueued', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const enqueued: string[] = [];
    const inbox = new StripeEventInbox({ prisma: () => database.prisma, enqueue: async (ids) => { await gate; enqueued.push(...ids); } });
    const e = eventOf('evt_inbox_early_answer');
    expect(await inbox.add(e.event, e.raw)).toEqual({ inserted: true });
    expect(await database.prisma.stripeEvent.count({ where: { id: 'evt_inbox_early_answer' } })).toBe(1);
    expect(enqueued).toEqual([]);
    release();
    await inbox.idle();
    expect(enqueued).toEqual(['evt_inbox_early_answer']);
  });

  it('answers a stored event even when enqueuing fails (the sweep enqueues it)', async () => {
    const errors: unknown[] = [];
    const inbox = new StripeEventInbox({ prisma: () => database.prisma, enqueue: () => Promise.reject(new Error('queue down')), onEnqueueError: (e) => errors.push(e) });
    const e = eventOf('evt_inbox_noqueue');
    expect(await inbox.add(e.event, e.raw)).toEqual({ inserted: true });
    await inbox.idle();
    expect(errors).toHaveLength(1);
    expect(await database.prisma.stripeEvent.count({ where: { id: 'evt_inbox_noqueue', status: 'received' } })).toBe(1);
  });
});
