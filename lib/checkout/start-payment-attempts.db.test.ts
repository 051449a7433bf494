// startPayment's attempts, against a real database and the Stripe emulator through the official
// SDK: which submit starts a new attempt and which lands on the current one, which PaymentIntent
// may charge, what happens to the attempt a new one replaces, the live attempt's PaymentIntent
// confirmed again (declined there, a used token, Stripe down), and what the shopper is told.
// Written from the mutants Stryker left alive in lib/checkout (bench/RESULTS.md, issue #16).
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { randomBytes } from 'node:crypto';
import { testDbKind } from '@/tests/helpers/db';
import { setUpTestShop, type TestShop } from '@/tests/helpers/shop';
import { addToCart, getCart, removeFromCart } from '@/lib/cart/cart';
import { StripeGateway } from '@/lib/stripe/gateway';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { outboxOfOrder } from '@/tests/helpers/outbox';
import { sqlDatabase } from '@/lib/db/sql';
import { relayOutbox, type OutboxMessage } from '@/lib/orders/outbox';
import { cancelSupersededAttempt } from '@/lib/orders/remedies';
import { recordDecline } from '@/lib/security/throttle';
import { SubmitRateLimiter } from '@/lib/security/submit-rate';
import { cardToken, fakePaymentIntent, finishThreeDSecure } from '@/tests/helpers/payments';
import { idempotencyKeyFor, startPayment, type StartPaymentResult } from './start-payment';

let database: TestShop['database'];
let emulator: TestShop['emulator'];
let stripe: Stripe;

const shop = setUpTestShop();
beforeAll(() => {
  ({ database, emulator, stripe } = shop);
});

// Each test gets a gateway of its own, so a test that makes Stripe fail never leaves the next
// one facing an open breaker.
let gateway: StripeGateway;
beforeEach(async () => {
  gateway = new StripeGateway(stripe, { baseDelayMs: 20, maxDelayMs: 50, recordMetrics: false });
  await faults('DELETE');
});
afterEach(async () => {
  await gateway.close();
});

