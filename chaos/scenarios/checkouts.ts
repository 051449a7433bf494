// Checkouts while Stripe fails ~20% of calls, shoppers double-submit, and the app server is
// SIGKILLed at random moments and restarted; then reconciliation, then the money checks.
import { join } from 'node:path';
import { freePort, startApp, type App } from '../../bench/lib/app-process';
import { runReconciliation } from '../../lib/orders/reconcile';
import { checkMoney } from '../lib/checks';
import { checkout, type CheckoutOutcome, type Product } from '../lib/flow';
import { actionIds, checkGateway, median, openForChecks, prepareDatabase, rand, sleep, startKiller, startStripe, type Scenario } from '../lib/harness';
import { Shopper } from '../lib/shopper';

export const FAULTS = [
  { path: '/v1', status: 503, probability: 0.07 },
  { path: '/v1', reset_connection: true, probability: 0.04 },
  // Longer than the gateway's 8 s attempt timeout: it gives up and retries under the same key.
  { path: '/v1', delay_ms: 9_000, probability: 0.02 },
  // The request runs, the answer is lost: "did my payment go through?"
  { path: '/v1', status: 500, after: true, probability: 0.06 },
];

export const checkoutsScenario: Scenario = {
  name: 'checkouts',
  invariant:
    'No order is charged twice, and after reconciliation every PaymentIntent that succeeded in Stripe belongs to exactly one paid order with the same amount (and every paid order to one succeeded PaymentIntent, with one ledger pair, email, fulfillment and stock decrement).',
  async run(ctx) {
    const total = ctx.quick ? 100 : 2_000;
    const concurrency = ctx.quick ? 6 : 10;
    const killEveryMs: [number, number] = ctx.quick ? [3_000, 8_000] : [4_000, 15_000];
    const dataDir = join(ctx.dir, 'checkouts');
    const port = await freePort();
    const stripe = await startStripe({ webhookUrls: [`http://127.0.0.1:${port}/api/stripe/webhook`] });
    const db = await prepareDatabase({ dataDir });
    const products: Product[] = (await db.prisma.product.findMany({ where: { active: true } })).map((p) => ({ id: p.id, slug: p.slug, price: p.price }));
    const initialStock = new Map((await db.prisma.product.findMany()).map((p) => [p.id, p.stock]));
    await db.close();

    const env = { ...stripe.appEnv(), DATABASE_URL: '', STRIPE_RATE_SHARE: '1' };
    const appOpts = { label: 'app', port, dataDir, logFile: join(ctx.dir, 'checkouts-app.log'), env };
    let app: App = await startApp({ ...appOpts, via: 'start' });
    ctx.log(`app ready in ${(app.startMs / 1000).toFixed(1)} s (scripts/start.ts); ${total} checkouts, ${concurrency} shoppers at a time`);
    const actions = actionIds();
    const since = Date.now();
    for (const f of FAULTS) await stripe.control('/faults', f);

    // The killer: SIGKILL the whole server at random moments, restart it at once.
    const killer = startKiller(killEveryMs, async (k) => {
      await app.kill('SIGKILL');
      app = await startApp({ ...appOpts, label: `app restart ${k}`, via: 'next' });
      return app.startMs;
    });
    const outcomes: CheckoutOutcome[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total && !killer.failed) {
          const i = next++;
          const shopper = new Shopper({ base: () => app.url, actions }, `chaos-${i}@example.com`);
          outcomes.push(await checkout(shopper, products[rand(products.length)], 1 + rand(2), { stripe, doubleSubmitRate: 0.25, declineRate: 0.05, deadlineMs: 180_000 }));
          if (outcomes.length % Math.max(10, Math.floor(total / 10)) === 0) ctx.log(`${outcomes.length}/${total} checkouts, ${killer.kills} kills`);
        }
      }),
    );
    const loadSeconds = (performance.now() - started) / 1000;
    await killer.stop();
    await stripe.control('/faults', undefined, 'DELETE');
    // Let the emulator's webhook retries land on the living server.
    await sleep(ctx.quick ? 8_000 : 20_000);
    await app.stop();

    const database = await openForChecks({ dataDir });
    try {
      const rec = await runReconciliation(database.prisma, checkGateway(stripe), { windowStart: new Date(since - 3_600_000), windowEnd: new Date(Date.now() + 3_600_000), trigger: 'test' });
      const money = await checkMoney({ prisma: database.prisma, stripe, initialStock, since });
      const violations = [...money.violations];
      for (const o of outcomes) if (o.splitDoubleSubmit) violations.push(`a double submit got two PaymentIntents for one attempt (${o.splitDoubleSubmit})`);
      if (rec.status !== 'succeeded') violations.push(`reconciliation ${rec.status}: ${rec.error}`);
      for (const f of rec.findings.filter((f) => !f.healed)) violations.push(`reconciliation finding left unhealed: ${f.kind} ${f.orderId ?? ''} ${f.paymentIntentId ?? ''}`);
      const by = (r: CheckoutOutcome['result']) => outcomes.filter((o) => o.result === r).length;
      // A run where nobody could pay proves nothing.
      if (by('paid') < total * 0.5) violations.push(`only ${by('paid')} of ${total} checkouts got paid: the load did not go through`);
      const sum = (k: 'doubleSubmits' | 'declines' | 'serverDown' | 'busy') => outcomes.reduce((s, o) => s + o[k], 0);
      const refused = outcomes.filter((o) => o.result === 'refused').map((o) => o.detail);
      if (refused.length) ctx.log(`refused: ${[...new Set(refused)].slice(0, 5).join(' | ')}`);
      return {
        figures: {
          checkouts: outcomes.length,
          'paid (shopper saw success)': by('paid'),
          'gave up': by('gave_up'),
          refused: by('refused'),
          'double submits': sum('doubleSubmits'),
          declines: sum('declines'),
          'busy answers': sum('busy'),
          'requests that hit a dead server': sum('serverDown'),
          'SIGKILLs': killer.kills,
          'restart p50 s': killer.restartMs.length ? (median(killer.restartMs) / 1000).toFixed(1) : '—',
          'load phase s': loadSeconds.toFixed(0),
          'Stripe PaymentIntents': money.figures.stripePaymentIntents,
          'succeeded at Stripe': money.figures.stripeSucceeded,
          'paid orders': money.figures.ordersPaid,
          'reconciliation healed': rec.healed,
          'reconciliation unresolved': rec.unresolved,
        },
        violations,
      };
    } finally {
      await database.close();
      await stripe.close();
    }
  },
};
