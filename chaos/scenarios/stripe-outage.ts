// Stripe's PaymentIntents API goes down (every call under /v1/payment_intents answers 503) in the
// middle of steady checkout traffic, then comes back. Not all of /v1: with the ConfirmationToken
// flow the browser's Stripe.js call (/v1/confirmation_tokens) comes first, and a shopper stuck
// there never reached the shop, so the gateway met no outage at all (the full run of 2026-12-07:
// breaker never opened, no busy answer) and the scenario tested nothing. So a probe shopper, with
// the cart already filled and a token in hand, presses Pay right after the fault goes on, and the
// outage lasts until that Pay has been answered: the outage is guaranteed to reach the shop (the
// gateway must meet Stripe's 5xx, and the probe must be told "busy"), however the lanes' Pays fall.
// Shoppers must get a fast "busy" while it is down, and checkout must recover on
// its own soon after: the breaker's probe closes it and the next checkout pays. Every checkout
// ends paid; the money is checked before any healing (the app converges on its own), with
// confirmations counted at a counting SMTP mailbox; reconciliation afterwards finds nothing.
import { join } from 'node:path';
import { freePort, startApp } from '../../bench/lib/app-process';
import { runReconciliation } from '../../lib/orders/reconcile';
import { checkConverged, checkPayments } from '../lib/checks';
import { startCountingMailbox } from '../lib/counting-mailer';
import { checkout, outcomeViolations, type CheckoutOutcome, type Product } from '../lib/flow';
import { actionIds, checkGateway, openForChecks, prepareDatabase, rand, sleep, startStripe, waitForConvergence, type Scenario } from '../lib/harness';
import { createTokenInBrowser, ServerDown, Shopper } from '../lib/shopper';

const RECOVERY_GOAL_S = 10;
/** The outage is held at most this long past its planned end waiting for the probe's Pay to be answered. */
const PROBE_GRACE_MS = 30_000;

