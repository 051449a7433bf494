// The time Brisk itself adds to a checkout, apart from Stripe: shoppers run the server-side
// flow (add to cart → startPayment → [browser confirms with Stripe] → order page converges)
// against the emulator at 0 ms and 50 ms of injected latency, on PGlite and, when
// BENCH_DATABASE_URL (or TEST_DATABASE_URL) is set or in a full run, on PostgreSQL.
//
// Load: shoppers arrive at a steady rate (open loop, as real traffic does: a busy server does
// not slow the arrival of the next shopper), many in flight at once, at 10, 20 and 40
// checkouts/s. Each shopper's time counts from its scheduled arrival, so waiting for a busy
// event loop or database is app time. A last row per setting runs 20 shoppers back to back
// with no pause (closed loop): that saturates the process, so its figure is the throughput
// ceiling and its latency is queueing behind the other 19.
// App time = wall time of our server steps − time inside Stripe calls (measured per attempt by
// the gateway; waiting in the gateway's own queue counts as app time). The emulator runs in its
// own process, as Stripe does.
//   npx tsx bench/checkout.bench.ts [--quick]
import { AsyncLocalStorage } from 'node:async_hooks';
import { join } from 'node:path';
import { addToCart } from '../lib/cart/cart';
import { loadOrderForShopper } from '../lib/checkout/order-view';
import { startPayment } from '../lib/checkout/start-payment';
import { seedCatalog } from '../lib/db/seed';
import { createStripeClient } from '../lib/stripe/client';
import { StripeGateway } from '../lib/stripe/gateway';
import { createTestDatabase } from '../tests/helpers/db';
import { cleanupAll, freePort, runDir, startEmulatorProcess } from './lib/app-process';
import { describeProbes, probeMachine } from './lib/probe';
import { exitForGoals, isQuick, missedGoals, percentile, recordResults, type Row } from './lib/results';

process.env.LOG_LEVEL ??= 'silent';
const RATES = isQuick ? [20] : [10, 20, 40];
const SECONDS_PER_RATE = isQuick ? 4 : 15;
const SATURATED_SHOPPERS = isQuick ? 60 : 300;
const SATURATED_CONCURRENCY = 20;
const WARMUP = 30;
const GOAL = { p50: 10, p99: 25, stripeCallsPerCheckout: 1.1 };
const callsPerCheckout = (ok: Sample[]) => (ok.length ? ok.reduce((sum, x) => sum + x.stripeCalls, 0) / ok.length : 0);
const SECRET = 'sk_test_brisk_bench_checkout';
const details = { name: 'Bench Shopper', addressLine1: '1 Load St', city: 'Testville', postalCode: '94107', country: 'US' };
const dir = runDir('checkout-bench');
let shopperSeq = 0;

interface Sample {
  appMs: number;
  totalMs: number;
  /** Requests our server sent Stripe for this paid checkout (submit and order page). */
  stripeCalls: number;
}

