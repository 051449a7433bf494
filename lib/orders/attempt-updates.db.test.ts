// What a PaymentIntent that is not (yet) a payment does to its order (issue #16): which attempt
// fields it writes, when a decline is counted against the shopper, when stock held for the
// attempt goes back on sale, when the order moves — and the attempt row written from the
// PaymentIntent when checkout's own record of it was lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { createOrderFixture, fakePaymentIntent, type OrderFixture, type PiSpec } from '@/tests/helpers/payments';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import type { Stripe } from '@/lib/stripe/client';
import { idempotencyKeyFor } from './apply';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let prisma: PrismaClient;
beforeAll(async () => {
  database = await createTestDatabase();
  prisma = database.prisma;
});
afterAll(() => database?.drop());

const ctx = { source: 'webhook' as const };
const HOUR = 3_600_000;

function pi(f: OrderFixture, status: PiSpec['status'], extra: Partial<PiSpec> = {}): Stripe.PaymentIntent {
  return fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status, ...extra });
}

const attemptOf = (id: string) => prisma.paymentAttempt.findUniqueOrThrow({ where: { paymentIntentId: id } });
const orderOf = (f: OrderFixture) => prisma.order.findUniqueOrThrow({ where: { id: f.orderId } });
const eventsOf = (f: OrderFixture, kind?: string) => prisma.orderEvent.findMany({ where: { orderId: f.orderId, ...(kind ? { kind } : {}) }, orderBy: { createdAt: 'asc' } });
const declinesOf = async (key: string) => (await prisma.throttleCounter.findUnique({ where: { key } }))?.declines ?? 0;

async function holdsOf(f: OrderFixture) {
  return (await prisma.stockHold.findMany({ where: { orderId: f.orderId }, orderBy: { attemptNumber: 'asc' } })).map((h) => ({ attempt: h.attemptNumber, released: h.releasedAt !== null, taken: h.takenAt !== null }));
}

async function holdFor(f: OrderFixture, attemptNumber: number) {
  await prisma.stockHold.create({ data: { orderId: f.orderId, attemptNumber, productId: f.productIds[0], quantity: 1, expiresAt: new Date(Date.now() + HOUR) } });
}

