// Idempotency-Key: replay, mismatch, in-flight conflict, expiry, length limit, what is not saved.
import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { expectStripeError, type Harness, startHarness } from './helpers';

let h: Harness;
let stripe: Stripe;
let n = 0;
const freshKey = () => `order-${Date.now()}-${++n}`;

beforeAll(async () => {
  h = await startHarness();
  stripe = h.stripe(0);
});
afterEach(async () => {
  await h.control('DELETE', '/faults');
  await h.control('POST', '/latency', { mean_ms: 0, jitter_ms: 0 });
  await h.control('POST', '/rate_limit', { per_second: 0 });
});
afterAll(() => h.close());

async function countPaymentIntents(): Promise<number> {
  const state = await h.control<{ counts: { payment_intents: number } }>('GET', '/state');
  return state.body.counts.payment_intents;
}

describe('replay', () => {
  test('the same key and parameters return the saved response with Idempotent-Replayed', async () => {
    const key = freshKey();
    const before = await countPaymentIntents();
    const first = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', metadata: { a: '1', b: '2' } }, { idempotencyKey: key });
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(first.lastResponse.idempotencyKey).toBe(key);
    const second = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', metadata: { b: '2', a: '1' } }, { idempotencyKey: key });
    expect(second.id).toBe(first.id);
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(second.lastResponse.requestId).not.toBe(first.lastResponse.requestId);
    expect(await countPaymentIntents()).toBe(before + 1);
    // A replay does not re-emit events.
    const events = await stripe.events.list({ type: 'payment_intent.created', limit: 100 });
    expect(events.data.filter((e) => (e.data.object as Stripe.PaymentIntent).id === first.id)).toHaveLength(1);
    expect(events.data.find((e) => (e.data.object as Stripe.PaymentIntent).id === first.id)?.request).toEqual({ id: first.lastResponse.requestId, idempotency_key: key });
  });

  test('a 402 decline is saved and replayed too: one charge only', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    const key = freshKey();
    const a = await expectStripeError(stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_chargeDeclined' }, { idempotencyKey: key }));
    const b = await expectStripeError(stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_chargeDeclined' }, { idempotencyKey: key }));
    expect(a.statusCode).toBe(402);
    expect(b).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(b.charge).toBe(a.charge);
    expect(b.headers?.['idempotent-replayed']).toBe('true');
    expect((await stripe.charges.list({ payment_intent: pi.id })).data).toHaveLength(1);
  });

  test('a 400 from an executed request (illegal transition) is saved', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const key = freshKey();
    const a = await expectStripeError(stripe.paymentIntents.cancel(pi.id, {}, { idempotencyKey: key }));
    expect(a.code).toBe('payment_intent_unexpected_state');
    const b = await expectStripeError(stripe.paymentIntents.cancel(pi.id, {}, { idempotencyKey: key }));
    expect(b.headers?.['idempotent-replayed']).toBe('true');
  });

  test('GET requests ignore the key', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    const res = await h.raw('GET', `/v1/payment_intents/${pi.id}`, { headers: { 'idempotency-key': 'same' } });
    const again = await h.raw('GET', `/v1/payment_intents/${pi.id}`, { headers: { 'idempotency-key': 'same' } });
    expect(res.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
  });
});

describe('mismatch and limits', () => {
  test('the same key with other parameters → 400 idempotency_error', async () => {
    const key = freshKey();
    await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key });
    const err = await expectStripeError(stripe.paymentIntents.create({ amount: 2000, currency: 'usd' }, { idempotencyKey: key }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(err.statusCode).toBe(400);
    expect(err.rawType).toBe('idempotency_error');
    expect(err.message).toMatch(/^Keys for idempotent requests can only be used with the same parameters they were first used with/);
  });

  test('the same key on another endpoint → 400 idempotency_error', async () => {
    const key = freshKey();
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key });
    const err = await expectStripeError(stripe.paymentIntents.cancel(pi.id, {}, { idempotencyKey: key }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(err.message).toContain('same endpoint');
  });

  test('keys are at most 255 characters', async () => {
    const ok = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: 'k'.repeat(255) });
    expect(ok.id).toMatch(/^pi_/);
    const err = await expectStripeError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: 'k'.repeat(256) }));
    expect(err.statusCode).toBe(400);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
  });

  test('keys expire after 24 hours of emulator time', async () => {
    const key = freshKey();
    const first = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key });
    await h.control('POST', '/clock/advance', { seconds: 23 * 3600 });
    const replay = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key });
    expect(replay.id).toBe(first.id);
    await h.control('POST', '/clock/advance', { seconds: 3600 + 1 });
    const fresh = await stripe.paymentIntents.create({ amount: 5000, currency: 'usd' }, { idempotencyKey: key });
    expect(fresh.id).not.toBe(first.id);
    expect(fresh.lastResponse.headers['idempotent-replayed']).toBeUndefined();
  });
});

