// The gateway's shedding policy on a fake clock (issue #17 part 6): a slow but healthy Stripe
// makes shoppers wait (up to their patience), and the gateway says "busy" only when waiting
// cannot succeed — the line cannot drain within the patience, or Stripe is failing.
// Stripe is a stub whose answers take simulated time; nothing here measures real time.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import type Stripe from 'stripe';
import { StripeUnavailableError } from './errors';
import { StripeGateway, type GatewayOptions } from './gateway';

interface Shopper {
  at: number;
  ms: number;
  result: 'ok' | 'busy' | 'error';
  reason?: string;
}

/** A stub of the SDK: each request takes `latency(now)` ms, then succeeds or fails with `fault(now)`. */
function fakeStripe(latency: (t: number) => number, fault: (t: number) => number | null, log: { at: number; kind: string }[]): Stripe {
  const answer = (kind: string) =>
    new Promise((resolve, reject) => {
      const t = Date.now();
      log.push({ at: t, kind });
      const status = fault(t);
      setTimeout(() => {
        if (status) reject(Object.assign(new Error(`HTTP ${status}`), { type: 'StripeAPIError', statusCode: status }));
        else resolve({ id: `pi_${log.length}`, object: 'payment_intent' });
      }, latency(t));
    });
  return { paymentIntents: { create: () => answer('create'), list: () => answer('probe') } } as unknown as Stripe;
}

async function simulate(opts: {
  seconds: number;
  ratePerSecond: number;
  latency: (t: number) => number;
  fault?: (t: number) => number | null;
  gateway?: GatewayOptions;
}): Promise<{ shoppers: Shopper[]; requests: { at: number; kind: string }[]; gw: StripeGateway }> {
  const requests: { at: number; kind: string }[] = [];
  const gw = new StripeGateway(fakeStripe(opts.latency, opts.fault ?? (() => null), requests), {
    recordMetrics: false,
    budget: false,
    logger: pino({ level: 'silent' }),
    ...opts.gateway,
  });
  const shoppers: Shopper[] = [];
  const pending: Promise<void>[] = [];
  const gap = 1000 / opts.ratePerSecond;
  let n = 0;
  for (let t = 0; t < opts.seconds * 1000; t += gap) {
    const at = Date.now();
    const key = `k${++n}`;
    pending.push(
      gw.createPaymentIntent({ amount: 1_000, currency: 'usd' }, { idempotencyKey: key }).then(
        () => void shoppers.push({ at, ms: Date.now() - at, result: 'ok' }),
        (err: unknown) => void shoppers.push({ at, ms: Date.now() - at, result: err instanceof StripeUnavailableError ? 'busy' : 'error', reason: (err as StripeUnavailableError).reason }),
      ),
    );
    await vi.advanceTimersByTimeAsync(gap);
  }
  // Let everyone in line finish.
  for (let i = 0; i < 60 && shoppers.length < pending.length; i++) await vi.advanceTimersByTimeAsync(1_000);
  await Promise.all(pending);
  await gw.close();
  return { shoppers: shoppers.sort((a, b) => a.at - b.at), requests, gw };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'Date', 'performance'], now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('StripeGateway shedding (fake clock)', () => {
  it('makes shoppers wait through a pure 2 s latency spike instead of refusing them', async () => {
    // 10 s at 50 ms, then 30 s at 2 s, then 10 s at 50 ms; 8 checkouts a second throughout.
    const latency = (t: number) => (t >= 10_000 && t < 40_000 ? 2_000 : 50);
    const { shoppers } = await simulate({ seconds: 50, ratePerSecond: 8, latency });
    const spike = shoppers.filter((s) => s.at >= 10_000 && s.at < 40_000);
    expect(spike.length).toBeGreaterThan(200);
    expect(spike.filter((s) => s.result !== 'ok')).toEqual([]);
    // Each waited in line little beyond Stripe's own 2 s: the limit grew with the line (demand)
    // to what the spike needs (rate × latency = 16), rather than only after calls completed.
    expect(Math.max(...spike.map((s) => s.ms))).toBeLessThanOrEqual(2_000 + 500);
    expect(shoppers.filter((s) => s.result !== 'ok')).toEqual([]);
  });

  it('refuses up front, not at the end of their patience, when the line cannot drain', async () => {
    // Stripe answers in 2 s, but the limit may not pass 4 (2 checkouts/s) while 8/s arrive.
    const { shoppers } = await simulate({ seconds: 30, ratePerSecond: 8, latency: () => 2_000, gateway: { concurrency: { initial: 4, max: 4, patienceMs: 8_000 } } });
    const ok = shoppers.filter((s) => s.result === 'ok');
    const busy = shoppers.filter((s) => s.result === 'busy');
    expect(ok.length).toBeGreaterThanOrEqual(50); // served at the rate Stripe allows
    expect(busy.length).toBeGreaterThan(100);
    // Every shopper got an answer within their patience plus one call to Stripe…
    for (const s of shoppers) expect(s.ms).toBeLessThanOrEqual(8_000 + 2_000 + 100);
    // …and those turned away heard it at once rather than after waiting in vain.
    expect(busy.filter((s) => s.ms > 100).length).toBeLessThanOrEqual(busy.length * 0.05);
  });

  it('when Stripe fails, everyone in line hears "busy" at once and nothing more is sent but probes', async () => {
    // 1 s answers; from t = 5 s every call fails with a 503 after that second.
    const fault = (t: number) => (t >= 5_000 ? 503 : null);
    const { shoppers, requests } = await simulate({
      seconds: 20,
      ratePerSecond: 8,
      latency: () => 1_000,
      fault,
      gateway: { concurrency: { initial: 2, max: 2, patienceMs: 8_000 }, maxAttempts: 1, breaker: { consecutiveFailures: 3, halfOpenAfterMs: 5_000, halfOpenMaxMs: 5_000 } },
    });
    const firstFailure = requests.find((r) => r.at >= 5_000)!.at;
    const opened = firstFailure + 2_000; // three failures in a row, two at a time, 1 s each
    // After the breaker has opened, only probes go out.
    expect(requests.filter((r) => r.at > opened + 1_000 && r.kind === 'create')).toEqual([]);
    // Nobody who arrived during the outage waited out their patience in line.
    const during = shoppers.filter((s) => s.at >= 5_000);
    expect(during.every((s) => s.result === 'busy')).toBe(true);
    expect(Math.max(...during.map((s) => s.ms))).toBeLessThanOrEqual(3_000);
  });
});