const card = { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' };

describe(`a PaymentIntent's progress on its attempt and order (${testDbKind})`, () => {
  it('processing, then a decline: the attempt records the card and the failure, the decline is counted once, the held stock goes back', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const id = f.paymentIntentIds[0];
    await prisma.paymentAttempt.update({ where: { paymentIntentId: id }, data: { clientIp: '203.0.113.9' } });
    const cart = await prisma.cart.create({ data: {} });
    await prisma.order.update({ where: { id: f.orderId }, data: { cartId: cart.id } });
    await holdFor(f, 1);
    const order = await orderOf(f);

    expect(await applyPaymentIntent(prisma, pi(f, 'processing'), { source: 'webhook', stripeEventId: 'evt_proc' })).toEqual({ orderId: f.orderId, status: 'processing', changed: true });
    expect(await attemptOf(id)).toMatchObject({ status: 'processing', cardBrand: null, cardLast4: null, failureCode: null });
    expect(await holdsOf(f)).toEqual([{ attempt: 1, released: false, taken: false }]);
    expect((await eventsOf(f)).map(({ kind, fromStatus, toStatus, stripeEventId, detail }) => ({ kind, fromStatus, toStatus, stripeEventId, detail }))).toEqual([
      { kind: 'status_changed', fromStatus: 'pending', toStatus: 'processing', stripeEventId: 'evt_proc', detail: { paymentIntentId: id, attempt: 1, paymentIntentStatus: 'processing' } },
    ]);

    const declined = pi(f, 'requires_payment_method', { declined: card });
    expect(await applyPaymentIntent(prisma, declined, ctx)).toEqual({ orderId: f.orderId, status: 'pending', changed: true });
    expect(await attemptOf(id)).toMatchObject({
      status: 'requires_payment_method',
      cardBrand: 'visa',
      cardLast4: '0002',
      riskLevel: 'normal',
      riskScore: 12,
      failureCode: 'card_declined',
      declineCode: 'generic_decline',
      failureMessage: 'Your card was declined.',
    });
    expect(await holdsOf(f)).toEqual([{ attempt: 1, released: true, taken: false }]);
    const failed = await eventsOf(f, 'payment_failed');
    expect(failed.map((e) => e.detail)).toEqual([{ paymentIntentId: id, attempt: 1, code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' }]);
    expect(await declinesOf(`checkout:email:${order.email}`)).toBe(1);
    expect(await declinesOf('checkout:ip:203.0.113.9')).toBe(1);
    expect(await declinesOf(`checkout:cart:${cart.id}`)).toBe(1);
    const moved = (await eventsOf(f, 'status_changed')).at(-1);
    expect(moved).toMatchObject({ fromStatus: 'processing', toStatus: 'pending', detail: { paymentIntentId: id, attempt: 1, paymentIntentStatus: 'requires_payment_method' } });

    // The same decline again is the same decline: nothing new.
    const before = await attemptOf(id);
    expect(await applyPaymentIntent(prisma, declined, ctx)).toEqual({ orderId: f.orderId, status: 'pending', changed: false });
    expect(await attemptOf(id)).toEqual(before);
    expect(await eventsOf(f, 'payment_failed')).toHaveLength(1);
    expect(await declinesOf(`checkout:email:${order.email}`)).toBe(1);
  });

  it('a decline seen first without its charge, then with it, records the card and still counts once', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const id = f.paymentIntentIds[0];
    const order = await orderOf(f);
    const declined = pi(f, 'requires_payment_method', { declined: card });
    // The payment_intent.payment_failed payload names its charge only by id.
    const bare = { ...declined, latest_charge: (declined.latest_charge as { id: string }).id } as typeof declined;
    expect(await applyPaymentIntent(prisma, bare, ctx)).toMatchObject({ status: 'pending' });
    expect(await attemptOf(id)).toMatchObject({ status: 'requires_payment_method', cardLast4: null, failureCode: 'card_declined' });
    expect(await declinesOf(`checkout:email:${order.email}`)).toBe(1);
    // The charge's facts arrive (charge.failed in the inbox): the attempt gains the card, not another decline.
    await applyPaymentIntent(prisma, declined, ctx);
    expect(await attemptOf(id)).toMatchObject({ status: 'requires_payment_method', cardBrand: 'visa', cardLast4: '0002', failureCode: 'card_declined' });
    expect(await declinesOf(`checkout:email:${order.email}`)).toBe(1);
    expect(await eventsOf(f, 'payment_failed')).toHaveLength(1);
  });

  it('a second decline of the same attempt with another reason is a new decline; one without a decline code clears the old one', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const id = f.paymentIntentIds[0];
    const order = await orderOf(f);
    await applyPaymentIntent(prisma, pi(f, 'requires_payment_method', { declined: card }), ctx);
    // Same failure code, another decline code (another card tried on the same attempt).
    await applyPaymentIntent(prisma, pi(f, 'requires_payment_method', { declined: { ...card, decline_code: 'insufficient_funds' } }), ctx);
    // Another failure code, no decline code at all.
    await applyPaymentIntent(prisma, pi(f, 'requires_payment_method', { declined: { code: 'expired_card', message: 'Your card has expired.' } }), ctx);
    expect(await attemptOf(id)).toMatchObject({ status: 'requires_payment_method', failureCode: 'expired_card', declineCode: null, failureMessage: 'Your card has expired.' });
    expect((await eventsOf(f, 'payment_failed')).map((e) => e.detail)).toEqual([
      { paymentIntentId: id, attempt: 1, code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' },
      { paymentIntentId: id, attempt: 1, code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card was declined.' },
      { paymentIntentId: id, attempt: 1, code: 'expired_card', declineCode: null, message: 'Your card has expired.' },
    ]);
    expect(await declinesOf(`checkout:email:${order.email}`)).toBe(3);
  });

  it('a PaymentIntent waiting for a new card, with no error, keeps the last failure, counts no decline and keeps the stock held', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const id = f.paymentIntentIds[0];
    await holdFor(f, 1);
    await prisma.paymentAttempt.update({ where: { paymentIntentId: id }, data: { status: 'processing', failureCode: 'card_declined', declineCode: 'do_not_honor', failureMessage: 'earlier', cardBrand: 'mastercard', cardLast4: '4444' } });
    await applyPaymentIntent(prisma, pi(f, 'requires_payment_method'), ctx);
    expect(await attemptOf(id)).toMatchObject({ status: 'requires_payment_method', failureCode: 'card_declined', declineCode: 'do_not_honor', failureMessage: 'earlier', cardBrand: 'mastercard', cardLast4: '4444' });
    expect(await eventsOf(f, 'payment_failed')).toEqual([]);
    expect(await declinesOf(`checkout:email:${(await orderOf(f)).email}`)).toBe(0);
    expect(await holdsOf(f)).toEqual([{ attempt: 1, released: false, taken: false }]);
  });

  it('a canceled current attempt gives its stock back but leaves the order open; a stale snapshot never revives the attempt', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const id = f.paymentIntentIds[0];
    await holdFor(f, 1);
    expect(await applyPaymentIntent(prisma, pi(f, 'canceled'), ctx)).toEqual({ orderId: f.orderId, status: 'pending', changed: false });
    expect(await attemptOf(id)).toMatchObject({ status: 'canceled' });
    expect(await holdsOf(f)).toEqual([{ attempt: 1, released: true, taken: false }]);
    expect(await eventsOf(f)).toEqual([]);
    await applyPaymentIntent(prisma, pi(f, 'requires_action'), ctx);
    expect(await attemptOf(id)).toMatchObject({ status: 'canceled' });
  });

  it('an older attempt’s decline or cancel speaks for that attempt only: the current attempt’s hold and the order stay', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }], attempts: 2 });
    const [old] = f.paymentIntentIds;
    await holdFor(f, 1);
    await holdFor(f, 2);
    await prisma.order.update({ where: { id: f.orderId }, data: { status: 'processing' } });
    await applyPaymentIntent(prisma, pi(f, 'requires_payment_method', { declined: card }), ctx);
    expect(await attemptOf(old)).toMatchObject({ status: 'requires_payment_method', failureCode: 'card_declined' });
    expect(await eventsOf(f, 'payment_failed')).toHaveLength(1);
    await applyPaymentIntent(prisma, pi(f, 'canceled'), ctx);
    await applyPaymentIntent(prisma, pi(f, 'processing'), ctx);
    expect((await orderOf(f)).status).toBe('processing');
    expect(await eventsOf(f, 'status_changed')).toEqual([]);
    expect(await holdsOf(f)).toEqual([
      { attempt: 1, released: false, taken: false },
      { attempt: 2, released: false, taken: false },
    ]);
  });

  it('a superseded attempt is not current even when its number is the order’s', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    await holdFor(f, 1);
    await prisma.paymentAttempt.update({ where: { paymentIntentId: f.paymentIntentIds[0] }, data: { supersededAt: new Date() } });
    await applyPaymentIntent(prisma, pi(f, 'processing'), ctx);
    await applyPaymentIntent(prisma, pi(f, 'canceled'), ctx);
    expect((await orderOf(f)).status).toBe('pending');
    expect(await holdsOf(f)).toEqual([{ attempt: 1, released: false, taken: false }]);
  });

  it('without an attempt number, only the PaymentIntent the order points at (or any, before it points at one) speaks for the order', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const bare = (id: string, status: Stripe.PaymentIntent.Status) => ({ ...fakePaymentIntent({ id, orderId: f.orderId, attempt: 1, amount: f.total, status }), metadata: { order_id: f.orderId } }) as Stripe.PaymentIntent;
    await applyPaymentIntent(prisma, bare('pi_someone_elses', 'processing'), ctx);
    expect((await orderOf(f)).status).toBe('pending');
    await prisma.order.update({ where: { id: f.orderId }, data: { paymentIntentId: null } });
    await applyPaymentIntent(prisma, bare('pi_first_of_all', 'processing'), ctx);
    expect((await orderOf(f)).status).toBe('processing');
    // Canceled, it says nothing about which attempt's stock to give back: none is.
    await holdFor(f, 1);
    await applyPaymentIntent(prisma, bare('pi_first_of_all', 'canceled'), ctx);
    expect(await holdsOf(f)).toEqual([{ attempt: 1, released: false, taken: false }]);
    expect(await prisma.paymentAttempt.count({ where: { paymentIntentId: { in: ['pi_someone_elses', 'pi_first_of_all'] } } })).toBe(0);
  });
});

