// The gateway against the Stripe emulator through the official SDK, with injected faults.
// A counting proxy sits between the SDK and the emulator so the tests see every request that
// actually left the gateway.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { startEmulator } from '@/emulator/src/server';
import { startCountingProxy, type CountingProxy } from '@/tests/helpers/counting-proxy';
import { createStripeClient } from './client';
import { StripeUnavailableError } from './errors';
import { StripeGateway, type CallRecord, type GatewayOptions } from './gateway';
import { createRateBudget } from './rate-budget';

let emulator: Awaited<ReturnType<typeof startEmulator>>;
let proxy: CountingProxy;
let direct: Stripe;
const gateways: StripeGateway[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
  proxy = await startCountingProxy(emulator.url);
  direct = createStripeClient({ secretKey: emulator.secretKey, apiBase: emulator.url });
});
afterAll(async () => {
  await proxy?.close();
  await emulator?.close();
});
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
  await control('DELETE', '/faults');
  await control('POST', '/latency', { mean_ms: 0, jitter_ms: 0 });
  await control('POST', '/rate_limit', { per_second: 0 });
  proxy.reset();
});

async function control(method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await fetch(`${emulator.url}/_emulator${path}`, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${emulator.secretKey}` }, body: body ? JSON.stringify(body) : undefined });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

function gateway(opts: GatewayOptions = {}): { gw: StripeGateway; calls: CallRecord[] } {
  const calls: CallRecord[] = [];
  const gw = new StripeGateway(createStripeClient({ secretKey: emulator.secretKey, apiBase: proxy.url }), {
    baseDelayMs: 20,
    maxDelayMs: 100,
    recordMetrics: false,
    budget: createRateBudget({ mode: 'test', secretKey: emulator.secretKey, perSecond: 1_000 }),
    onCall: (c) => calls.push(c),
    ...opts,
  });
  gateways.push(gw);
  return { gw, calls };
}

let keySeq = 0;
const newKey = () => `test-${process.pid}-${Date.now()}-${++keySeq}`;
const params = (tag: string): Stripe.PaymentIntentCreateParams => ({ amount: 1_000, currency: 'usd', automatic_payment_methods: { enabled: true }, metadata: { tag } });

async function intentsTagged(tag: string): Promise<Stripe.PaymentIntent[]> {
  const out: Stripe.PaymentIntent[] = [];
  for await (const pi of direct.paymentIntents.list({ limit: 100 })) if (pi.metadata.tag === tag) out.push(pi);
  return out;
}

async function until(cond: () => boolean, timeoutMs: number, stepMs = 25): Promise<number> {
  const started = performance.now();
  while (!cond()) {
    if (performance.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return performance.now() - started;
}

describe('StripeGateway retries', () => {
  it('retries a burst of 503s on creation into exactly one PaymentIntent', async () => {
    const { gw, calls } = gateway();
    await control('POST', '/faults', { method: 'POST', path: '/v1/payment_intents', status: 503, times: 2 });
    const tag = newKey();
    const pi = await gw.createPaymentIntent(params(tag), { idempotencyKey: tag });
    expect(calls.map((c) => c.outcome)).toEqual(['server_error', 'server_error', 'ok']);
    const found = await intentsTagged(tag);
    expect(found.map((p) => p.id)).toEqual([pi.id]);
  });

  it('lands on the same PaymentIntent when the first response was lost after Stripe created it', async () => {
    const { gw } = gateway();
    await control('POST', '/faults', { method: 'POST', path: '/v1/payment_intents', reset_connection: true, after: true, times: 1 });
    const tag = newKey();
    const pi = await gw.createPaymentIntent(params(tag), { idempotencyKey: tag });
    expect((await intentsTagged(tag)).map((p) => p.id)).toEqual([pi.id]);
  });

  it('does not retry when Stripe says Stripe-Should-Retry: false', async () => {
    const { gw, calls } = gateway();
    await control('POST', '/faults', { method: 'POST', path: '/v1/payment_intents', status: 503, should_retry: false, times: 1 });
    const tag = newKey();
    const err = await gw.createPaymentIntent(params(tag), { idempotencyKey: tag }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StripeUnavailableError);
    expect(calls).toHaveLength(1);
    expect(proxy.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('does not repeat a write without an idempotency key, and never retries a card or request error', async () => {
    const { gw, calls } = gateway();
    await control('POST', '/faults', { method: 'POST', path: '/v1/refunds', status: 503, times: 1 });
    await expect(gw.createRefund({ payment_intent: 'pi_missing' }, { idempotencyKey: '' })).rejects.toBeInstanceOf(StripeUnavailableError);
    expect(calls).toHaveLength(1);
    await expect(gw.retrievePaymentIntent('pi_does_not_exist')).rejects.toMatchObject({ type: 'StripeInvalidRequestError' });
    expect(calls.map((c) => c.outcome)).toEqual(['server_error', 'invalid']);
  });
});

describe('StripeGateway rate budget', () => {
  it('keeps a 429 storm within the budget, and every call ends with a PaymentIntent or "busy"', async () => {
    const perSecond = 10;
    // Stripe allows even less than our budget: a 429 storm.
    await control('POST', '/rate_limit', { per_second: 4 });
    const { gw, calls } = gateway({ budget: createRateBudget({ mode: 'test', secretKey: emulator.secretKey, perSecond }), budgetMaxWaitMs: 1_500, maxAttempts: 4 });
    const tag = newKey();
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        gw.createPaymentIntent(params(tag), { idempotencyKey: `${tag}-${i}` }).then(
          (pi) => ({ ok: true as const, id: pi.id }),
          (err: unknown) => ({ ok: false as const, err }),
        ),
      ),
    );
    const elapsedS = (performance.now() - started) / 1000;
    for (const r of results) if (!r.ok) expect(r.err).toBeInstanceOf(StripeUnavailableError);
    expect(calls.some((c) => c.outcome === 'rate_limited')).toBe(true);
    const ok = results.filter((r) => r.ok);
    expect(ok.length).toBeGreaterThan(0);
    expect(new Set(ok.map((r) => r.id)).size).toBe(ok.length);
    // Paced in ~200 ms windows: any second holds at most the budget plus one window's share.
    const sent = proxy.requests.filter((r) => r.method === 'POST');
    expect(proxy.maxInWindow(1_000)).toBeLessThanOrEqual(perSecond + 2);
    expect(sent.length).toBeLessThanOrEqual(Math.ceil(perSecond * elapsedS) + 2);
  });
});

describe('StripeGateway circuit breaker', () => {
  for (const fault of [{ status: 503 }, { reset_connection: true }] as const) {
    it(`opens within 5 s of an outage (${JSON.stringify(fault)}), fails fast while open, and closes by itself when Stripe returns`, async () => {
      const { gw } = gateway({ breaker: { consecutiveFailures: 5, halfOpenAfterMs: 300, halfOpenMaxMs: 600 } });
      const seed = await gw.createPaymentIntent(params('seed'), { idempotencyKey: newKey() });
      await control('POST', '/faults', { path: '/v1', ...fault });
      const outageStart = performance.now();
      // Shoppers keep arriving, one after another.
      while (gw.state().breaker === 'closed') {
        await gw.retrievePaymentIntent(seed.id).catch(() => {});
        expect(performance.now() - outageStart).toBeLessThan(5_000);
      }
      expect(performance.now() - outageStart).toBeLessThan(5_000);
      if (process.env.DEBUG_TIMINGS) console.log('opened after', Math.round(performance.now() - outageStart), 'ms');
      expect(gw.state().alert).toBe('critical');

      const before = proxy.requests.length;
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        const err = await gw.createPaymentIntent(params('during'), { idempotencyKey: newKey() }).catch((e: unknown) => e);
        expect(performance.now() - t).toBeLessThan(200);
        expect(err).toBeInstanceOf(StripeUnavailableError);
        expect((err as StripeUnavailableError).reason).toBe('circuit_open');
        expect((err as StripeUnavailableError).retryAfterMs).toBeGreaterThan(0);
      }
      // Failing fast means not calling Stripe (the probe may have gone out meanwhile).
      expect(proxy.requests.length - before).toBeLessThanOrEqual(1);

      await control('DELETE', '/faults');
      // No shopper traffic: the gateway's own probe half-opens and closes it.
      const closedAfter = await until(() => gw.state().breaker === 'closed', 10_000);
      if (process.env.DEBUG_TIMINGS) console.log('closed after', Math.round(closedAfter), 'ms');
      const pi = await gw.createPaymentIntent(params('after'), { idempotencyKey: newKey() });
      expect(pi.id).toMatch(/^pi_/);
    });
  }

  it('card errors and invalid requests never open the breaker', async () => {
    const { gw } = gateway({ breaker: { consecutiveFailures: 2 } });
    for (let i = 0; i < 6; i++) await gw.retrievePaymentIntent(`pi_missing_${i}`).catch(() => {});
    expect(gw.state().breaker).toBe('closed');
  });
});

describe('StripeGateway adaptive limit', () => {
  it('keeps (or raises) the concurrency limit through a latency spike: slow is not failing', async () => {
    const { gw } = gateway({ concurrency: { initial: 4, min: 2, max: 12, patienceMs: 5_000 }, timeoutMs: 5_000 });
    const seed = await direct.paymentIntents.create(params('latency'));
    let running = true;
    let refused = 0;
    const worker = async () => {
      while (running)
        await gw.retrievePaymentIntent(seed.id).catch((e: unknown) => {
          if (e instanceof StripeUnavailableError) refused++;
        });
    };
    await control('POST', '/latency', { mean_ms: 80, jitter_ms: 10 });
    const workers = Array.from({ length: 12 }, worker);
    await until(() => gw.state().limit >= 8, 8_000);
    const normal = gw.state().limit;

    await control('POST', '/latency', { mean_ms: 800, jitter_ms: 50 });
    await until(() => gw.state().latency.recentMs >= 500, 10_000);
    await new Promise((r) => setTimeout(r, 2_000));
    running = false;
    await Promise.all(workers);
    expect(gw.state().limit).toBeGreaterThanOrEqual(normal);
    expect(refused).toBe(0);
  });
});

describe('withoutRawResponse', () => {
  it("drops the SDK's lastResponse (the HTTP response) and keeps every field", async () => {
    const { withoutRawResponse } = await import('./gateway');
    const response = { requestId: 'req_1', socket: {} };
    const pi = { id: 'pi_1', object: 'payment_intent', amount: 500, latest_charge: { id: 'ch_1' } };
    Object.defineProperty(pi, 'lastResponse', { enumerable: false, writable: false, value: response });
    const kept = withoutRawResponse(pi);
    expect(kept).toEqual({ id: 'pi_1', object: 'payment_intent', amount: 500, latest_charge: { id: 'ch_1' } });
    expect('lastResponse' in kept).toBe(false);
    const plain = { id: 'x' };
    expect(withoutRawResponse(plain)).toBe(plain);
    expect(withoutRawResponse(null)).toBeNull();
  });
});
