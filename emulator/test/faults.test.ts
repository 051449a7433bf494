// Fault rules, latency and the rate limiter, checked against what stripe-node then does.
import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { expectStripeError, type Harness, startHarness } from './helpers';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.control('DELETE', '/faults');
  await h.control('POST', '/latency', { mean_ms: 0, jitter_ms: 0 });
  await h.control('POST', '/rate_limit', { per_second: 0 });
});
afterAll(() => h.close());

/** An SDK client that counts the HTTP attempts it makes. */
function client(maxNetworkRetries: number, extra: Partial<Stripe.StripeConfig> = {}) {
  const stripe = h.stripe(maxNetworkRetries, extra);
  const attempts = { count: 0 };
  stripe.on('request', () => attempts.count++);
  return { stripe, attempts };
}

async function addFault(rule: Record<string, unknown>): Promise<{ id: string }> {
  const res = await h.control<{ id: string }>('POST', '/faults', rule);
  expect(res.status).toBe(200);
  expect(res.body.id).toMatch(/^flt_/);
  return res.body;
}

async function paymentIntentCount(): Promise<number> {
  return (await h.control<{ counts: { payment_intents: number } }>('GET', '/state')).body.counts.payment_intents;
}

async function faultList(): Promise<{ id: string; times: number | null; hits: number }[]> {
  return (await h.control<{ data: { id: string; times: number | null; hits: number }[] }>('GET', '/faults')).body.data;
}

