// Stale tabs (issue 15 §2): shoppers change their carts between attempts and pay the
// PaymentIntents of earlier attempts from another tab — before, during and after the new
// attempt is made, alone or together with the new one — while Stripe's webhooks come twice and
// out of order (the emulator alternates `duplicate` and `shuffle`) and the server is SIGKILLed
// and restarted. Nobody opens an order page and nothing reconciles: webhooks and jobs alone
// must converge. Then the money is checked once, against Stripe's records and ours
// (checks.ts `checkPayments`), with confirmation emails counted as real SMTP sends.
//
// Variants: `stale-tabs` (PGlite, plenty of stock), `stale-tabs-scarce` (PGlite, 5 units per
// product, many shoppers racing for a few products, some paying after their stock hold
// lapsed) and `stale-tabs-pg` (the scarce race on PostgreSQL, where transactions really run
// at the same time; it needs CHAOS_DATABASE_URL's server).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDatabase, freePort, startApp, type App } from '../../bench/lib/app-process';
import type { StartPaymentResult } from '../../lib/checkout/start-payment';
import { checkConverged, checkPayments } from '../lib/checks';
import { startCountingMailbox } from '../lib/counting-mailer';
import { persist, type Product } from '../lib/flow';
import { actionIds, CHAOS_DB_PREFIX, chance, median, openForChecks, prepareDatabase, rand, sleep, startKiller, startStripe, waitForConvergence, type Scenario, type StripeStandIn } from '../lib/harness';
import { confirmInBrowser, createTokenInBrowser, ServerDown, Shopper } from '../lib/shopper';

type Plan = 'race-cancel' | 'both-tabs' | 'stale-only' | 'pay-then-change' | 'three-tabs' | 'new-only';
const PLANS: [Plan, number][] = [
  ['race-cancel', 0.22],
  ['both-tabs', 0.22],
  ['stale-only', 0.14],
  ['pay-then-change', 0.12],
  ['three-tabs', 0.18],
  ['new-only', 0.12],
];

function pickPlan(): Plan {
  let x = Math.random();
  for (const [p, w] of PLANS) if ((x -= w) < 0) return p;
  return 'new-only';
}

interface Journey {
  plan: Plan;
  /** Refused for a reason a shopper meets (sold out). */
  soldOut: boolean;
  slow: boolean;
  confirms: number;
  /** Confirms that succeeded: of the shopper's newest attempt, and of an older one (a stale tab). */
  paidCurrent: number;
  paidStale: number;
  /** A stale tab told "this payment can no longer be made" (its PaymentIntent was canceled). */
  staleRefused: number;
  serverDown: number;
  serverErrors: number;
  busy: number;
  /** "Wait a few seconds" from the per-address submit limit. */
  throttled: number;
  /** "Your cart changed: the total is now …" (an add that went in twice across a kill), paid again at the new total. */
  amountChanged: number;
  /** Confirms of the newest attempt this journey saw, refused as canceled: checked against the database. */
  refusedNewest: string[];
  /** Anything a shopper should never see: each one is a violation. */
  unexpected: string[];
}

interface Ready {
  paymentIntentId: string;
  clientSecret: string;
  attempt: number;
  orderToken: string;
}

interface Opts {
  stripe: StripeStandIn;
  products: Product[];
  /** Products the shopper adds first (the scarce ones, when racing). */
  hot: Product[];
  deadlineMs: number;
  /** Wait this long before paying, for a share of shoppers (their stock hold lapses). */
  slowMs: number | null;
}

