// Scale-out on PostgreSQL: two app instances (WORKER_MODE=off) behind a random "load balancer",
// two `npm run worker` processes, one database, one job queue, one Stripe rate budget. Stripe's
// webhooks go to both instances (every event arrives twice, at different processes), shoppers
// hop between instances from one request to the next.
import { join } from 'node:path';
import type Stripe from 'stripe';
import { createDatabase, dropDatabase, freePort, startApp, startWorker, type App, type Child } from '../../bench/lib/app-process';
import { startCountingProxy } from '../../tests/helpers/counting-proxy';
import { STRIPE_LIMITS } from '../../lib/stripe/rate-budget';
import { pendingRemedies } from '../../lib/orders/remedies';
import { checkBudget, checkConverged, checkPayments } from '../lib/checks';
import { startCountingMailbox } from '../lib/counting-mailer';
import { checkout, outcomeViolations, type CheckoutOutcome, type Product } from '../lib/flow';
import { actionIds, CHAOS_DB_PREFIX, listAllStripe, openForChecks, prepareDatabase, rand, sleep, startStripe, type Scenario } from '../lib/harness';
import { Shopper } from '../lib/shopper';

export const scaleOutScenario: Scenario = {
  name: 'scale-out',
  invariant:
    'With two app instances and two workers on one PostgreSQL database, every side effect happens exactly once across processes (one paid transition, ledger pair, email, fulfillment and stock decrement per paid order; each event stored once though delivered to both instances), and all processes together stay within one Stripe rate budget, checked on the budget clock and windows (every request carries its grant): no window over its points, no overlapping windows, never more than 25 requests granted in any second.',
  async run(ctx) {
    const total = ctx.quick ? 40 : 400;
    const { name, url } = await createDatabase(CHAOS_DB_PREFIX);
    const ports = [await freePort(), await freePort()];
    const mailbox = await startCountingMailbox(process.env.CHAOS_PORTS ? await freePort() : 0);
    const stripe = await startStripe({ webhookUrls: ports.map((p) => `http://127.0.0.1:${p}/api/stripe/webhook`) });
    const proxy = await startCountingProxy(stripe.url, process.env.CHAOS_PORTS ? await freePort() : 0);
    const children: Child[] = [];
    try {
      const db = await prepareDatabase({ url });
      const products: Product[] = (await db.prisma.product.findMany({ where: { active: true } })).map((p) => ({ id: p.id, slug: p.slug, price: p.price }));
      const initialStock = new Map((await db.prisma.product.findMany()).map((p) => [p.id, p.stock]));
      await db.close();
      const env = { ...stripe.appEnv(), STRIPE_API_BASE: proxy.url, DATABASE_URL: url, WORKER_MODE: 'off', SMTP_URL: mailbox.url, RECONCILE_CRON: 'off' };
      const apps: App[] = [];
      // The first through scripts/start.ts (it may build); the second serves that same build with
      // `next start`, as a deployment runs one build everywhere — a second start.ts could rebuild
      // the folder under the first instance if the sources changed meanwhile.
      for (const [i, port] of ports.entries()) {
        const app = await startApp({ label: `app ${i + 1}`, via: i === 0 ? 'start' : 'next', port, dataDir: join(ctx.dir, `scale-out-${i + 1}`), logFile: join(ctx.dir, `scale-out-app-${i + 1}.log`), env });
        apps.push(app);
        children.push(app);
      }
      for (const i of [1, 2]) children.push(startWorker({ label: `worker ${i}`, logFile: join(ctx.dir, `scale-out-worker-${i}.log`), env }));
      const health = await Promise.all(apps.map(async (a) => (await (await fetch(`${a.url}/api/health`)).json()) as { gateway?: { budgetStore?: string; budgetPerSecond?: number } }));
      ctx.log(`2 instances and 2 workers up; rate budget store: ${health.map((h) => h.gateway?.budgetStore ?? '?').join(', ')}`);
      proxy.reset();
      const since = Date.now();
      const actions = actionIds();
      const lb = () => apps[rand(apps.length)].url;
      const outcomes: CheckoutOutcome[] = [];
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < total) {
            const i = next++;
            const shopper = new Shopper({ base: lb, actions }, `scale-${i}@example.com`);
            outcomes.push(await checkout(shopper, products[rand(products.length)], 1 + rand(2), { stripe, doubleSubmitRate: 0.3, declineRate: 0.05, deadlineMs: 120_000, changeCartRate: 0.2, products }));
          }
        }),
      );
      const loadSeconds = (performance.now() - started) / 1000;
      // Let both workers drain what the webhooks brought.
      const check = await openForChecks({ url });
      try {
        const deadline = Date.now() + (ctx.quick ? 60_000 : 180_000);
        for (;;) {
          const waiting = await check.prisma.stripeEvent.count({ where: { status: { in: ['received', 'failed'] } } });
          const [{ n }] = await check.prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM pgboss.job WHERE state IN ('created', 'retry', 'active') AND name IN ('stripe-event', 'email-send', 'payment-remedy')`);
          // Superseded attempts (a shopper declined, then paying a changed cart) are canceled at Stripe by jobs too.
          const remedies = (await pendingRemedies(check.prisma, new Date(Date.now() + 60_000))).length;
          if ((waiting === 0 && n === 0 && remedies === 0) || Date.now() > deadline) break;
          await sleep(1_000);
        }
        for (const c of children) await c.stop();
        const converged = await checkConverged(check.prisma, 0);
        const money = await checkPayments({ prisma: check.prisma, stripe, initialStock, since, mail: { sends: mailbox.sendsByOrder(), messages: mailbox.messagesByOrder() }, noStrays: true });
        const violations = [...converged.violations, ...money.violations, ...outcomeViolations(outcomes)];
        for (const [i, h] of health.entries()) if (h.gateway?.budgetStore !== 'postgres') violations.push(`instance ${i + 1} keeps its Stripe rate budget in ${h.gateway?.budgetStore ?? 'an unknown store'}, not PostgreSQL`);
        // The budget on its own clock and windows (every request carries its grant); arrival at
        // this process's proxy is a figure, delayed by both processes' event loops.
        const perSecond = proxy.maxInWindow(1_000);
        const budget = checkBudget(proxy.requests, health[0].gateway?.budgetPerSecond ?? 20, STRIPE_LIMITS.test);
        violations.push(...budget.violations);
        const events = await listAllStripe<Stripe.Event>(stripe, '/v1/events');
        const deliveries = ((await stripe.control('/deliveries')) as { data: { ok: boolean }[] }).data;
        const stored = await check.prisma.stripeEvent.count();
        const processed = await check.prisma.stripeEvent.count({ where: { status: 'processed' } });
        if (processed !== stored) {
          // Say why: how the rest stand, their most common errors, and what the queue holds.
          const states = await check.prisma.stripeEvent.groupBy({ by: ['status'], _count: true, where: { status: { not: 'processed' } } });
          const errors = await check.prisma.stripeEvent.groupBy({ by: ['lastError'], _count: true, where: { status: { not: 'processed' } }, orderBy: { _count: { lastError: 'desc' } }, take: 3 });
          const jobs = await check.prisma.$queryRawUnsafe<{ state: string; n: number }[]>(`SELECT state, count(*)::int AS n FROM pgboss.job WHERE name = 'stripe-event' GROUP BY state`);
          violations.push(
            `${stored - processed} stored events not processed (${states.map((x) => `${x.status} ${x._count}`).join(', ')}; errors: ${errors.map((e) => `${e._count}× ${e.lastError ?? 'none'}`).join(' | ')}; stripe-event jobs: ${jobs.map((j) => `${j.state} ${j.n}`).join(', ')})`,
          );
        }
        const paid = outcomes.filter((o) => o.result === 'paid').length;
        return {
          figures: {
            checkouts: total,
            'paid (shopper saw success)': paid,
            'double submits': outcomes.reduce((s, o) => s + o.doubleSubmits, 0),
            'busy answers (rate budget)': outcomes.reduce((s, o) => s + o.busy, 0),
            'load phase s': loadSeconds.toFixed(0),
            'Stripe requests from all processes': proxy.requests.length,
            'budget windows / most granted in one window': `${budget.figures.windows} / ${budget.figures.maxInWindow}`,
            'most granted in any 1 s (budget clock)': budget.figures.maxGrantedInOneSecond,
            'most arrived in any 1 s (proxy clock)': perSecond,
            'events at Stripe': events.length,
            'webhook deliveries (2 endpoints)': deliveries.length,
            'events stored': stored,
            'events processed': processed,
            'carts changed after Pay': outcomes.reduce((s, o) => s + o.cartChanges, 0),
            'orders fulfilled': money.figures.ordersFulfilled,
            'confirmation emails sent (SMTP)': money.figures.emailsSent,
          },
          violations,
        };
      } finally {
        await check.close();
      }
    } finally {
      for (const c of children) await c.kill().catch(() => {});
      await proxy.close();
      await stripe.close();
      await mailbox.close();
      await dropDatabase(name).catch(() => {});
    }
  },
};