describe('faults in front of the API', () => {
  test('a 500 is retried by stripe-node with the same key and the object is created once', async () => {
    await addFault({ method: 'POST', path: '/v1/payment_intents', status: 500, times: 1 });
    const before = await paymentIntentCount();
    const { stripe, attempts } = client(2);
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    expect(pi.status).toBe('requires_payment_method');
    expect(attempts.count).toBe(2);
    expect(await paymentIntentCount()).toBe(before + 1);
    expect(await faultList()).toEqual([]); // `times` used up
  });

  test('should_retry: false → Stripe-Should-Retry: false and stripe-node does not retry', async () => {
    await addFault({ method: 'POST', path: '/v1/payment_intents', status: 503, should_retry: false, times: 2 });
    const { stripe, attempts } = client(2);
    const err = await expectStripeError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(err.statusCode).toBe(503);
    expect(err.headers?.['stripe-should-retry']).toBe('false');
    expect(attempts.count).toBe(1);
    expect((await faultList())[0]).toMatchObject({ times: 1, hits: 1 });
  });

  test('should_retry: true makes even a 400 retried', async () => {
    await addFault({ path: '/v1/payment_intents', status: 400, code: 'lock_timeout', should_retry: true, times: 1 });
    const { stripe, attempts } = client(1);
    expect((await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' })).id).toMatch(/^pi_/);
    expect(attempts.count).toBe(2);
  });

  test('429 rate_limit → StripeRateLimitError, not retried', async () => {
    await addFault({ path: '/v1/payment_intents', status: 429, times: 3 });
    const { stripe, attempts } = client(2);
    const err = await expectStripeError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(err.code).toBe('rate_limit');
    expect(attempts.count).toBe(1);
  });

  test('402 card_declined fault → StripeCardError', async () => {
    await addFault({ path: '/v1/payment_intents', status: 402, code: 'card_declined', times: 1 });
    const err = await expectStripeError(client(2).stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
  });

  test('reset_connection once: stripe-node retries the dropped connection (even with retries off)', async () => {
    await addFault({ method: 'POST', path: '/v1/payment_intents', reset_connection: true, times: 1 });
    const before = await paymentIntentCount();
    const { stripe, attempts } = client(0);
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    expect(pi.id).toMatch(/^pi_/);
    expect(attempts.count).toBe(2);
    expect(await paymentIntentCount()).toBe(before + 1);
  });

  test('reset_connection every time → StripeConnectionError, nothing created', async () => {
    await addFault({ method: 'POST', path: '/v1/payment_intents', reset_connection: true });
    const before = await paymentIntentCount();
    const { stripe, attempts } = client(1);
    const err = await expectStripeError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(attempts.count).toBe(2);
    expect(await paymentIntentCount()).toBe(before);
  });

  test('delay_ms longer than the client timeout → timeout, retried, then through', async () => {
    await addFault({ method: 'POST', path: '/v1/payment_intents', delay_ms: 600, status: 503, times: 1 });
    const { stripe, attempts } = client(1, { timeout: 200 });
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    expect(pi.id).toMatch(/^pi_/);
    expect(attempts.count).toBe(2);
  });

  test('delay_ms alone only slows the request down', async () => {
    await addFault({ method: 'GET', path: '/v1/payment_intents', delay_ms: 250, times: 1 });
    const { stripe } = client(0);
    const started = performance.now();
    const list = await stripe.paymentIntents.list({ limit: 1 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
    expect(list.object).toBe('list');
  });

  test('times: two failures, then the third attempt goes through', async () => {
    await addFault({ path: '/v1/payment_intents', status: 500, times: 2 });
    const { stripe, attempts } = client(2);
    expect((await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' })).id).toMatch(/^pi_/);
    expect(attempts.count).toBe(3);
  });

  test('method and path patterns pick which calls fail', async () => {
    const pi = await client(0).stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    await addFault({ method: 'POST', path: '/v1/payment_intents/*/confirm', status: 500 });
    await addFault({ path: '/v1/charges$', status: 502 });
    const { stripe } = client(0);
    expect((await expectStripeError(stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' }))).statusCode).toBe(500);
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('requires_payment_method');
    expect((await stripe.paymentIntents.update(pi.id, { description: 'x' })).description).toBe('x');
    expect((await expectStripeError(stripe.charges.list())).statusCode).toBe(502);
    expect((await expectStripeError(stripe.charges.retrieve('ch_nope'))).statusCode).toBe(404); // not an exact match
  });

  test('probability: 0 never fires; 0.5 fires about half the time', async () => {
    await addFault({ path: '/v1/payment_intents', status: 500, probability: 0 });
    for (let i = 0; i < 20; i++) expect((await h.raw('GET', '/v1/payment_intents?limit=1')).status).toBe(200);
    await h.control('DELETE', '/faults');
    await addFault({ path: '/v1/payment_intents', status: 500, probability: 0.5 });
    let failed = 0;
    for (let i = 0; i < 200; i++) if ((await h.raw('GET', '/v1/payment_intents?limit=1')).status === 500) failed++;
    expect(failed).toBeGreaterThan(60);
    expect(failed).toBeLessThan(140);
    expect((await faultList())[0].hits).toBe(failed);
  });

  test('DELETE /_emulator/faults removes every rule; DELETE /faults/:id one', async () => {
    const a = await addFault({ path: '/v1/refunds', status: 500 });
    await addFault({ path: '/v1/charges', status: 500 });
    expect((await h.control('DELETE', `/faults/${a.id}`)).status).toBe(200);
    expect(await faultList()).toHaveLength(1);
    await h.control('DELETE', '/faults');
    expect(await faultList()).toHaveLength(0);
    expect((await client(0).stripe.charges.list()).object).toBe('list');
  });
});

describe('faults after the API ran (after: true)', () => {
  test('500 after: the object exists and the SDK retry gets the real result replayed', async () => {
    await addFault({ method: 'POST', path: '/v1/payment_intents', status: 500, after: true, times: 1 });
    const before = await paymentIntentCount();
    const { stripe, attempts } = client(2);
    const pi = await stripe.paymentIntents.create({ amount: 4200, currency: 'usd' });
    expect(attempts.count).toBe(2);
    expect(pi.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(pi.amount).toBe(4200);
    expect(await paymentIntentCount()).toBe(before + 1);
  });

  test('without retries the caller sees a failure although the payment went through', async () => {
    await addFault({ method: 'POST', path: '/v1/payment_intents', status: 502, after: true, times: 1 });
    const before = await paymentIntentCount();
    const { stripe } = client(0);
    const err = await expectStripeError(stripe.paymentIntents.create({ amount: 4300, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }, { idempotencyKey: 'after-no-retry' }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(await paymentIntentCount()).toBe(before + 1);
    // Reconciliation: the same key settles it.
    const settled = await stripe.paymentIntents.create({ amount: 4300, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }, { idempotencyKey: 'after-no-retry' });
    expect(settled.status).toBe('succeeded');
    expect(settled.lastResponse.headers['idempotent-replayed']).toBe('true');
  });

  test('reset_connection after: dropped response, retried, replayed', async () => {
    await addFault({ method: 'POST', path: '/v1/payment_intents', reset_connection: true, after: true, times: 1 });
    const before = await paymentIntentCount();
    const { stripe, attempts } = client(1);
    const pi = await stripe.paymentIntents.create({ amount: 4400, currency: 'usd' });
    expect(attempts.count).toBe(2);
    expect(pi.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(await paymentIntentCount()).toBe(before + 1);
  });
});

describe('latency and rate limit', () => {
  test('latency is added to every API call', async () => {
    const res = await h.control('POST', '/latency', { mean_ms: 200, jitter_ms: 20 });
    expect(res.body).toEqual({ mean_ms: 200, jitter_ms: 20 });
    const { stripe } = client(0);
    const started = performance.now();
    await stripe.paymentIntents.list({ limit: 1 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(175);
    await h.control('POST', '/latency', { mean_ms: 0, jitter_ms: 0 });
    const fast = performance.now();
    await stripe.paymentIntents.list({ limit: 1 });
    // Below the injected latency: none is added any more (generous for a loaded machine).
    expect(performance.now() - fast).toBeLessThan(175);
  });

  test('the rate limiter answers 429 rate_limit; stripe-node does not retry it', async () => {
    expect((await h.control('POST', '/rate_limit', { per_second: 5 })).body).toEqual({ per_second: 5 });
    const results = await Promise.all(Array.from({ length: 20 }, () => h.raw('GET', '/v1/payment_intents?limit=1')));
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(10);
    expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(5);
    expect(limited[0].json.error).toMatchObject({ type: 'invalid_request_error', code: 'rate_limit' });
    expect(limited[0].headers.get('request-id')).toMatch(/^req_/);
    const { stripe, attempts } = client(2);
    const err = await expectStripeError(stripe.paymentIntents.list());
    expect(err).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(attempts.count).toBe(1);
    await h.control('POST', '/rate_limit', { per_second: 0 });
    expect((await stripe.paymentIntents.list()).object).toBe('list');
  });
});

describe('reset', () => {
  test('forgets objects, events, idempotency keys and faults', async () => {
    const { stripe } = client(0);
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: 'reset-key' });
    await addFault({ path: '/v1/refunds', status: 500 });
    expect((await h.control('POST', '/reset')).status).toBe(200);
    const state = await h.control<{ counts: Record<string, number>; faults: unknown[] }>('GET', '/state');
    expect(state.body.counts).toMatchObject({ payment_intents: 0, events: 0, charges: 0, idempotency_keys: 0 });
    expect(state.body.faults).toEqual([]);
    expect((await expectStripeError(stripe.paymentIntents.retrieve(pi.id))).statusCode).toBe(404);
    const again = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd' }, { idempotencyKey: 'reset-key' });
    expect(again.id).not.toBe(pi.id);
    expect((await stripe.events.list()).data.map((e) => e.type)).toEqual(['payment_intent.created']);
  });
});