async function faults(method: 'POST' | 'DELETE', body?: unknown): Promise<void> {
  const r = await fetch(`${emulator.url}/_emulator/faults`, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${emulator.secretKey}` }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) throw new Error(`emulator ${method} /faults: ${r.status} ${await r.text()}`);
}
/** Stripe answers again: faults off, and the gateway's breaker closed (it probes by itself). */
async function stripeBack(): Promise<void> {
  await faults('DELETE');
  const t = Date.now();
  while (gateway.unavailable()) {
    if (Date.now() - t > 10_000) throw new Error('breaker still open');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Products of their own, so no other test's carts or holds touch their stock. */
async function product(price = 2500, stock = 10) {
  const tag = randomBytes(4).toString('hex');
  return database.prisma.product.create({ data: { slug: `attempts-${tag}`, name: `Kettle ${tag}`, description: 'test', price, image: '/x.png', stock } });
}
async function cartOf(...lines: { productId: string; quantity?: number }[]): Promise<string> {
  let cartId: string | null = null;
  for (const l of lines) {
    const r = await addToCart(database.prisma, cartId, { productId: l.productId, quantity: l.quantity ?? 1 });
    if (!r.ok) throw new Error(r.error);
    cartId = r.cartId;
  }
  return cartId!;
}

const details = { name: 'Ada Lovelace', addressLine1: '12 Analytical Row', city: 'London', postalCode: 'N1 9GU', country: 'GB' };
const emailOf = (cartId: string) => `attempts-${cartId.slice(0, 8)}@example.com`;

/** The shopper of `cartId` presses Pay with a fresh token for `card` (or the given token). */
async function pay(cartId: string, card = 'pm_card_visa', extra: Record<string, unknown> = {}, deps: Record<string, unknown> = {}): Promise<StartPaymentResult> {
  const cart = await getCart(database.prisma, cartId);
  const confirmationToken = typeof extra.confirmationToken === 'string' ? extra.confirmationToken : await cardToken(stripe, card);
  return startPayment({ prisma: database.prisma, gateway, ...deps }, cartId, { ...details, email: emailOf(cartId), expectedAmount: cart.subtotal, ...extra, confirmationToken });
}
function expectKind<K extends StartPaymentResult['kind']>(r: StartPaymentResult, kind: K): Extract<StartPaymentResult, { kind: K }> {
  if (r.kind !== kind) throw new Error(`expected ${kind}, got ${JSON.stringify(r)}`);
  return r as Extract<StartPaymentResult, { kind: K }>;
}
const orderOf = (cartId: string) => database.prisma.order.findFirstOrThrow({ where: { cartId }, include: { attempts: { orderBy: { attemptNumber: 'asc' } }, items: true } });
async function intentsOf(orderId: string): Promise<Stripe.PaymentIntent[]> {
  return (await stripe.paymentIntents.list({ limit: 100 })).data.filter((pi) => pi.metadata.order_id === orderId);
}
/** What the webhook would do with the PaymentIntent as it is now at Stripe. */
async function webhook(paymentIntentId: string): Promise<void> {
  await applyPaymentIntent(database.prisma, await stripe.paymentIntents.retrieve(paymentIntentId, { expand: ['latest_charge'] }), { source: 'webhook' });
}
/** The superseded attempts whose cancel the cart's order left in the outbox (what the job system would enqueue). */
async function supersededOf(cartId: string): Promise<[string, number][]> {
  const order = await database.prisma.order.findFirst({ where: { cartId }, orderBy: { createdAt: 'desc' } });
  return order ? (await outboxOfOrder(database.prisma, order.id)).superseded : [];
}
/** Relays the whole outbox as the job system would, returning what it handed over. */
async function relayAll(): Promise<OutboxMessage[]> {
  const delivered: OutboxMessage[] = [];
  while ((await relayOutbox(sqlDatabase(database.prisma), async (_tx, messages) => void delivered.push(...messages))) > 0);
  return delivered;
}
const cartCounter = async (cartId: string) => (await database.prisma.throttleCounter.findUnique({ where: { key: `checkout:cart:${cartId}` } }))?.count ?? 0;

describe(`startPayment's attempts (${testDbKind})`, () => {
  it('a changed cart whose new attempt was never answered: the retry pays that new attempt at the new amount, never the old PaymentIntent', async () => {
    const [kettle, filter] = [await product(2500), await product(700)];
    const cartId = await cartOf({ productId: kettle.id });
    const first = expectKind(await pay(cartId, 'pm_card_authenticationRequired'), 'requires_action');
    expect(await supersededOf(cartId)).toEqual([]);
    await addToCart(database.prisma, cartId, { productId: filter.id, quantity: 1 });
    // Stripe fails the new attempt's creation before acting on it: the shopper is told to retry.
    await faults('POST', { path: '/v1/payment_intents$', method: 'POST', status: 503 });
    expect(await pay(cartId)).toEqual({ kind: 'busy', retryAfterSeconds: expect.any(Number), message: 'Payments are busy right now. Your cart is saved — please try again in a moment.' });
    const order = await orderOf(cartId);
    expect(order).toMatchObject({ attemptCount: 2, total: 3200, status: 'pending' });
    expect(order.attempts.map((a) => [a.attemptNumber, a.supersededAt !== null])).toEqual([[1, true]]);
    expect(await supersededOf(cartId)).toEqual([[order.id, 1]]);
    await stripeBack();
    // The retry is attempt 2 (its own PaymentIntent, for 32.00), not the old attempt's PaymentIntent for 25.00.
    const paid = expectKind(await pay(cartId), 'submitted');
    expect(paid).toMatchObject({ orderToken: first.orderToken, attempt: 2, amount: 3200, status: 'succeeded' });
    expect(paid.paymentIntentId).not.toBe(first.paymentIntentId);
    // Attempt 1 was superseded once, by the submit that started attempt 2; the retry supersedes nothing.
    expect(await supersededOf(cartId)).toEqual([[order.id, 1]]);
    const pis = await intentsOf(order.id);
    expect(pis.map((pi) => [pi.id, pi.amount, pi.status]).sort()).toEqual([[first.paymentIntentId, 2500, 'requires_action'], [paid.paymentIntentId, 3200, 'succeeded']].sort());
    expect(await database.prisma.order.findUniqueOrThrow({ where: { id: order.id } })).toMatchObject({ status: 'paid', amountPaid: 3200, paymentIntentId: paid.paymentIntentId });
  });

  it('a declined card, then a new attempt never answered: the retry lands on that second attempt (not a third), counted once against the cart', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    expectKind(await pay(cartId, 'pm_card_chargeDeclined'), 'declined');
    expect(await cartCounter(cartId)).toBe(1);
    await faults('POST', { path: '/v1/payment_intents$', method: 'POST', status: 503 });
    expectKind(await pay(cartId), 'busy');
    const order = await orderOf(cartId);
    expect(order.attemptCount).toBe(2);
    expect(await supersededOf(cartId)).toEqual([[order.id, 1]]);
    expect(await cartCounter(cartId)).toBe(2);
    await stripeBack();
    const paid = expectKind(await pay(cartId), 'submitted');
    expect(paid.attempt).toBe(2);
    const after = await orderOf(cartId);
    expect(after).toMatchObject({ status: 'paid', attemptCount: 2, paymentIntentId: paid.paymentIntentId });
    expect(after.attempts.map((a) => [a.attemptNumber, a.status, a.idempotencyKey])).toEqual([
      [1, 'requires_payment_method', idempotencyKeyFor(order.id, 1)],
      [2, 'succeeded', idempotencyKeyFor(order.id, 2)],
    ]);
    // The retry of attempt 2 was no new attempt: the card-testing counter did not move, and nothing was superseded again.
    expect(await cartCounter(cartId)).toBe(2);
    expect(await supersededOf(cartId)).toEqual([[order.id, 1]]);
    expect((await intentsOf(order.id)).map((pi) => pi.status).sort()).toEqual(['requires_payment_method', 'succeeded']);
  });

  it('the attempt a changed cart replaces is canceled at Stripe by the superseded-attempt job (through the outbox), so its stale tab can no longer pay', async () => {
    const [kettle, filter] = [await product(2500), await product(700)];
    const cartId = await cartOf({ productId: kettle.id });
    const first = expectKind(await pay(cartId, 'pm_card_authenticationRequired'), 'requires_action');
    expect(await supersededOf(cartId)).toEqual([]);
    await addToCart(database.prisma, cartId, { productId: filter.id, quantity: 2 });
    const second = expectKind(await pay(cartId, 'pm_card_authenticationRequired'), 'requires_action');
    expect(second).toMatchObject({ attempt: 2, amount: 3900 });
    // The job system's relay hands the cancel over once; the job cancels at Stripe.
    const orderId = (await orderOf(cartId)).id;
    const cancels = (await relayAll()).filter((m) => m.topic === 'attempt.superseded' && m.orderId === orderId);
    expect(cancels).toEqual([{ topic: 'attempt.superseded', orderId, attemptNumber: 1 }]);
    expect(await cancelSupersededAttempt(database.prisma, gateway, orderId, 1)).toBe('canceled');
    expect((await stripe.paymentIntents.retrieve(first.paymentIntentId)).status).toBe('canceled');
    expect((await stripe.paymentIntents.retrieve(second.paymentIntentId)).status).toBe('requires_action');
    const order = await orderOf(cartId);
    expect(order.attempts.map((a) => [a.attemptNumber, a.status, a.supersededAt !== null])).toEqual([[1, 'canceled', true], [2, 'requires_action', false]]);
    // Attempt 2 holds the new lines' stock; attempt 1's hold is released.
    const holds = await database.prisma.stockHold.findMany({ where: { orderId: order.id }, orderBy: [{ attemptNumber: 'asc' }, { quantity: 'asc' }] });
    expect(holds.map((h) => [h.attemptNumber, h.productId, h.quantity, h.releasedAt !== null])).toEqual([
      [1, kettle.id, 1, true],
      [2, kettle.id, 1, false],
      [2, filter.id, 2, false],
    ]);
  });

  it('a canceled current attempt (canceled at Stripe while the challenge was open) is over: the next Pay starts a new attempt that pays', async () => {
    const kettle = await product();
    const cartId = await cartOf({ productId: kettle.id, quantity: 2 });
    const first = expectKind(await pay(cartId, 'pm_card_authenticationRequired'), 'requires_action');
    await stripe.paymentIntents.cancel(first.paymentIntentId);
    await webhook(first.paymentIntentId);
    const canceled = await orderOf(cartId);
    expect(canceled).toMatchObject({ status: 'pending', attemptCount: 1 });
    expect(canceled.attempts[0].status).toBe('canceled');
    const paid = expectKind(await pay(cartId), 'submitted');
    expect(paid).toMatchObject({ orderToken: first.orderToken, attempt: 2, amount: 5000, status: 'succeeded' });
    expect(paid.paymentIntentId).not.toBe(first.paymentIntentId);
    expect(await database.prisma.order.findUniqueOrThrow({ where: { id: canceled.id } })).toMatchObject({ status: 'paid', amountPaid: 5000, paymentIntentId: paid.paymentIntentId });
    expect((await database.prisma.product.findUniqueOrThrow({ where: { id: kettle.id } })).stock).toBe(8);
  });

  it('a failed 3-D Secure challenge ends the attempt: the next card gets a new PaymentIntent, and the failed one is superseded', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    const first = expectKind(await pay(cartId, 'pm_card_authenticationRequired'), 'requires_action');
    await finishThreeDSecure(emulator.url, first, 'fail');
    await webhook(first.paymentIntentId);
    const failed = (await orderOf(cartId)).attempts[0];
    expect(failed).toMatchObject({ status: 'requires_payment_method', failureCode: 'payment_intent_authentication_failure', declineCode: null });
    const paid = expectKind(await pay(cartId), 'submitted');
    expect(paid.attempt).toBe(2);
    expect(paid.paymentIntentId).not.toBe(first.paymentIntentId);
    const order = await orderOf(cartId);
    expect(order.attempts.map((a) => [a.attemptNumber, a.paymentIntentId, a.supersededAt !== null])).toEqual([[1, first.paymentIntentId, true], [2, paid.paymentIntentId, false]]);
    expect((await stripe.paymentIntents.retrieve(first.paymentIntentId)).status).toBe('requires_payment_method');
  });

  it('a card declined on the live attempt\'s PaymentIntent is answered with the bank\'s reason, charges nothing and keeps the cart; the next card pays a new attempt', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    const first = expectKind(await pay(cartId, 'pm_card_authenticationRequired'), 'requires_action');
    // The shopper abandons the challenge and pays with another card, which the bank declines.
    expect(await pay(cartId, 'pm_card_chargeDeclinedInsufficientFunds')).toEqual({
      kind: 'declined', orderToken: first.orderToken, code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.',
    });
    const order = await orderOf(cartId);
    expect(order).toMatchObject({ status: 'pending', attemptCount: 1 });
    expect(order.attempts).toMatchObject([{ attemptNumber: 1, paymentIntentId: first.paymentIntentId, status: 'requires_payment_method', failureCode: 'card_declined', declineCode: 'insufficient_funds' }]);
    expect(await intentsOf(order.id)).toMatchObject([{ id: first.paymentIntentId, status: 'requires_payment_method', amount_received: 0 }]);
    expect((await getCart(database.prisma, cartId)).lines).toHaveLength(1);
    const paid = expectKind(await pay(cartId), 'submitted');
    expect(paid.attempt).toBe(2);
    expect(paid.paymentIntentId).not.toBe(first.paymentIntentId);
  });

  it('a used token sent while the challenge is still open answers with that challenge again, and nothing moves', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    const first = expectKind(await pay(cartId, 'pm_card_authenticationRequired'), 'requires_action');
    const used = await cardToken(stripe);
    await stripe.paymentIntents.create({ amount: 100, currency: 'usd', confirm: true, confirmation_token: used });
    expect(await pay(cartId, 'pm_card_visa', { confirmationToken: used })).toEqual({
      kind: 'requires_action', clientSecret: first.clientSecret, paymentIntentId: first.paymentIntentId, orderToken: first.orderToken, amount: first.amount, currency: 'usd', attempt: 1,
    });
    expect((await stripe.paymentIntents.retrieve(first.paymentIntentId)).status).toBe('requires_action');
    expect(await orderOf(cartId)).toMatchObject({ status: 'pending', attemptCount: 1, attempts: [{ status: 'requires_action' }] });
  });

  it('a Pay on a live attempt whose payment went through but was never applied (the process died) is told it is being processed, not charged again', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    const first = expectKind(await pay(cartId, 'pm_card_authenticationRequired'), 'requires_action');
    await finishThreeDSecure(emulator.url, first);
    // Our records took Stripe's answer for the attempt, but the order was never brought up to it.
    await database.prisma.paymentAttempt.updateMany({ where: { paymentIntentId: first.paymentIntentId }, data: { status: 'succeeded' } });
    expect(await pay(cartId)).toEqual({ kind: 'in_progress', orderToken: first.orderToken, message: 'Your payment is being processed.' });
    const pi = await stripe.paymentIntents.retrieve(first.paymentIntentId);
    expect([pi.status, pi.amount_received]).toEqual(['succeeded', 2500]);
    expect(await intentsOf((await orderOf(cartId)).id)).toHaveLength(1);
  });

  it('Stripe down while confirming the live attempt\'s PaymentIntent: "busy", nothing moved, and the retry with the same token pays that PaymentIntent', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    const first = expectKind(await pay(cartId, 'pm_card_authenticationRequired'), 'requires_action');
    // Three failures: the gateway's three tries, not enough to open its breaker.
    await faults('POST', { path: '/v1/payment_intents/*/confirm', method: 'POST', status: 503, times: 3 });
    const token = await cardToken(stripe);
    expect(await pay(cartId, 'pm_card_visa', { confirmationToken: token })).toEqual({
      kind: 'busy', retryAfterSeconds: 5, message: 'Payments are busy right now. Your cart is saved — please try again in a moment.',
    });
    expect(await orderOf(cartId)).toMatchObject({ status: 'pending', attemptCount: 1, attempts: [{ status: 'requires_action' }] });
    expect((await getCart(database.prisma, cartId)).lines).toHaveLength(1);
    await stripeBack();
    expect(await pay(cartId, 'pm_card_visa', { confirmationToken: token })).toMatchObject({ kind: 'submitted', attempt: 1, paymentIntentId: first.paymentIntentId, status: 'succeeded' });
  });

  it('another instance paying the same attempt with another token: this submit is told the payment is being processed, and only one PaymentIntent exists', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    await faults('POST', { path: '/v1/payment_intents$', method: 'POST', status: 503 });
    expectKind(await pay(cartId), 'busy');
    await stripeBack();
    const order = await orderOf(cartId);
    // The other instance's creation of attempt 1, under the attempt's key, with its own token.
    const other = await stripe.paymentIntents.create(
      { amount: 2500, currency: 'usd', confirm: true, confirmation_token: await cardToken(stripe, 'pm_card_authenticationRequired'), metadata: { order_id: order.id, attempt: '1' } },
      { idempotencyKey: idempotencyKeyFor(order.id, 1) },
    );
    expect(await pay(cartId)).toEqual({ kind: 'in_progress', orderToken: order.publicToken, message: 'Your payment is being processed.' });
    expect((await intentsOf(order.id)).map((pi) => pi.id)).toEqual([other.id]);
  });

  it('the answer to confirming the live attempt\'s PaymentIntent is lost: the retry with the same token is answered by Stripe\'s replay, charged once, the card on record', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    const first = expectKind(await pay(cartId, 'pm_card_authenticationRequired'), 'requires_action');
    const token = await cardToken(stripe);
    // Stripe takes the payment; every answer (the gateway's retries included) is lost on the way back.
    await faults('POST', { path: '/v1/payment_intents/*/confirm', method: 'POST', after: true, reset_connection: true, times: 5 });
    expectKind(await pay(cartId, 'x', { confirmationToken: token }), 'busy');
    expect((await stripe.paymentIntents.retrieve(first.paymentIntentId)).status).toBe('succeeded');
    await stripeBack();
    expect(await pay(cartId, 'x', { confirmationToken: token })).toMatchObject({ kind: 'submitted', attempt: 1, paymentIntentId: first.paymentIntentId, status: 'succeeded', amount: 2500 });
    const order = await orderOf(cartId);
    expect(order).toMatchObject({ status: 'paid', amountPaid: 2500, attempts: [{ attemptNumber: 1, status: 'succeeded', cardBrand: 'visa', cardLast4: '4242' }] });
    expect((await intentsOf(order.id)).map((pi) => pi.amount_received)).toEqual([2500]);
  });

  it('an order whose payment is processing (a webhook said so): Pay again is told it is being processed, and nothing goes to Stripe', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    const first = expectKind(await pay(cartId, 'pm_card_authenticationRequired'), 'requires_action');
    const order = await orderOf(cartId);
    await applyPaymentIntent(database.prisma, fakePaymentIntent({ id: first.paymentIntentId, orderId: order.id, attempt: 1, amount: 2500, status: 'processing' }), { source: 'webhook' });
    expect((await orderOf(cartId)).status).toBe('processing');
    expect(await pay(cartId)).toEqual({ kind: 'in_progress', orderToken: first.orderToken, message: 'Your payment is being processed.' });
    expect(await intentsOf(order.id)).toMatchObject([{ id: first.paymentIntentId, status: 'requires_action' }]);
    expect((await orderOf(cartId)).attemptCount).toBe(1);
  });

  it('after paying, the same cart with another item added is a new order for what it holds now, not "already paid"', async () => {
    const [kettle, filter] = [await product(2500), await product(700)];
    const cartId = await cartOf({ productId: kettle.id });
    const paid = expectKind(await pay(cartId), 'submitted');
    await addToCart(database.prisma, cartId, { productId: filter.id, quantity: 1 });
    const next = expectKind(await pay(cartId), 'submitted');
    expect(next.orderToken).not.toBe(paid.orderToken);
    expect(next).toMatchObject({ amount: 3200, attempt: 1 });
    expect(await database.prisma.order.findMany({ where: { cartId }, select: { total: true, status: true }, orderBy: { total: 'asc' } })).toEqual([{ total: 2500, status: 'paid' }, { total: 3200, status: 'paid' }]);
  });

  it('attempt 1\'s answer lost after Stripe acted, then the cart changed: the next Pay is attempt 2 at the new amount, not attempt 1\'s key with another amount', async () => {
    const [kettle, filter] = [await product(2500), await product(700)];
    const cartId = await cartOf({ productId: kettle.id });
    // Stripe creates attempt 1's PaymentIntent (a challenge nobody sees); every answer is lost.
    await faults('POST', { path: '/v1/payment_intents$', method: 'POST', after: true, reset_connection: true, times: 3 });
    expectKind(await pay(cartId, 'pm_card_authenticationRequired'), 'busy');
    await stripeBack();
    const order = await orderOf(cartId);
    expect(order).toMatchObject({ attemptCount: 1, attempts: [] });
    await addToCart(database.prisma, cartId, { productId: filter.id, quantity: 1 });
    const paid = expectKind(await pay(cartId), 'submitted');
    expect(paid).toMatchObject({ attempt: 2, amount: 3200, status: 'succeeded' });
    expect(await database.prisma.order.findUniqueOrThrow({ where: { id: order.id } })).toMatchObject({ status: 'paid', amountPaid: 3200, attemptCount: 2, paymentIntentId: paid.paymentIntentId });
    expect((await intentsOf(order.id)).map((pi) => [pi.metadata.attempt, pi.amount, pi.status]).sort()).toEqual([['1', 2500, 'requires_action'], ['2', 3200, 'succeeded']]);
  });

  it('Stripe refusing the shop\'s own request (a key problem) is an error, not remembered: once fixed, the same submit runs again and pays', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    const token = await cardToken(stripe);
    await faults('POST', { path: '/v1/payment_intents$', method: 'POST', status: 401, times: 1 });
    await expect(pay(cartId, 'x', { confirmationToken: token })).rejects.toMatchObject({ type: 'StripeAuthenticationError' });
    expect(await pay(cartId, 'x', { confirmationToken: token })).toMatchObject({ kind: 'submitted', attempt: 1, status: 'succeeded' });
  });

  it('a used or unknown token on a new attempt asks for the card again, with Stripe\'s code, and records no attempt', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    const used = await cardToken(stripe);
    await stripe.paymentIntents.create({ amount: 100, currency: 'usd', confirm: true, confirmation_token: used });
    const r = await pay(cartId, 'x', { confirmationToken: used });
    const order = await orderOf(cartId);
    expect(r).toEqual({ kind: 'declined', orderToken: order.publicToken, code: null, declineCode: null, message: 'Please enter your card details again.' });
    // A token Stripe does not know (forged, or from another account).
    expect(await pay(cartId, 'x', { confirmationToken: `ctoken_${randomBytes(12).toString('hex')}` })).toEqual({
      kind: 'declined', orderToken: order.publicToken, code: 'resource_missing', declineCode: null, message: 'Please enter your card details again.',
    });
    expect((await orderOf(cartId)).attempts).toEqual([]);
    expect(await intentsOf(order.id)).toEqual([]);
  });

  it('a declined submit sent again (a double POST) gets the same answer and starts no new attempt', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    const token = await cardToken(stripe, 'pm_card_chargeDeclined');
    const first = await pay(cartId, 'x', { confirmationToken: token });
    expect(first).toMatchObject({ kind: 'declined', code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' });
    expect(await pay(cartId, 'x', { confirmationToken: token })).toEqual(first);
    expect(await orderOf(cartId)).toMatchObject({ attemptCount: 1 });
  });
});