/** One shopper with two or three tabs on one cart. */
async function staleTabsJourney(shopper: Shopper, o: Opts): Promise<Journey> {
  const j: Journey = { plan: pickPlan(), soldOut: false, slow: o.slowMs !== null && chance(0.25), confirms: 0, paidCurrent: 0, paidStale: 0, staleRefused: 0, serverDown: 0, serverErrors: 0, busy: 0, throttled: 0, amountChanged: 0, refusedNewest: [], unexpected: [] };
  const deadline = performance.now() + o.deadlineMs;
  const cart = new Map<string, { price: number; qty: number }>();
  // What the shopper's page last showed beyond the lines it knows of: an add whose answer a kill
  // lost, retried, may have gone in twice; Pay then answers amount_changed with the cart's real
  // total, which the page shows and pays (as CheckoutForm does).
  let drift = 0;
  const amount = () => [...cart.values()].reduce((s, l) => s + l.price * l.qty, 0) + drift;
  let newest = 0;

  const add = async (p: Product, qty: number): Promise<boolean> => {
    const r = await persist(() => shopper.addToCart(p, qty), j, deadline);
    if (!r.ok) {
      // Sold out (or only a few left) is what a racing shopper meets; anything else is not.
      if (/left|sold out|available|stock|already have all/i.test(r.error ?? '')) j.soldOut = true;
      else j.unexpected.push(`addToCart refused: ${r.error}`);
      return false;
    }
    const line = cart.get(p.id) ?? { price: p.price, qty: 0 };
    line.qty += qty;
    cart.set(p.id, line);
    return true;
  };

  /** Presses Pay until the server answers with a PaymentIntent (or a refusal a shopper meets). */
  const payOnce = async (): Promise<Ready | null> => {
    while (performance.now() < deadline) {
      let r: StartPaymentResult;
      try {
        // A 3-D Secure card: the attempt's PaymentIntent waits, as a tab mid-checkout, for
        // `confirm` below (Stripe.js in that tab) to pay it, now or after it went stale.
        const token = await createTokenInBrowser({ stripeUrl: o.stripe.url, publishableKey: o.stripe.publishableKey, card: 'pm_card_authenticationRequired' });
        if (!token) {
          await sleep(250);
          continue;
        }
        r = await shopper.startPayment(amount(), token);
      } catch (err) {
        if (!(err instanceof ServerDown)) throw err;
        j.serverDown++;
        if (err.status) j.serverErrors++;
        await sleep(250);
        continue;
      }
      if (r.kind === 'requires_action') {
        newest = Math.max(newest, r.attempt);
        return { paymentIntentId: r.paymentIntentId, clientSecret: r.clientSecret, attempt: r.attempt, orderToken: r.orderToken };
      }
      if (r.kind === 'busy') {
        j.busy++;
        await sleep(Math.min(r.retryAfterSeconds * 1000, 2_000));
        continue;
      }
      // Every shopper here comes from one address: its per-address submit limit (60 per 10 s)
      // answers "wait a few seconds", and a shopper waits. The card-testing throttle's pause
      // (minutes, after declines) is never expected: nobody here is declined.
      if (r.kind === 'throttled' && r.retryAfterSeconds <= 10) {
        j.throttled++;
        await sleep(r.retryAfterSeconds * 1000);
        continue;
      }
      if (r.kind === 'amount_changed') {
        j.amountChanged++;
        drift += r.amount - amount();
        continue;
      }
      if (r.kind === 'out_of_stock') {
        j.soldOut = true;
        return null;
      }
      // already_paid / in_progress: this very cart was paid (a stale tab paid it first).
      if (r.kind === 'already_paid' || r.kind === 'in_progress') return null;
      j.unexpected.push(`startPayment answered ${r.kind}: ${'message' in r ? r.message : ''}`);
      return null;
    }
    j.unexpected.push('startPayment: deadline passed');
    return null;
  };

  // Pays still in flight in other tabs: until they answer, this journey does not know its newest attempt.
  const inflight = new Set<Promise<Ready | null>>();
  const pay = (): Promise<Ready | null> => {
    const p = payOnce();
    inflight.add(p);
    void p.finally(() => inflight.delete(p)).catch(() => undefined);
    return p;
  };

  /** Stripe.js's confirmPayment from one tab, with a card that succeeds. */
  const confirm = async (r: Ready | null): Promise<void> => {
    if (!r) return;
    j.confirms++;
    const c = await confirmInBrowser({ stripeUrl: o.stripe.url, publishableKey: o.stripe.publishableKey, paymentIntentId: r.paymentIntentId, clientSecret: r.clientSecret, paymentMethod: 'pm_card_visa' });
    let stale = r.attempt < newest;
    if (c.status === 'succeeded') {
      if (stale) j.paidStale++;
      else j.paidCurrent++;
      return;
    }
    // A superseded attempt's PaymentIntent canceled at Stripe before this tab got to it.
    if (c.http === 400 && c.error?.code === 'payment_intent_unexpected_state') {
      // Another tab's Pay may have made a newer attempt that has not answered yet: judge after it has.
      await Promise.allSettled([...inflight]);
      stale = r.attempt < newest;
      if (stale) j.staleRefused++;
      // The newest attempt this journey saw: legitimate only if the server made a newer one
      // the journey never heard of (a Pay whose answer a kill lost, then "being processed"),
      // which the database says after the run.
      else j.refusedNewest.push(r.paymentIntentId);
      return;
    }
    j.unexpected.push(`confirm ${r.paymentIntentId} answered ${c.http} ${JSON.stringify(c.error ?? c.status)}`);
  };

  const pickProduct = (from: Product[]) => from[rand(from.length)];
  try {
    if (!(await add(pickProduct(o.hot), 1 + rand(2)))) return j;
    if (j.plan === 'pay-then-change') {
      // Tab 1 pays the cart as it was; tab 2 adds to it and presses Pay.
      const first = await pay();
      await confirm(first);
      if (await add(pickProduct(o.products), 1)) await confirm(await pay());
      return j;
    }
    const first = await pay();
    if (!first) return j;
    if (!(await add(pickProduct(o.products), 1 + rand(2)))) {
      // Could not change the cart (sold out): tab 1 pays what it has.
      await confirm(first);
      return j;
    }
    if (j.plan === 'race-cancel') {
      // Tab 1 confirms while tab 2's Pay makes the new attempt (and cancels tab 1's).
      const [, second] = await Promise.all([confirm(first), pay()]);
      if (j.slow) await sleep(o.slowMs!);
      await confirm(second);
      return j;
    }
    const second = await pay();
    if (j.slow) await sleep(o.slowMs!);
    if (j.plan === 'both-tabs') await Promise.all([confirm(first), confirm(second)]);
    else if (j.plan === 'stale-only') await confirm(first);
    else if (j.plan === 'new-only') await confirm(second);
    else if (j.plan === 'three-tabs') {
      const third = (await add(pickProduct(o.products), 1)) ? await pay() : null;
      await Promise.all([confirm(first), confirm(second), confirm(third)]);
    }
    return j;
  } catch (err) {
    j.unexpected.push(`journey crashed: ${err instanceof Error ? err.message : String(err)}`);
    return j;
  }
}

