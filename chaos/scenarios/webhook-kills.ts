// SIGKILLs during webhook ingest: real events of real orders (recorded by the emulator, whose
// own deliveries are held back) posted with fresh signatures, in random order and repeatedly,
// while the server is killed mid-stream again and again. Afterwards the server starts once more
// (the build under test: nothing runs in this process), retries what the dead processes left
// active and, with its own minutely sweep, re-enqueues what was stored but never enqueued; it
// must converge on its own. Then the money is checked (checks.ts `checkPayments`, emails
// counted at a counting SMTP mailbox).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Stripe from 'stripe';
import { freePort, startApp, type App } from '../../bench/lib/app-process';
import { checkConverged, checkPayments } from '../lib/checks';
import { startCountingMailbox } from '../lib/counting-mailer';
import type { Product } from '../lib/flow';
import { actionIds, listAllStripe, openForChecks, prepareDatabase, rand, sleep, startStripe, waitForConvergence, type Scenario } from '../lib/harness';
import { createTokenInBrowser, Shopper } from '../lib/shopper';

export const webhookKillsScenario: Scenario = {
  name: 'webhook-kills',
  invariant: 'Every event answered with 2xx is stored and applied exactly once by the restarted server and its own sweep: processed, every order paid at Stripe ends paid its total, with one paid transition, one ledger pair, one fulfillment, one stock decrement and one confirmation really sent; nothing left unconverged.',
  async run(ctx) {
    const kills = ctx.quick ? 12 : 200;
    const orders = ctx.quick ? 20 : 120;
    const dataDir = join(ctx.dir, 'webhook-kills');
    const port = await freePort();
    const mailbox = await startCountingMailbox(process.env.CHAOS_PORTS ? await freePort() : 0);
    const stripe = await startStripe({ webhookUrls: [`http://127.0.0.1:${port}/api/stripe/webhook`] });
    await stripe.control('/webhooks', { mode: 'hold' });
    const db = await prepareDatabase({ dataDir });
    const products: Product[] = (await db.prisma.product.findMany({ where: { active: true } })).map((p) => ({ id: p.id, slug: p.slug, price: p.price }));
    const initialStock = new Map((await db.prisma.product.findMany()).map((p) => [p.id, p.stock]));
    await db.close();
    const appOpts = { label: 'app', port, dataDir, logFile: join(ctx.dir, 'webhook-kills-app.log'), env: { ...stripe.appEnv(), DATABASE_URL: '', STRIPE_RATE_SHARE: '1', SMTP_URL: mailbox.url, RECONCILE_CRON: 'off' } };
    let app: App = await startApp({ ...appOpts, via: 'start' });
    const since = Date.now();
    const actions = actionIds();

    // Orders whose PaymentIntents succeed at Stripe; only the webhooks can tell the app.
    let made = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (made < orders) {
          made++;
          const shopper = new Shopper({ base: () => app.url, actions }, `ingest-${made}@example.com`);
          const product = products[rand(products.length)];
          await shopper.addToCart(product, 1);
          const token = await createTokenInBrowser({ stripeUrl: stripe.url, publishableKey: stripe.publishableKey });
          if (!token) throw new Error('could not make a ConfirmationToken');
          // Paid at Stripe in the server's one call. Every shopper here comes from one address:
          // its submit limit answers "wait a few seconds" (as a busy Stripe answers "busy"), and
          // the shopper waits and presses Pay again with the same token.
          for (;;) {
            const r = await shopper.startPayment(product.price, token);
            if (r.kind === 'submitted') break;
            if ((r.kind === 'throttled' && r.retryAfterSeconds <= 10) || r.kind === 'busy') await sleep(r.retryAfterSeconds * 1000);
            else throw new Error(`startPayment answered ${r.kind}`);
          }
        }
      }),
    );
    const pool = (await listAllStripe<Stripe.Event>(stripe, '/v1/events')).map((e) => ({ id: e.id, body: JSON.stringify(e) }));
    ctx.log(`${orders} orders paid at Stripe, ${pool.length} events to deliver; ${kills} SIGKILLs next`);

    const sdk = new Stripe('sk_test_unused');
    const acked = new Set<string>();
    let posted = 0;
    let failed = 0;
    let storedBeforeKill = 0;
    const post = async (e: { id: string; body: string }) => {
      posted++;
      try {
        const r = await fetch(`${app.url}/api/stripe/webhook`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'stripe-signature': sdk.webhooks.generateTestHeaderString({ payload: e.body, secret: stripe.webhookSecret }) },
          body: e.body,
          signal: AbortSignal.timeout(10_000),
        });
        const body = (await r.json().catch(() => ({}))) as { duplicate?: boolean };
        if (r.status >= 200 && r.status < 300) {
          // Its first 2xx says "duplicate": an earlier delivery stored it and died before answering.
          if (!acked.has(e.id) && body.duplicate) storedBeforeKill++;
          acked.add(e.id);
        } else failed++;
      } catch {
        failed++;
      }
    };
    // New events are spread over all the kills (a few per window, among duplicates), so kills
    // keep landing while first deliveries are being stored and processed.
    let freshQuota = 0;
    const pick = () => {
      const fresh = pool.filter((e) => !acked.has(e.id));
      if (fresh.length > 0 && freshQuota > 0 && Math.random() < 0.3) {
        freshQuota--;
        return fresh[rand(fresh.length)];
      }
      return pool[rand(pool.length)];
    };
    const restartMs: number[] = [];
    for (let k = 1; k <= kills; k++) {
      freshQuota = Math.ceil(pool.length / kills) + 2;
      const until = performance.now() + 200 + rand(1_300);
      const lanes = Array.from({ length: 8 }, async () => {
        while (performance.now() < until) await post(pick());
      });
      await sleep(Math.max(0, until - performance.now()));
      await app.kill('SIGKILL');
      await Promise.all(lanes);
      app = await startApp({ ...appOpts, label: `app restart ${k}`, via: 'next' });
      restartMs.push(app.startMs);
      if (k % Math.max(1, Math.floor(kills / 5)) === 0) ctx.log(`${k}/${kills} kills, ${acked.size}/${pool.length} events acknowledged`);
    }
    // Stripe keeps retrying what was never acknowledged.
    for (let round = 0; round < 20 && acked.size < pool.length; round++) await Promise.all(pool.filter((e) => !acked.has(e.id)).map(post));
    await app.kill('SIGKILL');

    // What the dead servers left active, read before the next start retries it.
    const before = await openForChecks({ dataDir });
    const orphans = (await before.pglite!.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgboss.job WHERE state = 'active'`)).rows[0].n;
    await before.close();
    app = await startApp({ ...appOpts, label: 'app final', via: 'next' });
    const lastStart = Date.now();
    // Stripe's own deliveries, held back so far, now arrive too (duplicates of what was posted).
    await stripe.control('/webhooks', { mode: 'normal' });
    await stripe.control('/webhooks/release', {});
    const drain = await waitForConvergence({ appUrl: () => app.url, stripe, since, lastStart, afterRestartMs: 95_000, maxMs: ctx.quick ? 150_000 : 900_000 });
    await app.stop();
    // The server's own sweeps, from its log.
    const swept = readFileSync(appOpts.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('sweep re-enqueued work that had no job'))
      .reduce((sum, l) => sum + ((JSON.parse(l) as { stripeEvents?: number }).stripeEvents ?? 0), 0);

    const database = await openForChecks({ dataDir });
    const violations: string[] = [];
    try {
      const rows = new Map((await database.prisma.stripeEvent.findMany({ select: { id: true, status: true } })).map((r) => [r.id, r.status]));
      for (const id of acked) {
        const status = rows.get(id);
        if (status !== 'processed') violations.push(`event ${id} was answered 2xx but is ${status ?? 'not stored'}`);
      }
      if (acked.size < pool.length) violations.push(`${pool.length - acked.size} events were never acknowledged`);
      const converged = await checkConverged(database.prisma, drain.seconds);
      const money = await checkPayments({ prisma: database.prisma, stripe, initialStock, since, mail: { sends: mailbox.sendsByOrder(), messages: mailbox.messagesByOrder() }, noStrays: true });
      violations.push(...converged.violations, ...money.violations);
      if (money.figures.ordersFulfilled !== orders) violations.push(`${money.figures.ordersFulfilled} of ${orders} orders paid after ingest`);
      return {
        figures: {
          SIGKILLs: kills,
          'events (distinct)': pool.length,
          'deliveries posted': posted,
          'answered 2xx (distinct)': acked.size,
          'failed or cut off by a kill': failed,
          'stored by a delivery killed before its answer': storedBeforeKill,
          'jobs left active by killed servers': orphans,
          're-enqueued by the sweep': swept,
          'orders paid': money.figures.ordersFulfilled,
          'confirmation emails sent (SMTP)': money.figures.emailsSent,
          'wait after the final start s': drain.seconds.toFixed(0),
          'restart p50 s': (restartMs.sort((a, b) => a - b)[Math.floor(restartMs.length / 2)] / 1000).toFixed(1),
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
