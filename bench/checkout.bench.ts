// The time Brisk itself adds to a checkout, apart from Stripe: many concurrent shoppers run
// the server-side flow (add to cart → startPayment → [browser confirms with Stripe] → order
// page converges) against the emulator at 0 ms and 50 ms of injected latency, on PGlite and,
// when BENCH_DATABASE_URL (or TEST_DATABASE_URL) is set, on PostgreSQL.
// App time = wall time of our server steps − time inside Stripe calls (measured by the gateway).
//   npx tsx bench/checkout.bench.ts [--quick]
import { AsyncLocalStorage } from 'node:async_hooks';
import { startEmulator } from '../emulator/src/server';
import { addToCart } from '../lib/cart/cart';
import { loadOrderForShopper } from '../lib/checkout/order-view';
import { startPayment } from '../lib/checkout/start-payment';
import { seedCatalog } from '../lib/db/seed';
import { createStripeClient } from '../lib/stripe/client';
import { StripeGateway } from '../lib/stripe/gateway';
import { createTestDatabase } from '../tests/helpers/db';
import { isQuick, percentile, recordResults, type Row } from './lib/results';

process.env.LOG_LEVEL ??= 'silent';
const SHOPPERS = isQuick ? 60 : 400;
const CONCURRENCY = 20;
const details = { email: 'bench@example.com', name: 'Bench Shopper', addressLine1: '1 Load St', city: 'Testville', postalCode: '94107', country: 'US' };

async function runOnce(kind: 'pglite' | 'postgres', latencyMs: number): Promise<Row> {
  process.env.TEST_DB_KIND = kind;
  const database = await createTestDatabase();
  await seedCatalog(database.prisma);
  await database.prisma.product.updateMany({ data: { stock: 1_000_000 } });
  const products = await database.prisma.product.findMany();
  const emulator = await startEmulator({ port: 0 });
  await fetch(`${emulator.url}/_emulator/latency`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mean_ms: latencyMs, jitter_ms: 0 }) });
  const stripe = createStripeClient({ secretKey: emulator.secretKey, apiBase: emulator.url });
  const stripeTime = new AsyncLocalStorage<{ ms: number }>();
  // No rate budget: this measures our own overhead, not Stripe's test-mode pacing.
  const gateway = new StripeGateway(stripe, { budget: false, recordMetrics: false, onCall: (r) => { const s = stripeTime.getStore(); if (s) s.ms += r.durationMs; } });
  const appMs: number[] = [];
  const totalMs: number[] = [];
  let failures = 0;
  const failureKinds: Record<string, number> = {};

  async function shopper(i: number): Promise<void> {
    const product = products[i % products.length];
    const acc = { ms: 0 };
    await stripeTime.run(acc, async () => {
      let wall = 0;
      let t = performance.now();
      const added = await addToCart(database.prisma, null, { productId: product.id, quantity: 1 });
      if (!added.ok) throw new Error(added.error);
      // One email per shopper, as in real traffic: a shared one would trip the card-testing limit.
      const started = await startPayment({ prisma: database.prisma, gateway }, added.cartId, { ...details, email: `bench+${i}@example.com`, expectedAmount: product.price });
      wall += performance.now() - t;
      if (started.kind !== 'ready') {
        failures++;
        failureKinds[started.kind] = (failureKinds[started.kind] ?? 0) + 1;
        return;
      }
      // The browser's step (Stripe.js confirms with Stripe directly): not our time.
      await stripe.paymentIntents.confirm(started.paymentIntentId, { payment_method: 'pm_card_visa' });
      t = performance.now();
      const view = await loadOrderForShopper(database.prisma, gateway, started.orderToken);
      wall += performance.now() - t;
      if (view?.order.status !== 'paid') failures++;
      totalMs.push(wall);
      appMs.push(wall - acc.ms);
    });
  }

  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < SHOPPERS) await shopper(next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await emulator.close();
  await database.drop();
  appMs.sort((a, b) => a - b);
  totalMs.sort((a, b) => a - b);
  return {
    database: kind,
    'injected latency': `${latencyMs} ms`,
    shoppers: SHOPPERS,
    concurrency: CONCURRENCY,
    'checkouts/s': (SHOPPERS / seconds).toFixed(1),
    'app p50 (ms)': percentile(appMs, 50).toFixed(1),
    'app p99 (ms)': percentile(appMs, 99).toFixed(1),
    'total p50 (ms)': percentile(totalMs, 50).toFixed(1),
    'total p99 (ms)': percentile(totalMs, 99).toFixed(1),
    failures: failures ? `${failures} ${JSON.stringify(failureKinds)}` : 0,
  };
}

const pgUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || (isQuick ? '' : 'postgresql://postgres@127.0.0.1:5432/test');
const rows: Row[] = [];
for (const kind of pgUrl ? (['pglite', 'postgres'] as const) : (['pglite'] as const)) {
  if (kind === 'postgres') process.env.TEST_DATABASE_URL = pgUrl;
  for (const latency of [0, 50]) {
    const row = await runOnce(kind, latency);
    console.log(JSON.stringify(row));
    rows.push(row);
  }
}
recordResults({
  name: 'checkout',
  title: 'Checkout: time the app adds to a checkout (server side, excluding Stripe)',
  command: `npx tsx bench/checkout.bench.ts${isQuick ? ' --quick' : ''}`,
  rows,
  notes: [
    'Per shopper: add to cart, startPayment (prices the cart, creates the order and the PaymentIntent), then the order page converging on the PaymentIntent (retrieve + applyPaymentIntent: stock, ledger, email, fulfillment). The browser-side confirm is excluded.',
    'App time = wall time of those server steps minus the time spent inside Stripe calls, as measured by the gateway. Goal: p50 ≤ 10 ms, p99 ≤ 25 ms.',
    'The gateway runs without its rate budget here (it would pace to 20 calls/s, test mode), so the figure is our own overhead.',
  ],
});
process.exit(0);