interface Variant {
  name: string;
  /** Units per product; null: plenty. */
  stock: number | null;
  postgres: boolean;
  shoppers: { quick: number; full: number };
  concurrency: { quick: number; full: number };
}

function makeStaleTabs(variant: Variant): Scenario {
  return {
    name: variant.name,
    invariant:
      `Shoppers change carts between attempts and pay stale PaymentIntents from other tabs (webhooks duplicated and shuffled, SIGKILLs${variant.stock !== null ? `, ${variant.stock} units per product raced for` : ''}${variant.postgres ? ', PostgreSQL' : ''}); with no reconciliation and no order page: every fulfilled order received exactly its total from its current attempt's one PaymentIntent, with one paid transition, ledger pair, fulfillment and confirmation really sent; every stray payment is refunded at Stripe once in full and recorded once (Refund row, timeline, ledger); refunds match Stripe one to one; every ledger transaction balances and unexpected_payments nets to 0; stock never below 0 and initial − sold = current; no shopper meets an unexpected error.`,
    async run(ctx) {
      const total = ctx.quick ? variant.shoppers.quick : variant.shoppers.full;
      const concurrency = ctx.quick ? variant.concurrency.quick : variant.concurrency.full;
      const killEveryMs: [number, number] = ctx.quick ? [3_000, 8_000] : [4_000, 15_000];
      const dataDir = join(ctx.dir, variant.name);
      const pg = variant.postgres ? await createDatabase(`${CHAOS_DB_PREFIX}_stale`) : null;
      const port = await freePort();
      const mailbox = await startCountingMailbox(process.env.CHAOS_PORTS ? await freePort() : 0);
      // Stripe retries a failed delivery for days; 8 tries over ~2 minutes outlast a restart on
      // a busy machine (restarts took 18 s in a quick run), so no event is lost to a kill.
      const stripe = await startStripe({ webhookUrls: [`http://127.0.0.1:${port}/api/stripe/webhook`], webhookRetry: { attempts: 8, baseDelayMs: 1_000 } });
      try {
        const db = await prepareDatabase(pg ? { url: pg.url, stock: variant.stock ?? undefined } : { dataDir, stock: variant.stock ?? undefined });
        const products: Product[] = (await db.prisma.product.findMany({ where: { active: true }, orderBy: { slug: 'asc' } })).map((p) => ({ id: p.id, slug: p.slug, price: p.price }));
        const initialStock = new Map((await db.prisma.product.findMany()).map((p) => [p.id, p.stock]));
        await db.close();
        // Racing: most first lines go to three products.
        const hot = variant.stock !== null ? products.slice(0, 3) : products;
        const holdMinutes = variant.stock !== null ? 1 : 15;
        const env = { ...stripe.appEnv(), DATABASE_URL: pg?.url ?? '', STRIPE_RATE_SHARE: '1', SMTP_URL: mailbox.url, RECONCILE_CRON: 'off', STOCK_HOLD_MINUTES: String(holdMinutes) };
        const appOpts = { label: 'app', port, dataDir, logFile: join(ctx.dir, `${variant.name}-app.log`), env };
        let app: App = await startApp({ ...appOpts, via: 'start' });
        ctx.log(`app ready in ${(app.startMs / 1000).toFixed(1)} s; ${total} shoppers, ${concurrency} at a time; stock ${variant.stock ?? 'plenty'}; holds ${holdMinutes} min`);
        const actions = actionIds();
        const since = Date.now();

        // Webhooks twice and out of order, switching every few seconds.
        let modes = 0;
        let switching = true;
        const switcher = (async () => {
          while (switching) {
            await stripe.control('/webhooks', modes++ % 2 === 0 ? { mode: 'duplicate' } : { mode: 'shuffle', delay_ms: 200 + rand(600) });
            await sleep(1_000 + rand(3_000));
          }
        })();
        const killer = startKiller(killEveryMs, async (k) => {
          await app.kill('SIGKILL');
          app = await startApp({ ...appOpts, label: `app restart ${k}`, via: 'next' });
          return app.startMs;
        });

        const journeys: Journey[] = [];
        let next = 0;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < total && !killer.failed) {
              const i = next++;
              const shopper = new Shopper({ base: () => app.url, actions }, `stale-${i}@example.com`);
              // Racing for scarce stock: arrivals spread over more than a hold's minute, so the
              // stock of a slow shopper's lapsed hold can be bought by someone who came later.
              if (variant.stock !== null && i >= concurrency) await sleep(4_000 + rand(12_000));
              journeys.push(await staleTabsJourney(shopper, { stripe, products, hot, deadlineMs: 240_000, slowMs: variant.stock !== null ? holdMinutes * 60_000 + 3_000 : null }));
              if (journeys.length % Math.max(10, Math.floor(total / 5)) === 0) ctx.log(`${journeys.length}/${total} shoppers, ${killer.kills} kills`);
            }
          }),
        );
        const loadSeconds = (performance.now() - started) / 1000;
        await killer.stop();
        switching = false;
        await switcher;
        await stripe.control('/webhooks', { mode: 'normal' });

        // A bounded wait for the living server — the build under test, nothing else — to
        // converge: every event delivered, its queues empty, and one of its own minutely sweeps
        // run on what the killed servers left (older than its 30 s), at least 95 s after the
        // last restart. No job runs in this process: a bug in the app's jobs stays visible.
        const lastStart = Date.now();
        const drain = await waitForConvergence({ appUrl: () => app.url, stripe, since, lastStart, afterRestartMs: 95_000, maxMs: ctx.quick ? 150_000 : 900_000 });
        const drainSeconds = drain.seconds;
        await app.stop();

        const database = await openForChecks(pg ? { url: pg.url } : { dataDir });
        const violations: string[] = [];
        try {
          // What the app's webhooks, jobs and sweep did not finish is not converged.
          const { left, violations: unconverged } = await checkConverged(database.prisma, drainSeconds);
          violations.push(...unconverged);

          const money = await checkPayments({ prisma: database.prisma, stripe, initialStock, since, mail: { sends: mailbox.sendsByOrder(), messages: mailbox.messagesByOrder() } });
          violations.push(...money.violations);
          const unexpected = journeys.flatMap((x) => x.unexpected);
          for (const u of [...new Set(unexpected)].slice(0, 20)) violations.push(`a shopper met: ${u} (×${unexpected.filter((x) => x === u).length})`);
          if (journeys.length < total) violations.push(`only ${journeys.length} of ${total} shoppers ran (the server could not be restarted?)`);
          // A tab's payment refused as canceled is right only when a newer attempt replaced its attempt.
          const refusedNewest = journeys.flatMap((x) => x.refusedNewest);
          const replaced = new Set(
            (await database.prisma.paymentAttempt.findMany({ where: { paymentIntentId: { in: refusedNewest }, supersededAt: { not: null } }, select: { paymentIntentId: true } })).map((a) => a.paymentIntentId),
          );
          for (const pi of refusedNewest) if (!replaced.has(pi)) violations.push(`a shopper met: the newest attempt's ${pi} was canceled, and no newer attempt replaced it`);
          const sum = (k: 'confirms' | 'paidCurrent' | 'paidStale' | 'staleRefused' | 'serverDown' | 'busy' | 'throttled' | 'amountChanged') => journeys.reduce((s, x) => s + x[k], 0);
          // A run where no stale tab got its payment through proves nothing about strays.
          if (money.figures.strayPayments === 0) violations.push('no stray payment happened: the run did not exercise the invariant');
          if (variant.stock !== null && !journeys.some((x) => x.soldOut)) violations.push('nobody met a sold-out product: the race did not happen');
          // Errors the app logged (kills cut requests off, so these are figures, listed in the log).
          const appErrors = readFileSync(appOpts.logFile, 'utf8')
            .split('\n')
            .filter((l) => l.includes('"level":50') || l.includes('"level":"error"'))
            .map((l) => {
              try {
                const e = JSON.parse(l) as { msg?: string; err?: { message?: string } };
                return `${e.msg}: ${(e.err?.message ?? '').slice(0, 120)}`;
              } catch {
                return l.slice(0, 160);
              }
            });
          for (const e of [...new Set(appErrors)].slice(0, 10)) ctx.log(`app logged: ${e} (×${appErrors.filter((x) => x === e).length})`);
          const plans = PLANS.map(([p]) => `${p} ${journeys.filter((x) => x.plan === p).length}`).join(', ');
          return {
            figures: {
              shoppers: journeys.length,
              plans,
              'confirms (all tabs)': sum('confirms'),
              'newest attempt paid': sum('paidCurrent'),
              'stale tab paid': sum('paidStale'),
              'stale tab refused (canceled)': sum('staleRefused'),
              'tab refused: replaced by an attempt it never saw (answer lost to a kill)': journeys.reduce((n, x) => n + x.refusedNewest.length, 0),
              'met sold out': journeys.filter((x) => x.soldOut).length,
              'slow shoppers (paid after their hold lapsed)': journeys.filter((x) => x.slow).length,
              'busy answers': sum('busy'),
              'submit limit: waited (one address)': sum('throttled'),
              'told the cart changed, paid the new total': sum('amountChanged'),
              'errors in the app log': appErrors.length,
              'requests that hit a dead server': sum('serverDown'),
              'of which answered 5xx': journeys.reduce((s, x) => s + x.serverErrors, 0),
              'webhook mode switches': modes,
              SIGKILLs: killer.kills,
              'restart p50 s': killer.restartMs.length ? (median(killer.restartMs) / 1000).toFixed(1) : '—',
              'load phase s': loadSeconds.toFixed(0),
              'drain wait after the last restart s': `${drainSeconds.toFixed(0)}${drain.quiet ? '' : ` (not quiet: ${drain.undelivered} events undelivered)`}`,
              'left unconverged (events, emails, remedies)': `${left.events}, ${left.emails}, ${left.remedies}`,
              'Stripe PaymentIntents': money.figures.stripePaymentIntents,
              'succeeded at Stripe': money.figures.stripeSucceeded,
              'stray payments (refunded)': money.figures.strayPayments,
              'Stripe refunds': money.figures.stripeRefunds,
              'orders fulfilled': money.figures.ordersFulfilled,
              'orders canceled (paid, stock gone: refunded)': money.figures.ordersCanceled,
              'orders open': money.figures.ordersOpen,
              'confirmation emails sent (SMTP)': money.figures.emailsSent,
              'of which repeats after a crash (same Message-ID)': money.figures.emailRepeats,
            },
            violations,
          };
        } finally {
          await database.close();
        }
      } finally {
        await stripe.close();
        await mailbox.close();
      }
    },
  };
}

export const staleTabsScenario = makeStaleTabs({ name: 'stale-tabs', stock: null, postgres: false, shoppers: { quick: 40, full: 400 }, concurrency: { quick: 6, full: 10 } });
export const staleTabsScarceScenario = makeStaleTabs({ name: 'stale-tabs-scarce', stock: 5, postgres: false, shoppers: { quick: 40, full: 200 }, concurrency: { quick: 10, full: 16 } });
export const staleTabsPostgresScenario = makeStaleTabs({ name: 'stale-tabs-pg', stock: 5, postgres: true, shoppers: { quick: 40, full: 200 }, concurrency: { quick: 10, full: 16 } });
