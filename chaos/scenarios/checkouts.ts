// Checkouts while Stripe fails ~20% of calls, shoppers double-submit and change their carts
// between attempts, and the app server is SIGKILLed at random moments and restarted. Then the
// living app must converge on its own (webhooks, jobs, its minutely sweep; nobody opens an
// order page), and the money is checked once, before any healing (checks.ts `checkPayments`,
// confirmations counted at a counting SMTP mailbox). Reconciliation runs only after that, as
// a separate step whose findings are violations: it should find nothing to heal.
import { join } from 'node:path';
import { freePort, startApp, type App } from '../../bench/lib/app-process';
import { runReconciliation } from '../../lib/orders/reconcile';
import { checkConverged, checkPayments } from '../lib/checks';
import { startCountingMailbox } from '../lib/counting-mailer';
import { checkout, outcomeViolations, type CheckoutOutcome, type Product } from '../lib/flow';
import { actionIds, checkGateway, median, openForChecks, prepareDatabase, rand, startKiller, startStripe, waitForConvergence, type Scenario } from '../lib/harness';
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
    'Before any healing (no reconciliation, no order page): every checkout ends paid; every PaymentIntent Stripe charged pays exactly one order its whole total (carts changed between attempts included), with one paid transition, ledger pair, fulfillment, stock decrement and one confirmation really sent; nothing else has side effects; stock never below 0 and initial − sold = current; no shopper meets an unexpected error; reconciliation afterwards finds nothing to heal.',
  async run(ctx) {
    const total = ctx.quick ? 60 : 2_000;
    const concurrency = ctx.quick ? 6 : 10;
    const killEveryMs: [number, number] = ctx.quick ? [3_000, 8_000] : [4_000, 15_000];
    const dataDir = join(ctx.dir, 'checkouts');
    const port = await freePort();
    const mailbox = await startCountingMailbox(process.env.CHAOS_PORTS ? await freePort() : 0);
    // Stripe retries a failed delivery for days; 8 tries over ~2 minutes outlast any restart.
    const stripe = await startStripe({ webhookUrls: [`http://127.0.0.1:${port}/api/stripe/webhook`], webhookRetry: { attempts: 8, baseDelayMs: 1_000 } });
    const db = await prepareDatabase({ dataDir });
    const products: Product[] = (await db.prisma.product.findMany({ where: { active: true } })).map((p) => ({ id: p.id, slug: p.slug, price: p.price }));
    const initialStock = new Map((await db.prisma.product.findMany()).map((p) => [p.id, p.stock]));
    await db.close();

    const env = { ...stripe.appEnv(), DATABASE_URL: '', STRIPE_RATE_SHARE: '1', SMTP_URL: mailbox.url, RECONCILE_CRON: 'off' };
    const appOpts = { label: 'app', port, dataDir, logFile: join(ctx.dir, 'checkouts-app.log'), env };
    let app: App = await startApp({ ...appOpts, via: 'start' });
    ctx.log(`app ready in ${(app.startMs / 1000).toFixed(1)} s (scripts/start.ts); ${total} checkouts, ${concurrency} shoppers at a time`);
    const actions = actionIds();
    const since = Date.now();
    for (const f of FAULTS) await stripe.control('/faults', f);

    // The killer: SIGKILL the whole server at random moments, restart it at once. The quick
    // run stops killing after 60% of the checkouts, so the wait for the app's own sweep after
    // the last restart overlaps the rest of the load.
    let lastStart = Date.now();
    const killer = startKiller(killEveryMs, async (k) => {
      await app.kill('SIGKILL');
      app = await startApp({ ...appOpts, label: `app restart ${k}`, via: 'next' });
      lastStart = Date.now();
      return app.startMs;
    });
    const killUntil = ctx.quick ? Math.floor(total * 0.6) : total;
    let killing = true;
    const outcomes: CheckoutOutcome[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total && !killer.failed) {
          const i = next++;
          const shopper = new Shopper({ base: () => app.url, actions }, `chaos-${i}@example.com`);
          outcomes.push(await checkout(shopper, products[rand(products.length)], 1 + rand(2), { stripe, doubleSubmitRate: 0.25, declineRate: 0.05, deadlineMs: 180_000, changeCartRate: 0.2, products }));
          if (killing && outcomes.length >= killUntil) {
            killing = false;
            await killer.stop();
          }
          if (outcomes.length % Math.max(10, Math.floor(total / 10)) === 0) ctx.log(`${outcomes.length}/${total} checkouts, ${killer.kills} kills`);
        }
      }),
    );
    const loadSeconds = (performance.now() - started) / 1000;
    await killer.stop();
    await stripe.control('/faults', undefined, 'DELETE');
    // The living server — nothing in this process — must converge on its own.
    const drain = await waitForConvergence({ appUrl: () => app.url, stripe, since, lastStart, afterRestartMs: killer.kills > 0 ? 95_000 : 0, maxMs: ctx.quick ? 150_000 : 900_000 });
    await app.stop();

    const database = await openForChecks({ dataDir });
    try {
      // First the strict check, on what webhooks and jobs alone made of it.
      const converged = await checkConverged(database.prisma, drain.seconds);
      const money = await checkPayments({ prisma: database.prisma, stripe, initialStock, since, mail: { sends: mailbox.sendsByOrder(), messages: mailbox.messagesByOrder() }, noStrays: true });
      const violations = [...converged.violations, ...money.violations, ...outcomeViolations(outcomes)];
      // Then, separately, what reconciliation would heal: it should find nothing.
      const rec = await runReconciliation(database.prisma, checkGateway(stripe), { windowStart: new Date(since - 3_600_000), windowEnd: new Date(Date.now() + 3_600_000), trigger: 'test' });
      if (rec.status !== 'succeeded') violations.push(`reconciliation ${rec.status}: ${rec.error}`);
      for (const f of rec.findings) violations.push(`reconciliation found (after the check; ${f.healed ? 'healed' : 'not healed'}): ${f.kind} ${f.orderId ?? ''} ${f.paymentIntentId ?? ''}`);
      const by = (r: CheckoutOutcome['result']) => outcomes.filter((o) => o.result === r).length;
      const sum = (k: 'doubleSubmits' | 'declines' | 'serverDown' | 'busy' | 'inProgress' | 'throttled' | 'cartChanges') => outcomes.reduce((s, o) => s + o[k], 0);
      const refused = outcomes.filter((o) => o.result === 'refused').map((o) => o.detail);
      if (refused.length) ctx.log(`refused: ${[...new Set(refused)].slice(0, 5).join(' | ')}`);
      return {
        figures: {
          checkouts: outcomes.length,
          'paid (shopper saw success)': by('paid'),
          'gave up': by('gave_up'),
          refused: by('refused'),
          'double submits': sum('doubleSubmits'),
          'carts changed after Pay (new attempt, new total)': sum('cartChanges'),
          '"in progress" answers': sum('inProgress'),
          'submit limit waited (one address)': sum('throttled'),
          declines: sum('declines'),
          'busy answers': sum('busy'),
          'requests that hit a dead server': sum('serverDown'),
          'SIGKILLs': killer.kills,
          'restart p50 s': killer.restartMs.length ? (median(killer.restartMs) / 1000).toFixed(1) : '—',
          'load phase s': loadSeconds.toFixed(0),
          'wait after the last restart s': `${drain.seconds.toFixed(0)}${drain.quiet ? '' : ` (not quiet: ${drain.undelivered} events undelivered)`}`,
          'Stripe PaymentIntents': money.figures.stripePaymentIntents,
          'succeeded at Stripe': money.figures.stripeSucceeded,
          'orders fulfilled': money.figures.ordersFulfilled,
          'orders open': money.figures.ordersOpen,
          'confirmation emails sent (SMTP)': money.figures.emailsSent,
          'of which repeats after a crash (same Message-ID)': money.figures.emailRepeats,
          'reconciliation afterwards: findings / healed': `${rec.findings.length} / ${rec.healed}`,
        },
        violations,
      };
    } finally {
      await database.close();
      await stripe.close();
      await mailbox.close();
    }
  },
};