async function runSetting(kind: 'pglite' | 'postgres', latencyMs: number): Promise<Row[]> {
  // PostgreSQL: a pool of 5 connections, about twice the cores of the machine the database runs
  // on here (PostgreSQL's usual sizing advice). A run with the server default of 10 had p99
  // 57–75 ms at 0 ms latency where the run before it, with 5, had 13–22 ms: the extra backends
  // contend for the same 2 cores as this process and the emulator.
  const database = await createTestDatabase(kind, { poolMax: 5 });
  await seedCatalog(database.prisma);
  await database.prisma.product.updateMany({ data: { stock: 1_000_000 } });
  const products = await database.prisma.product.findMany();
  const emulator = await startEmulatorProcess({ label: `emulator-${kind}-${latencyMs}`, logFile: join(dir, 'emulator.log'), port: await freePort(), secretKey: SECRET });
  const stripe = createStripeClient({ secretKey: SECRET, apiBase: emulator.url });
  const stripeTime = new AsyncLocalStorage<{ ms: number; calls: number }>();
  // No rate budget: this measures our own overhead, not Stripe's test-mode pacing.
  const gateway = new StripeGateway(stripe, { budget: false, recordMetrics: false, onCall: (r) => { const s = stripeTime.getStore(); if (s) { s.ms += r.durationMs; s.calls++; } } });
  const setLatency = async (mean: number) => {
    const r = await fetch(`${emulator.url}/_emulator/latency`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` }, body: JSON.stringify({ mean_ms: mean, jitter_ms: 0 }) });
    if (!r.ok) throw new Error(`emulator /latency: ${r.status} ${await r.text()}`);
  };

  const failureKinds: Record<string, number> = {};
  /** One shopper; `arrivedAt` is when its first request reached us (scheduled, not started). */
  async function shopper(arrivedAt: number): Promise<Sample | null> {
    const i = shopperSeq++;
    const product = products[i % products.length];
    const acc = { ms: 0, calls: 0 };
    // The browser's step before Pay (Stripe.js makes a ConfirmationToken of the card): not ours.
    const confirmationToken = (await stripe.testHelpers.confirmationTokens.create({ payment_method: 'pm_card_visa' })).id;
    const tokenMs = performance.now() - arrivedAt;
    return stripeTime.run(acc, async () => {
      const added = await addToCart(database.prisma, null, { productId: product.id, quantity: 1 });
      if (!added.ok) throw new Error(added.error);
      // One email and one address per shopper, as in real traffic: a shared email would trip the
      // card-testing limit, and a shared address makes every risk check count the whole run.
      const started = await startPayment({ prisma: database.prisma, gateway }, added.cartId, { ...details, email: `bench+${i}@example.com`, addressLine1: `${i} Load St`, expectedAmount: product.price, confirmationToken });
      let wall = performance.now() - arrivedAt - Math.max(0, tokenMs);
      if (started.kind !== 'submitted') {
        failureKinds[started.kind] = (failureKinds[started.kind] ?? 0) + 1;
        return null;
      }
      // The order page the browser lands on: our records already say Paid.
      const t = performance.now();
      const view = await loadOrderForShopper(database.prisma, gateway, started.orderToken);
      wall += performance.now() - t;
      if (view?.order.status !== 'paid') {
        failureKinds.not_paid = (failureKinds.not_paid ?? 0) + 1;
        return null;
      }
      return { appMs: wall - acc.ms, totalMs: wall, stripeCalls: acc.calls };
    });
  }

  function row(load: string, samples: (Sample | null)[], seconds: number, judged: boolean): Row {
    const ok = samples.filter((s): s is Sample => s !== null);
    const app = ok.map((s) => s.appMs).sort((a, b) => a - b);
    const total = ok.map((s) => s.totalMs).sort((a, b) => a - b);
    const failures = samples.length - ok.length;
    const p50 = percentile(app, 50);
    const p99 = percentile(app, 99);
    return {
      database: kind,
      'injected latency': `${latencyMs} ms`,
      load,
      shoppers: samples.length,
      'checkouts/s': (samples.length / seconds).toFixed(1),
      'app p50 (ms)': p50.toFixed(1),
      'app p99 (ms)': p99.toFixed(1),
      'total p50 (ms)': percentile(total, 50).toFixed(1),
      'total p99 (ms)': percentile(total, 99).toFixed(1),
      failures: failures ? `${failures} ${JSON.stringify(failureKinds)}` : 0,
      // What bounds checkouts/s under Stripe's per-account rate limit (goal ≤ 1.1; 1 expected).
      'Stripe requests / paid checkout': ok.length ? (ok.reduce((sum, x) => sum + x.stripeCalls, 0) / ok.length).toFixed(2) : '—',
      [`goal p50 ≤ ${GOAL.p50}, p99 ≤ ${GOAL.p99}`]: judged ? (p50 <= GOAL.p50 && p99 <= GOAL.p99 && failures === 0 && callsPerCheckout(ok) <= GOAL.stripeCallsPerCheckout ? 'met' : 'NOT met') : '— (ceiling)',
    };
  }

  const rows: Row[] = [];
  try {
    // Warm-up (JIT, query plans, connections, the gateway's latency baseline) at the latency
    // being measured, not measured itself.
    await setLatency(latencyMs);
    for (let i = 0; i < WARMUP; i++) await shopper(performance.now());
    // …and with shoppers side by side, so the database pool has opened (and prepared its
    // statements on) the connections the measured rates use, as in a server that has run a while.
    for (let round = 0; round < 3; round++) await Promise.all(Array.from({ length: 10 }, () => shopper(performance.now())));

    for (const rate of RATES) {
      const n = rate * SECONDS_PER_RATE;
      const t0 = performance.now() + 50;
      const runs: Promise<Sample | null>[] = [];
      for (let i = 0; i < n; i++) {
        const due = t0 + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        runs.push(shopper(due));
      }
      const samples = await Promise.all(runs);
      const r = row(`${rate}/s arriving`, samples, (performance.now() - t0) / 1000, true);
      console.log(JSON.stringify(r));
      rows.push(r);
    }

    const samples: (Sample | null)[] = [];
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: SATURATED_CONCURRENCY }, async () => {
        while (next++ < SATURATED_SHOPPERS) samples.push(await shopper(performance.now()));
      }),
    );
    const r = row(`saturated: ${SATURATED_CONCURRENCY} back to back`, samples, (performance.now() - t0) / 1000, false);
    console.log(JSON.stringify(r));
    rows.push(r);
  } finally {
    await emulator.stop(2000);
    await database.drop();
  }
  return rows;
}

const pgUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || (isQuick ? '' : 'postgresql://postgres@127.0.0.1:5432/test');
const rows: Row[] = [];
const probeBefore = probeMachine();
try {
  for (const kind of pgUrl ? (['pglite', 'postgres'] as const) : (['pglite'] as const)) {
    if (kind === 'postgres') process.env.TEST_DATABASE_URL = pgUrl;
    for (const latency of [0, 50]) rows.push(...(await runSetting(kind, latency)));
  }
} finally {
  await cleanupAll();
}
const probeAfter = probeMachine();
recordResults({
  name: 'checkout',
  title: 'Checkout: time the app adds to a checkout (server side, excluding Stripe)',
  command: `npx tsx bench/checkout.bench.ts${isQuick ? ' --quick' : ''}`,
  rows,
  notes: [
    'Per shopper: add to cart, startPayment (prices the cart, creates the order, creates and confirms the PaymentIntent with the shopper\'s ConfirmationToken in one Stripe call and applies the answer: stock, ledger, email, fulfillment, risk score), then the order page (already Paid from our records). The browser-side ConfirmationToken is excluded. "Stripe requests / paid checkout" counts the gateway\'s requests per shopper (goal ≤ 1.1).',
    `Load: shoppers arrive at a steady rate (open loop), ${SECONDS_PER_RATE} s per rate, many in flight at once; each one's time counts from its scheduled arrival, so waiting for the busy event loop or database is app time. The "saturated" row runs ${SATURATED_CONCURRENCY} shoppers back to back with no pause: its checkouts/s is the ceiling of one process, and its latency is queueing behind the other ${SATURATED_CONCURRENCY - 1}, so the goal is not judged there.`,
    'App time = wall time of those server steps minus the time spent inside Stripe calls, as measured per attempt by the gateway (time in its own queue counts as app time). Goal: p50 ≤ 10 ms, p99 ≤ 25 ms.',
    'The emulator runs in its own process (as Stripe is not on our machine); the app side (Prisma, PGlite, our code) runs in this one. The gateway runs without its rate budget (it would pace to 20 calls/s, test mode), so the figure is our own overhead.',
    describeProbes(probeBefore, probeAfter),
  ],
});
exitForGoals(missedGoals(rows));