describe(`what the shopper is told (${testDbKind})`, () => {
  it('a total that changed since the page was shown: the new total, formatted, and nothing created', async () => {
    const kettle = await product(2500);
    const cartId = await cartOf({ productId: kettle.id });
    expect(await pay(cartId, 'pm_card_visa', { expectedAmount: 2000 })).toEqual({
      kind: 'amount_changed', amount: 2500, currency: 'usd', message: 'Your cart changed: the total is now $25.00. Press Pay again to continue.',
    });
    expect(await database.prisma.order.count({ where: { cartId } })).toBe(0);
  });

  it('an empty or unknown cart is "Your cart is empty", and nothing is created', async () => {
    const kettle = await product();
    const cartId = await cartOf({ productId: kettle.id });
    await removeFromCart(database.prisma, cartId, { productId: kettle.id });
    expect(await pay(cartId)).toEqual({ kind: 'cart_empty', message: 'Your cart is empty.' });
    // A cookie naming a cart that no longer exists (pruned).
    const gone = '00000000-0000-4000-8000-000000000000';
    expect(await startPayment({ prisma: database.prisma, gateway }, gone, { ...details, email: 'gone@example.com', expectedAmount: 0, confirmationToken: await cardToken(stripe) })).toEqual({ kind: 'cart_empty', message: 'Your cart is empty.' });
    expect(await database.prisma.order.count({ where: { cartId: { in: [cartId, gone] } } })).toBe(0);
  });

  it('the last units of a product pay; units held past a reduced shelf are "just sold out", never a negative count', async () => {
    const lamp = await product(2500, 3);
    expectKind(await pay(await cartOf({ productId: lamp.id, quantity: 2 }), 'pm_card_authenticationRequired'), 'requires_action');
    // The shelf is counted again and one was missing: 1 on the shelf, 2 held by the open payment.
    await database.prisma.product.update({ where: { id: lamp.id }, data: { stock: 1 } });
    const late = await cartOf({ productId: lamp.id, quantity: 1 });
    expect(await pay(late)).toEqual({ kind: 'out_of_stock', message: `${lamp.name} just sold out. Please remove it from your cart.` });
    // A cart for exactly what the shelf has (nothing held) pays.
    const last = await product(2500, 2);
    expect(await pay(await cartOf({ productId: last.id, quantity: 2 }))).toMatchObject({ kind: 'submitted', amount: 5000 });
    expect((await database.prisma.product.findUniqueOrThrow({ where: { id: last.id } })).stock).toBe(0);
  });

  it('a submit that is not a form at all is refused as a whole, with nothing created', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    expect(await startPayment({ prisma: database.prisma, gateway }, cartId, null)).toEqual({
      kind: 'invalid', fieldErrors: { form: 'Please check the form and try again.' }, message: 'Please check the highlighted fields.',
    });
    expect(await database.prisma.order.count({ where: { cartId } })).toBe(0);
  });

  it('pressing Pay again after paying: "already paid", nothing charged again', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    const paid = expectKind(await pay(cartId), 'submitted');
    // The page's cart still shows the lines (the order page empties it on its first view).
    expect(await pay(cartId)).toEqual({ kind: 'already_paid', orderToken: paid.orderToken, message: 'This cart has already been paid.' });
    expect(await intentsOf((await orderOf(cartId)).id)).toHaveLength(1);
  });

  it('too many submits in a short time: how many seconds to wait, before any work', async () => {
    const limiter = new SubmitRateLimiter({ cart: { max: 1, windowMs: 30_000 }, address: { max: 100, windowMs: 30_000 } });
    const cartId = await cartOf({ productId: (await product()).id });
    const token = await cardToken(stripe);
    // This cart's one submit of the window was 10.1 s ago: 19.9 s left, which the shopper is told as 20.
    limiter.take({ cartId, ip: '203.0.113.9' }, Date.now() - 10_100);
    expect(await pay(cartId, 'x', { confirmationToken: token }, { submitLimiter: limiter, clientIp: '203.0.113.9' })).toEqual({
      kind: 'throttled', retryAfterSeconds: 20, message: 'That was a lot of tries in a short time. Your cart is saved — please wait 20 s and press Pay again.',
    });
    expect(await database.prisma.order.count({ where: { cartId } })).toBe(0);
  });

  it('an address paused after declines elsewhere: a new cart is refused with how many minutes to wait, the live attempt is not confirmed again', async () => {
    const cartId = await cartOf({ productId: (await product()).id });
    const email = emailOf(cartId);
    const live = expectKind(await pay(cartId, 'pm_card_authenticationRequired'), 'requires_action');
    // Five declines of this email on other carts: the fourth starts a minute's pause, the fifth two.
    for (let i = 0; i < 5; i++) await recordDecline(database.prisma, { email });
    const again = expectKind(await pay(cartId), 'throttled');
    expect(again.retryAfterSeconds).toBeGreaterThan(90);
    expect(again.retryAfterSeconds).toBeLessThanOrEqual(120);
    expect(again.message).toBe('For your security, we have paused payments from this checkout after several unsuccessful attempts. Your cart is saved — please try again in 2 minutes, or contact us if you need help.');
    expect((await stripe.paymentIntents.retrieve(live.paymentIntentId)).status).toBe('requires_action');
    // A new cart of the same email: no order, no PaymentIntent.
    const other = await cartOf({ productId: (await product()).id });
    expect(await startPayment({ prisma: database.prisma, gateway }, other, { ...details, email, expectedAmount: 2500, confirmationToken: await cardToken(stripe) })).toMatchObject({ kind: 'throttled' });
    expect(await database.prisma.order.count({ where: { cartId: other } })).toBe(0);
  });
});