export const stripeOutageScenario: Scenario = {
  name: 'stripe-outage',
  invariant: `The outage reaches the shop: a shopper who presses Pay while Stripe is down is told "busy" (the gateway meets Stripe's 5xx) and, keeping cart and card, pays once Stripe is back. After Stripe returns, the breaker closes and a new checkout is paid within ${RECOVERY_GOAL_S} s; every checkout ends paid, and before any healing every PaymentIntent Stripe charged pays exactly one order its total with one of each side effect and one confirmation really sent; no shopper meets a 5xx or unexpected error; reconciliation afterwards finds nothing.`,
  async run(ctx) {
    const before = ctx.quick ? 5_000 : 10_000;
    const outage = ctx.quick ? 5_000 : 30_000;
    const after = ctx.quick ? 12_000 : 20_000;
    const dataDir = join(ctx.dir, 'stripe-outage');
    const port = await freePort();
    const mailbox = await startCountingMailbox(process.env.CHAOS_PORTS ? await freePort() : 0);
    const stripe = await startStripe({ webhookUrls: [`http://127.0.0.1:${port}/api/stripe/webhook`] });
    const db = await prepareDatabase({ dataDir });
    const products: Product[] = (await db.prisma.product.findMany({ where: { active: true } })).map((p) => ({ id: p.id, slug: p.slug, price: p.price }));
    const initialStock = new Map((await db.prisma.product.findMany()).map((p) => [p.id, p.stock]));
    await db.close();
    const app = await startApp({ label: 'app', via: 'start', port, dataDir, logFile: join(ctx.dir, 'stripe-outage-app.log'), env: { ...stripe.appEnv(), DATABASE_URL: '', SMTP_URL: mailbox.url, RECONCILE_CRON: 'off' } });
    const actions = actionIds();
    const since = Date.now();

    let running = true;
    const outcomes: CheckoutOutcome[] = [];
    let n = 0;
    const lanes = Array.from({ length: 4 }, async () => {
      while (running) {
        const shopper = new Shopper({ base: () => app.url, actions }, `outage-${n++}@example.com`);
        outcomes.push(await checkout(shopper, products[rand(products.length)], 1, { stripe, doubleSubmitRate: 0.1, declineRate: 0, deadlineMs: 60_000, maxBusyWaitMs: 1_000, changeCartRate: 0.1, products }));
      }
    });
    // The breaker as /api/health reports it, every 100 ms.
    const breaker: { at: number; state: string }[] = [];
    const watcher = (async () => {
      while (running) {
        try {
          const h = (await (await fetch(`${app.url}/api/health`, { signal: AbortSignal.timeout(2_000) })).json()) as { gateway?: { state?: string } };
          breaker.push({ at: performance.now(), state: h.gateway?.state ?? '?' });
        } catch {
          /* busy server: next tick */
        }
        await sleep(100);
      }
    })();

    // The probe: cart filled and token made before the outage (tokenization stays up anyway).
    const probeShopper = new Shopper({ base: () => app.url, actions }, 'outage-probe@example.com');
    const probeProduct = products[0];
    const probeAdded = await probeShopper.addToCart(probeProduct, 1);
    const probeToken = await createTokenInBrowser({ stripeUrl: stripe.url, publishableKey: stripe.publishableKey, card: 'pm_card_visa' });
    let probeAnswer: string | undefined;

    await sleep(before);
    const down = performance.now();
    await stripe.control('/faults', { path: '/v1/payment_intents', status: 503 });
    ctx.log(`Stripe down for ${outage / 1000} s (and until the probe's Pay is answered)`);
    const probePay = (async () => {
      if (!probeAdded.ok || !probeToken) return;
      for (;;) {
        try {
          const r = await probeShopper.startPayment(probeProduct.price, probeToken);
          // Every chaos shopper comes from 127.0.0.1: the per-address submit limit is waited out.
          if (r.kind === 'throttled' && r.retryAfterSeconds <= 10) {
            await sleep(r.retryAfterSeconds * 1000);
            continue;
          }
          probeAnswer = r.kind;
          return;
        } catch (err) {
          if (!(err instanceof ServerDown) || performance.now() - down > outage + PROBE_GRACE_MS) {
            probeAnswer = `failed: ${String(err).slice(0, 120)}`;
            return;
          }
          await sleep(250);
        }
      }
    })();
    await sleep(outage);
    await Promise.race([probePay, sleep(PROBE_GRACE_MS)]);
    const probeAnsweredInOutage = probeAnswer !== undefined;
    await stripe.control('/faults', undefined, 'DELETE');
    const back = performance.now();
    ctx.log('Stripe back');
    // The probe kept its cart and its token: it presses Pay again, as the busy page invites, until paid.
    let probePaidAfterS: number | undefined;
    let probeLast = probeAnswer;
    if (probeAnswer === 'busy') {
      while (performance.now() - back < 60_000) {
        const r = await probeShopper.startPayment(probeProduct.price, probeToken!).catch((err: unknown) => ({ kind: `failed: ${String(err).slice(0, 120)}` }));
        probeLast = r.kind;
        if (r.kind === 'submitted' || r.kind === 'already_paid') {
          probePaidAfterS = (performance.now() - back) / 1000;
          break;
        }
        await sleep(r.kind === 'throttled' && 'retryAfterSeconds' in r ? Math.min(r.retryAfterSeconds, 10) * 1000 : 500);
      }
    }
    await sleep(after);
    running = false;
    await Promise.all([...lanes, watcher]);
    // No server was killed: webhooks and jobs alone must finish, no sweep needed.
    const drain = await waitForConvergence({ appUrl: () => app.url, stripe, since, lastStart: Date.now(), afterRestartMs: 0, maxMs: 60_000 });
    // Stripe's 5xx answers the shop's gateway met (its own metrics; this machine may read them).
    const metricsText = await fetch(`${app.url}/api/metrics`).then((r) => r.text()).catch(() => '');
    const stripe5xx = [...metricsText.matchAll(/^brisk_stripe_call_duration_seconds_count\{[^}]*outcome="server_error"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    await app.stop();

    const opened = breaker.some((b) => b.at > down && b.at < back && b.state !== 'closed');
    const closedAt = breaker.find((b) => b.at > back && b.state === 'closed')?.at;
    const firstPaid = outcomes.filter((o) => o.firstReadyAt !== undefined && o.firstReadyAt > back && o.paidAt !== undefined).map((o) => o.paidAt!).sort((a, b) => a - b)[0];
    const during = outcomes.filter((o) => o.startedAt > down && o.startedAt < back);
    const violations: string[] = [];
    const breakerS = closedAt !== undefined ? (closedAt - back) / 1000 : Infinity;
    const paidS = firstPaid !== undefined ? (firstPaid - back) / 1000 : Infinity;
    if (breakerS > RECOVERY_GOAL_S) violations.push(`the breaker was not closed within ${RECOVERY_GOAL_S} s of Stripe's return (${breakerS} s)`);
    const serverErrors = outcomes.reduce((s, o) => s + o.serverErrors, 0);
    if (serverErrors > 0) violations.push(`${serverErrors} shopper requests got a 5xx page or action error instead of a calm "busy"`);
    if (paidS > RECOVERY_GOAL_S) violations.push(`no new checkout was paid within ${RECOVERY_GOAL_S} s of Stripe's return (${paidS} s)`);
    const busyAnswers = outcomes.reduce((s, o) => s + o.busy, 0);
    // The outage reached the shop: the probe pressed Pay while it lasted and was told "busy", and
    // the shop's gateway met Stripe's 5xx (a fault the shop's calls never meet tests nothing).
    if (!probeAdded.ok || !probeToken) violations.push(`the probe shopper could not get to Pay (add to cart: ${probeAdded.ok ? 'ok' : probeAdded.error}; token: ${probeToken ? 'ok' : 'none'})`);
    else if (!probeAnsweredInOutage) violations.push(`the probe's Pay was not answered within ${(outage + PROBE_GRACE_MS) / 1000} s of the outage's start`);
    else if (probeAnswer !== 'busy') violations.push(`the probe shopper pressed Pay while Stripe was down and was answered "${probeAnswer}" instead of a calm "busy"`);
    else if (probePaidAfterS === undefined) violations.push(`the probe shopper, told "busy" during the outage, was not paid within 60 s of Stripe's return (last answer: ${probeLast})`);
    if (stripe5xx === 0) violations.push("the outage never reached the shop: its gateway met no 5xx answer from Stripe");

    const database = await openForChecks({ dataDir });
    try {
      const converged = await checkConverged(database.prisma, drain.seconds);
      const money = await checkPayments({ prisma: database.prisma, stripe, initialStock, since, mail: { sends: mailbox.sendsByOrder(), messages: mailbox.messagesByOrder() }, noStrays: true });
      violations.push(...converged.violations, ...money.violations, ...outcomeViolations(outcomes));
      // Only after the check: what reconciliation would heal (it should find nothing).
      const rec = await runReconciliation(database.prisma, checkGateway(stripe), { windowStart: new Date(since - 3_600_000), windowEnd: new Date(Date.now() + 3_600_000), trigger: 'test' });
      if (rec.status !== 'succeeded') violations.push(`reconciliation ${rec.status}: ${rec.error}`);
      for (const f of rec.findings) violations.push(`reconciliation found (after the check; ${f.healed ? 'healed' : 'not healed'}): ${f.kind} ${f.orderId ?? ''} ${f.paymentIntentId ?? ''}`);
      return {
        figures: {
          'outage s': outage / 1000,
          checkouts: outcomes.length,
          'paid (shopper saw success)': outcomes.filter((o) => o.result === 'paid').length,
          'busy answers': busyAnswers,
          "Stripe 5xx answers the shop's gateway met": stripe5xx,
          '5xx answers': serverErrors,
          'checkouts started during the outage': during.length,
          "the probe's Pay during the outage was answered": probeAnswer ?? 'never',
          'the probe paid after Stripe returned, after s': probePaidAfterS !== undefined ? probePaidAfterS.toFixed(1) : 'never',
          'breaker opened during the outage': opened ? 'yes' : 'no',
          'recovery: breaker closed after s': Number.isFinite(breakerS) ? breakerS.toFixed(1) : 'never',
          'recovery: first new paid checkout after s': Number.isFinite(paidS) ? paidS.toFixed(1) : 'never',
          'carts changed after Pay': outcomes.reduce((s, o) => s + o.cartChanges, 0),
          'orders fulfilled': money.figures.ordersFulfilled,
          'orders open': money.figures.ordersOpen,
          'confirmation emails sent (SMTP)': money.figures.emailsSent,
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
