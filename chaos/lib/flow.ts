// One shopper's whole checkout, as a person with a browser would persist through it: add to
// cart, press Pay (sometimes twice at once), sometimes change their mind and add to the cart
// before paying (a new attempt at a new price), confirm in Stripe.js, try again on "busy", on a
// decline (with another card) and when the server is down. Nobody opens the order page here:
// it applies the PaymentIntent's state itself, which would heal what the checks must see.
import type { StartPaymentResult } from '../../lib/checkout/start-payment';
import { createTokenInBrowser, ServerDown, Shopper } from './shopper';
import { chance, sleep, type StripeStandIn } from './harness';

export interface Product {
  id: string;
  slug: string;
  price: number;
}

export interface CheckoutOutcome {
  result: 'paid' | 'gave_up' | 'refused';
  detail?: string;
  doubleSubmits: number;
  declines: number;
  serverDown: number;
  /** Answers with a 5xx status (the server was up but failed the request). */
  serverErrors: number;
  busy: number;
  /** "A payment is in progress": the shopper waits and presses Pay again. */
  inProgress: number;
  /** "Wait a few seconds" from the per-address submit limit. */
  throttled: number;
  /** Times the shopper added to the cart after Pay had made a PaymentIntent. */
  cartChanges: number;
  /** Answers a shopper should never see ("Something went wrong", a crash): each a violation. */
  unexpected: string[];
  /** Two answers to one double submit naming different PaymentIntents for the same attempt. */
  splitDoubleSubmit?: string;
  orderToken?: string;
  paymentIntentId?: string;
  /** When startPayment first answered `ready`, and when the payment succeeded (performance.now()). */
  firstReadyAt?: number;
  paidAt?: number;
  startedAt: number;
}

export interface FlowOptions {
  stripe: StripeStandIn;
  doubleSubmitRate?: number;
  declineRate?: number;
  deadlineMs?: number;
  maxBusyWaitMs?: number;
  /** Chance that, once Pay has made a PaymentIntent, the shopper adds another product first. */
  changeCartRate?: number;
  /** What they may add when they change their mind. */
  products?: Product[];
}

/** Retries `fn` while the server is down (a crash, a restart), counting it in `out`, until the deadline. */
export async function persist<T>(fn: () => Promise<T>, out: Pick<CheckoutOutcome, 'serverDown' | 'serverErrors'>, deadline: number): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ServerDown) || performance.now() > deadline) throw err;
      out.serverDown++;
      if (err.status) out.serverErrors++;
      await sleep(250);
    }
  }
}