describe('in flight', () => {
  test('a second request with a key still running → 409 idempotency_key_in_use', async () => {
    await h.control('POST', '/latency', { mean_ms: 300, jitter_ms: 0 });
    const key = freshKey();
    const [a, b] = await Promise.allSettled([
      stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key }),
      new Promise((r) => setTimeout(r, 50)).then(() => stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key })),
    ]);
    expect(a.status).toBe('fulfilled');
    expect(b.status).toBe('rejected');
    const err = (b as PromiseRejectedResult).reason as Stripe.errors.StripeError;
    expect(err).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(err.statusCode).toBe(409);
    expect(err.code).toBe('idempotency_key_in_use');
  });

  test('stripe-node retries the 409 and then gets the replay', async () => {
    await h.control('POST', '/latency', { mean_ms: 300, jitter_ms: 0 });
    const retrying = h.stripe(2);
    const key = freshKey();
    const [a, b] = await Promise.all([
      retrying.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key }),
      new Promise((r) => setTimeout(r, 50)).then(() => retrying.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key })),
    ]);
    expect(b.id).toBe(a.id);
    expect(b.lastResponse.headers['idempotent-replayed']).toBe('true');
  });
});

describe('not saved', () => {
  test('validation failures: the corrected retry with the same key runs', async () => {
    const key = freshKey();
    const bad = await expectStripeError(stripe.paymentIntents.create({ amount: 10, currency: 'usd' }, { idempotencyKey: key }));
    expect(bad.code).toBe('amount_too_small');
    const ok = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key });
    expect(ok.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    const unknown = freshKey();
    await expectStripeError(stripe.paymentIntents.confirm('pi_missing', {}, { idempotencyKey: unknown }));
    expect((await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: unknown })).id).toMatch(/^pi_/);
  });

  test('401s: a bad key never reserves the idempotency key', async () => {
    const key = freshKey();
    const res = await h.raw('POST', '/v1/payment_intents', { key: 'sk_test_wrong', body: 'amount=1000&currency=usd', headers: { 'idempotency-key': key } });
    expect(res.status).toBe(401);
    const ok = await stripe.paymentIntents.create({ amount: 7000, currency: 'usd' }, { idempotencyKey: key });
    expect(ok.lastResponse.headers['idempotent-replayed']).toBeUndefined();
  });

  test('429s from the rate limiter', async () => {
    await h.control('POST', '/rate_limit', { per_second: 1 });
    const key = freshKey();
    await stripe.paymentIntents.list();
    const limited = await expectStripeError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key }));
    expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    await h.control('POST', '/rate_limit', { per_second: 0 });
    const ok = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd' }, { idempotencyKey: key });
    expect(ok.amount).toBe(2000);
    expect(ok.lastResponse.headers['idempotent-replayed']).toBeUndefined();
  });

  test('409 conflicts do not replace the running request', async () => {
    await h.control('POST', '/latency', { mean_ms: 200, jitter_ms: 0 });
    const key = freshKey();
    const first = stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key });
    await new Promise((r) => setTimeout(r, 50));
    const conflict = await expectStripeError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key }));
    expect(conflict.statusCode).toBe(409);
    const created = await first;
    const replay = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key });
    expect(replay.id).toBe(created.id);
  });

  test('requests failed by a fault rule in front', async () => {
    await h.control('POST', '/faults', { method: 'POST', path: '/v1/payment_intents', status: 500, times: 1 });
    const key = freshKey();
    const failed = await expectStripeError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key }));
    expect(failed.statusCode).toBe(500);
    const ok = await stripe.paymentIntents.create({ amount: 3000, currency: 'usd' }, { idempotencyKey: key });
    expect(ok.amount).toBe(3000);
    expect(ok.lastResponse.headers['idempotent-replayed']).toBeUndefined();
  });

  test('keys are per API key: the publishable key has its own', async () => {
    const key = freshKey();
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: key });
    const browser = h.browser();
    const pm = await browser.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 12, exp_year: 2040 } }, { idempotencyKey: key });
    expect(pm.id).toMatch(/^pm_/);
    expect(pi.id).toMatch(/^pi_/);
  });
});