describe(`what is stored for an attempt (${testDbKind})`, () => {
  it('the shopper\'s details as last submitted, the client address, the PaymentIntent\'s reference and the stock held for the chosen time', async () => {
    const kettle = await product();
    const cartId = await cartOf({ productId: kettle.id, quantity: 3 });
    const t0 = Date.now();
    const first = expectKind(await pay(cartId, 'pm_card_authenticationRequired', { addressLine2: 'Flat 3' }, { clientIp: '198.51.100.7', holdMinutes: 2 }), 'requires_action');
    let order = await orderOf(cartId);
    expect(order).toMatchObject({ addressLine2: 'Flat 3', city: 'London' });
    expect(order.attempts[0]).toMatchObject({
      clientIp: '198.51.100.7', clientSecret: first.clientSecret, amount: 7500, currency: 'usd', pricingHash: order.pricingHash, idempotencyKey: idempotencyKeyFor(order.id, 1),
      lines: [{ productId: kettle.id, name: kettle.name, unitPrice: 2500, quantity: 3 }],
    });
    let [hold] = await database.prisma.stockHold.findMany({ where: { orderId: order.id, releasedAt: null } });
    expect(hold).toMatchObject({ productId: kettle.id, quantity: 3, attemptNumber: 1 });
    expect(hold.expiresAt.getTime()).toBeGreaterThanOrEqual(t0 + 2 * 60_000);
    expect(hold.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 2 * 60_000);
    const pi = await stripe.paymentIntents.retrieve(first.paymentIntentId);
    expect(pi).toMatchObject({ description: `Brisk order ${order.id.slice(0, 8)}`, automatic_payment_methods: { enabled: true }, metadata: { order_id: order.id, attempt: '1' } });

    // Pay again on the same attempt, moved house meanwhile: the order takes the new address; the hold runs 15 minutes from now.
    const t1 = Date.now();
    expectKind(await pay(cartId, 'pm_card_authenticationRequired', { addressLine2: 'Flat 9', city: 'Leeds' }), 'requires_action');
    order = await orderOf(cartId);
    expect(order).toMatchObject({ addressLine2: 'Flat 9', city: 'Leeds', attemptCount: 1 });
    [hold] = await database.prisma.stockHold.findMany({ where: { orderId: order.id, releasedAt: null } });
    expect(hold.expiresAt.getTime()).toBeGreaterThanOrEqual(t1 + 15 * 60_000);
    expect(hold.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 15 * 60_000);

    // Declined on that attempt, then the next card on a new attempt, each with a new address: the last one is kept.
    expectKind(await pay(cartId, 'pm_card_chargeDeclined', { addressLine2: 'Flat 1', city: 'York' }), 'declined');
    expectKind(await pay(cartId, 'pm_card_visa', { addressLine2: 'Flat 2', city: 'Bath' }), 'submitted');
    expect(await orderOf(cartId)).toMatchObject({ addressLine2: 'Flat 2', city: 'Bath', status: 'paid' });
  });
});