export async function checkout(shopper: Shopper, product: Product, quantity: number, o: FlowOptions): Promise<CheckoutOutcome> {
  const out: CheckoutOutcome = { result: 'gave_up', doubleSubmits: 0, declines: 0, serverDown: 0, serverErrors: 0, busy: 0, inProgress: 0, throttled: 0, cartChanges: 0, unexpected: [], startedAt: performance.now() };
  const deadline = performance.now() + (o.deadlineMs ?? 120_000);
  // A shopper who changes their mind pays once (declined: an attempt at the first price exists),
  // then adds to the cart and pays the new total with another card.
  const willChangeMind = Boolean(o.products?.length) && chance(o.changeCartRate ?? 0);
  let declineNext = willChangeMind || chance(o.declineRate ?? 0.05);
  try {
    const added = await persist(() => shopper.addToCart(product, quantity), out, deadline);
    if (!added.ok) return { ...out, result: 'refused', detail: `addToCart: ${added.error}` };
    let amount = product.price * quantity;
    let changedMind = false;
    // The browser's token: kept for retries after busy answers and crashes (so a payment Stripe
    // took before the answer was lost is found under the same key), renewed after a decline.
    let token: string | null = null;
    while (performance.now() < deadline) {
      const card = declineNext ? 'pm_card_chargeDeclined' : 'pm_card_visa';
      token ??= await createTokenInBrowser({ stripeUrl: o.stripe.url, publishableKey: o.stripe.publishableKey, card });
      if (!token) {
        await sleep(250);
        continue;
      }
      const confirmationToken = token;
      const double = chance(o.doubleSubmitRate ?? 0.25);
      let results: StartPaymentResult[];
      try {
        if (double) {
          out.doubleSubmits++;
          const settled = await Promise.allSettled([shopper.startPayment(amount, confirmationToken), shopper.startPayment(amount, confirmationToken)]);
          results = settled.filter((s): s is PromiseFulfilledResult<StartPaymentResult> => s.status === 'fulfilled').map((s) => s.value);
          if (results.length === 0) throw (settled[0] as PromiseRejectedResult).reason;
        } else {
          results = [await shopper.startPayment(amount, confirmationToken)];
        }
      } catch (err) {
        if (err instanceof ServerDown) {
          out.serverDown++;
          if (err.status) out.serverErrors++;
          await sleep(250);
          continue;
        }
        throw err;
      }
      // One PaymentIntent per attempt, whatever the copies of a submit were told.
      const withPi = results.filter((r): r is Extract<StartPaymentResult, { kind: 'submitted' | 'requires_action' }> => r.kind === 'submitted' || r.kind === 'requires_action');
      const attempts = new Map<number, Set<string>>();
      for (const r of withPi) attempts.set(r.attempt, new Set([...(attempts.get(r.attempt) ?? []), r.paymentIntentId]));
      for (const [attempt, ids] of attempts) if (ids.size > 1) out.splitDoubleSubmit = `attempt ${attempt}: ${[...ids].join(' ≠ ')}`;
      const r = (withPi[0] ?? results.find((x) => x.kind === 'declined') ?? results[0]) as StartPaymentResult;
      if (r.kind !== 'busy' && r.kind !== 'error') token = null;
      if (r.kind === 'requires_action') return { ...out, result: 'refused', detail: 'requires_action: the scenarios use frictionless cards only' };
      if (r.kind === 'submitted') {
        out.firstReadyAt ??= performance.now();
        out.orderToken = r.orderToken;
        out.paymentIntentId = r.paymentIntentId;
        // Paid (or processing) in the server's one call.
        out.paidAt = performance.now();
        out.result = 'paid';
        break;
      }
      if (r.kind === 'declined') {
        out.declines++;
        declineNext = false;
        if (willChangeMind && !changedMind && o.products?.length) {
          // Changed their mind after the decline: one more thing in the cart, then Pay again
          // (a new attempt at a new price; the declined one must never be what pays).
          changedMind = true;
          const extra = o.products[Math.floor(Math.random() * o.products.length)];
          const more = await persist(() => shopper.addToCart(extra, 1), out, deadline);
          if (!more.ok) return { ...out, result: 'refused', detail: `addToCart (changed mind): ${more.error}` };
          out.cartChanges++;
          amount += extra.price;
        }
        continue;
      }
      if (r.kind === 'already_paid') {
        out.orderToken = r.orderToken;
        out.paidAt = performance.now();
        out.result = 'paid';
        break;
      }
      if (r.kind === 'in_progress') {
        // Not paid yet: the page says so, and the shopper looks again a moment later.
        out.inProgress++;
        await sleep(1_000);
        continue;
      }
      if (r.kind === 'busy') {
        out.busy++;
        await sleep(Math.min(r.retryAfterSeconds * 1000, o.maxBusyWaitMs ?? 2_000));
        continue;
      }
      // Every chaos shopper comes from 127.0.0.1: the per-address submit limit's "wait a few
      // seconds" is waited out as a shopper would; the card-testing pause (minutes) is not.
      if (r.kind === 'throttled' && r.retryAfterSeconds <= 10) {
        out.throttled++;
        await sleep(r.retryAfterSeconds * 1000);
        continue;
      }
      if (r.kind === 'error') {
        out.unexpected.push(`startPayment answered error: ${'message' in r ? r.message : ''}`);
        await sleep(500);
        continue;
      }
      return { ...out, result: 'refused', detail: `${r.kind}: ${'message' in r ? r.message : ''}` };
    }
    if (out.result !== 'paid') out.detail ??= 'deadline passed';
    return out;
  } catch (err) {
    out.unexpected.push(`checkout crashed: ${String(err)}`);
    return { ...out, result: out.result === 'paid' ? 'paid' : 'gave_up', detail: String(err) };
  }
}

/**
 * What the shoppers met that they should not have: every checkout must end paid (nothing here
 * runs out of stock), and every unexpected answer is listed, grouped by its text.
 */
export function outcomeViolations(outcomes: CheckoutOutcome[]): string[] {
  const v: string[] = [];
  const group = (xs: string[]) => {
    const m = new Map<string, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return [...m].slice(0, 15);
  };
  for (const [why, n] of group(outcomes.filter((o) => o.result !== 'paid').map((o) => `${o.result}: ${(o.detail ?? '').slice(0, 200)}`))) v.push(`${n} checkouts did not end paid (${why})`);
  for (const [why, n] of group(outcomes.flatMap((o) => o.unexpected.map((u) => u.slice(0, 200))))) v.push(`a shopper met: ${why} (×${n})`);
  for (const o of outcomes) if (o.splitDoubleSubmit) v.push(`a double submit got two PaymentIntents for one attempt (${o.splitDoubleSubmit})`);
  return v;
}
