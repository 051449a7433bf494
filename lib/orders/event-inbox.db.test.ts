import { describe, expect, it } from 'vitest';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import type { Stripe } from '@/lib/stripe/client';
import { testDbKind } from '@/tests/helpers/db';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import { createOrderFixture, fakePaymentIntent } from '@/tests/helpers/payments';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { StripeEventInbox } from './event-inbox';

const database = databaseForThisFile();

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

  it('stores the events of a payment already applied as processed, with no job; everything else is queued', async () => {
    const prisma = database.prisma;
    // A paid order (checkout applied Stripe's answer, card included) with a second attempt's
    // PaymentIntent that also succeeded (a stray the worker must refund), and an unpaid order.
    const paid = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }], attempts: 2 });
    const [stray, paying] = paid.paymentIntentIds;
    const paidPi = fakePaymentIntent({ id: paying, orderId: paid.orderId, attempt: 2, amount: paid.total, status: 'succeeded' });
    await applyPaymentIntent(prisma, paidPi, { source: 'return_page' });
    await prisma.paymentAttempt.update({ where: { paymentIntentId: stray }, data: { status: 'succeeded' } });
    const open = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const [unpaid] = open.paymentIntentIds;
    const make = (id: string, type: string, object: Record<string, unknown>) => {
      const raw = JSON.stringify({ id, object: 'event', created: 1_790_000_000, type, livemode: false, data: { object } });
      return { event: JSON.parse(raw) as Stripe.Event, raw };
    };
    const pi = (id: string, status: string) => ({ id, object: 'payment_intent', status, metadata: {} });
    const charge = (piId: string) => ({ id: `ch_${piId}`, object: 'charge', payment_intent: piId });
    const events = {
      evt_settle_paid: make('evt_settle_paid', 'payment_intent.succeeded', pi(paying, 'succeeded')),
      evt_settle_paid_late: make('evt_settle_paid_late', 'payment_intent.processing', pi(paying, 'processing')),
      evt_settle_charge: make('evt_settle_charge', 'charge.succeeded', charge(paying)),
      evt_settle_stray: make('evt_settle_stray', 'payment_intent.succeeded', pi(stray, 'succeeded')),
      evt_settle_stray_charge: make('evt_settle_stray_charge', 'charge.succeeded', charge(stray)),
      evt_settle_unpaid: make('evt_settle_unpaid', 'payment_intent.succeeded', pi(unpaid, 'succeeded')),
      evt_settle_refund: make('evt_settle_refund', 'charge.refunded', charge(paying)),
      evt_settle_unknown: make('evt_settle_unknown', 'payment_intent.succeeded', pi('pi_settle_nobody', 'succeeded')),
    };
    const enqueued: string[] = [];
    const inbox = new StripeEventInbox({ prisma: () => prisma, enqueue: async (ids) => void enqueued.push(...ids) });
    const results = await Promise.all(Object.values(events).map((e) => inbox.add(e.event, e.raw)));
    await inbox.idle();
    expect(results.every((r) => r.inserted)).toBe(true);
    const queued = ['evt_settle_stray', 'evt_settle_stray_charge', 'evt_settle_unpaid', 'evt_settle_refund', 'evt_settle_unknown'];
    expect(enqueued.sort()).toEqual(queued.sort());
    const rows = await prisma.stripeEvent.findMany({ where: { id: { startsWith: 'evt_settle_' } }, orderBy: { id: 'asc' } });
    expect(Object.fromEntries(rows.map((r) => [r.id, [r.status, r.processedAt !== null]]))).toEqual(
      Object.fromEntries(Object.keys(events).map((id) => [id, queued.includes(id) ? ['received', false] : ['processed', true]])),
    );
  });

  it('enqueues a backlog in chunks of at most 250 jobs, each stored event exactly once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const calls: string[][] = [];
    const inbox = new StripeEventInbox({
      prisma: () => database.prisma,
      enqueueGatherMs: 1,
      enqueue: async (ids) => {
        calls.push(ids);
        if (calls.length === 1) await gate;
      },
    });
    // The first enqueue hangs (a stalled queue) while 600 more events are stored behind it.
    const first = eventOf('evt_chunk_first');
    await inbox.add(first.event, first.raw);
    const burst = Array.from({ length: 600 }, (_, i) => eventOf(`evt_chunk_${i}`));
    await Promise.all(burst.map((e) => inbox.add(e.event, e.raw)));
    release();
    await inbox.idle();
    expect(calls[0]).toEqual(['evt_chunk_first']);
    const rest = calls.slice(1);
    expect(rest.map((c) => c.length)).toEqual([250, 250, 100]);
    expect(rest.flat().sort()).toEqual(burst.map((e) => e.event.id).sort());
  });

  it('counts every payment event type, and a charge whose card is shown, as settled once its order is paid, even after a refund', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const [paying] = f.paymentIntentIds;
    await applyPaymentIntent(prisma, fakePaymentIntent({ id: paying, orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' }), { source: 'return_page' });
    await prisma.order.update({ where: { id: f.orderId }, data: { status: 'refunded' } });
    const types = [
      'payment_intent.created',
      'payment_intent.processing',
      'payment_intent.requires_action',
      'payment_intent.amount_capturable_updated',
      'payment_intent.succeeded',
      'payment_intent.payment_failed',
      'payment_intent.canceled',
    ];
    const make = (id: string, type: string, object: Record<string, unknown>) => {
      const raw = JSON.stringify({ id, object: 'event', created: 1_790_000_000, type, livemode: false, data: { object } });
      return { event: JSON.parse(raw) as Stripe.Event, raw };
    };
    const sent = [
      ...types.map((type, i) => make(`evt_settled_type_${i}`, type, { id: paying, object: 'payment_intent', status: 'succeeded' })),
      make('evt_settled_charge_failed', 'charge.failed', { id: `ch_${paying}`, object: 'charge', payment_intent: paying }),
      // Not about a payment's state: still processed by the worker.
      make('evt_settled_refund_updated', 'charge.refund.updated', { id: 're_x', object: 'refund', payment_intent: paying }),
      make('evt_settled_customer', 'customer.updated', { id: paying, object: 'customer' }),
    ];
    const enqueued: string[] = [];
    const inbox = new StripeEventInbox({ prisma: () => prisma, enqueue: async (ids) => void enqueued.push(...ids) });
    await Promise.all(sent.map((e) => inbox.add(e.event, e.raw)));
    await inbox.idle();
    expect(enqueued.sort()).toEqual(['evt_settled_customer', 'evt_settled_refund_updated']);
    const processed = await prisma.stripeEvent.findMany({ where: { id: { startsWith: 'evt_settled_' }, status: 'processed' }, select: { id: true } });
    expect(processed.map((r) => r.id).sort()).toEqual([...types.map((_, i) => `evt_settled_type_${i}`), 'evt_settled_charge_failed'].sort());
  });

  it('stores each payload as sent, whatever its text holds, with its created time as UTC', async () => {
    const inbox = new StripeEventInbox({ prisma: () => database.prisma, enqueue: async () => undefined });
    const odd = 'Zoë 🛒 “quoted” \\ back\'slash {"not":"json"} NULL , } 東京';
    const raws = [0, 1, 2].map((i) =>
      JSON.stringify({ id: `evt_inbox_odd${i}`, object: 'event', created: 1_790_000_123 + i, type: 'charge.succeeded', data: { object: { id: `ch_odd${i}`, description: odd, metadata: { note: `${odd}${i}`, empty: '' } } } }),
    );
    await Promise.all(raws.map((raw) => inbox.add(JSON.parse(raw) as Stripe.Event, raw)));
    const rows = await database.prisma.stripeEvent.findMany({ where: { id: { startsWith: 'evt_inbox_odd' } }, orderBy: { id: 'asc' } });
    expect(rows.map((r) => r.payload)).toEqual(raws.map((raw) => JSON.parse(raw)));
    expect(rows.map((r) => [r.objectId, r.apiCreated.toISOString()])).toEqual([0, 1, 2].map((i) => [`ch_odd${i}`, new Date((1_790_000_123 + i) * 1000).toISOString()]));
  });
});