describe(`the current attempt's PaymentIntent that checkout never recorded (${testDbKind})`, () => {
  async function lostAttempt(attemptCount = 1) {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 2, price: 700 }, { stock: 5, quantity: 1, price: 300 }] });
    await prisma.paymentAttempt.deleteMany({ where: { orderId: f.orderId } });
    await prisma.order.update({ where: { id: f.orderId }, data: { attemptCount, paymentIntentId: null } });
    return f;
  }

  it('is written from the order and the PaymentIntent, then brought to its status', async () => {
    const f = await lostAttempt(1);
    const p = { ...pi(f, 'processing', { id: 'pi_lost_answer' }), client_secret: 'pi_lost_answer_secret_x' } as Stripe.PaymentIntent;
    expect(await applyPaymentIntent(prisma, p, ctx)).toEqual({ orderId: f.orderId, status: 'processing', changed: true });
    const order = await prisma.order.findUniqueOrThrow({ where: { id: f.orderId }, include: { items: { orderBy: { id: 'asc' } } } });
    const row = await attemptOf('pi_lost_answer');
    expect(row).toMatchObject({
      orderId: f.orderId,
      attemptNumber: 1,
      idempotencyKey: idempotencyKeyFor(f.orderId, 1),
      amount: f.total,
      currency: 'usd',
      status: 'processing',
      pricingHash: order.pricingHash,
      clientSecret: 'pi_lost_answer_secret_x',
      supersededAt: null,
    });
    expect(idempotencyKeyFor(f.orderId, 1)).toBe(`brisk:pi:${f.orderId}:1`);
    expect(row.lines).toEqual(order.items.map((i) => ({ productId: i.productId, name: i.name, unitPrice: i.unitPrice, quantity: i.quantity })));

    // Then it pays the order, with its card on the attempt.
    expect((await applyPaymentIntent(prisma, pi(f, 'succeeded', { id: 'pi_lost_answer' }), ctx)).status).toBe('paid');
    expect(await attemptOf('pi_lost_answer')).toMatchObject({ status: 'succeeded', cardBrand: 'visa', cardLast4: '4242' });
    expect(await prisma.paymentAttempt.count({ where: { orderId: f.orderId } })).toBe(1);
  });

  it('a declined one is counted once', async () => {
    const f = await lostAttempt(1);
    const declined = pi(f, 'requires_payment_method', { id: 'pi_lost_declined', declined: card });
    await applyPaymentIntent(prisma, declined, ctx);
    await applyPaymentIntent(prisma, declined, ctx);
    expect(await attemptOf('pi_lost_declined')).toMatchObject({ status: 'requires_payment_method', failureCode: 'card_declined', clientSecret: null });
    expect(await eventsOf(f, 'payment_failed')).toHaveLength(1);
  });

  it('is not adopted when its metadata names another attempt, or no valid attempt number', async () => {
    const f = await lostAttempt(2);
    const send = (id: string, attempt: string) => applyPaymentIntent(prisma, { ...pi(f, 'processing', { id }), metadata: { order_id: f.orderId, attempt } } as Stripe.PaymentIntent, ctx);
    // A valid attempt number that is not the current one: no row, and the order stays.
    await send('pi_meta_1', '1');
    await send('pi_meta_3', '3');
    expect((await orderOf(f)).status).toBe('pending');
    expect(await prisma.paymentAttempt.count({ where: { orderId: f.orderId } })).toBe(0);
    // No valid attempt number at all: not adopted, and (the order pointing at no PaymentIntent
    // yet) it speaks for the order as the only one there is.
    for (const attempt of ['0', '-2', '2.5', 'two']) {
      const g = await lostAttempt(2);
      await applyPaymentIntent(prisma, { ...pi(g, 'processing', { id: `pi_meta_${g.orderId}` }), metadata: { order_id: g.orderId, attempt } } as Stripe.PaymentIntent, ctx);
      expect([attempt, (await orderOf(g)).status, await prisma.paymentAttempt.count({ where: { orderId: g.orderId } })]).toEqual([attempt, 'processing', 0]);
    }
    const p2 = pi(f, 'processing', { id: 'pi_meta_2', attempt: 2 });
    expect((await applyPaymentIntent(prisma, p2, ctx)).status).toBe('processing');
    expect(await attemptOf('pi_meta_2')).toMatchObject({ attemptNumber: 2, idempotencyKey: idempotencyKeyFor(f.orderId, 2) });
  });
});
