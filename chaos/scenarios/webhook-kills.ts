// SIGKILLs during webhook ingest: real events of real orders (recorded by the emulator, whose
// own deliveries are held back) posted with fresh signatures, in random order and repeatedly,
// while the server is killed mid-stream again and again. Afterwards the job system starts on
// the same database (as the next server start would), retries what the dead processes left
// active, sweeps what was stored but never enqueued, and drains.
import { join } from 'node:path';
import Stripe from 'stripe';
import { freePort, startApp, type App } from '../../bench/lib/app-process';
import { queueDepths, runSweep, startJobs, stopJobs } from '../../lib/jobs';
import { checkMoney } from '../lib/checks';
import type { Product } from '../lib/flow';
import { actionIds, checkGateway, listAllStripe, openForChecks, prepareDatabase, rand, sleep, startStripe, type Scenario } from '../lib/harness';
import { createTokenInBrowser, Shopper } from '../lib/shopper';

export const webhookKillsScenario: Scenario = {
  name: 'webhook-kills',
  invariant: 'Every event answered with 2xx is stored and applied exactly once after restart and sweep: processed, and each order it pays has one paid transition, one ledger pair, one email, one fulfillment and one stock decrement.',
  async run(ctx) {
    const kills = ctx.quick ? 20 : 200;
    const orders = ctx.quick ? 30 : 120;
    const dataDir = join(ctx.dir, 'webhook-kills');
    const port = await freePort();
    const stripe = await startStripe({ webhookUrls: [`http://127.0.0.1:${port}/api/stripe/webhook`] });
    await stripe.control('/webhooks', { mode: 'hold' });
    const db = await prepareDatabase({ dataDir });
    const products: Product[] = (await db.prisma.product.findMany({ where: { active: true } })).map((p) => ({ id: p.id, slug: p.slug, price: p.price }));
    const initialStock = new Map((await db.prisma.product.findMany()).map((p) => [p.id, p.stock]));
    await db.close();
    const appOpts = { label: 'app', port, dataDir, logFile: join(ctx.dir, 'webhook-kills-app.log'), env: { ...stripe.appEnv(), DATABASE_URL: '', STRIPE_RATE_SHARE: '1' } };
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
          // Paid at Stripe in the server's one call.
          const r = await shopper.startPayment(product.price, token);
          if (r.kind !== 'submitted') throw new Error(`startPayment answered ${r.kind}`);
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

    const database = await openForChecks({ dataDir });
    const violations: string[] = [];
    let swept = 0;
    try {
      const orphans = (await database.pglite!.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgboss.job WHERE state = 'active'`)).rows[0].n;
      await startJobs({ database, gateway: checkGateway(stripe), worker: true, mailer: null, sweepAfterSeconds: 0, scheduleSweep: false, pollingIntervalSeconds: 0.5, retry: { delaySeconds: 1, maxDelaySeconds: 5 } });
      const deadline = Date.now() + (ctx.quick ? 90_000 : 300_000);
      for (;;) {
        swept += (await runSweep()).stripeEvents;
        const waiting = await database.prisma.stripeEvent.count({ where: { status: { in: ['received', 'failed'] } } });
        const depths = Object.values(await queueDepths()).reduce((s, d) => s + d.queued + d.active, 0);
        if ((waiting === 0 && depths === 0) || Date.now() > deadline) break;
        await sleep(1_000);
      }
      await stopJobs();
      const rows = new Map((await database.prisma.stripeEvent.findMany({ select: { id: true, status: true } })).map((r) => [r.id, r.status]));
      for (const id of acked) {
        const status = rows.get(id);
        if (status !== 'processed') violations.push(`event ${id} was answered 2xx but is ${status ?? 'not stored'}`);
      }
      if (acked.size < pool.length) violations.push(`${pool.length - acked.size} events were never acknowledged`);
      const money = await checkMoney({ prisma: database.prisma, stripe, initialStock, since });
      violations.push(...money.violations);
      if (money.figures.ordersPaid !== orders) violations.push(`${money.figures.ordersPaid} of ${orders} orders paid after ingest`);
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
          'orders paid': money.figures.ordersPaid,
          'restart p50 s': (restartMs.sort((a, b) => a - b)[Math.floor(restartMs.length / 2)] / 1000).toFixed(1),
        },
        violations,
      };
    } finally {
      await stopJobs().catch(() => {});
      await database.close();
      await stripe.close();
    }
  },
};
