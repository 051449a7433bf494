// One shopper's whole checkout, as a person with a browser would persist through it: add to
// cart, press Pay (sometimes twice at once), confirm in Stripe.js, try again on "busy", on a
// decline (with another card) and when the server is down, and open the order page at the end.
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
  const out: CheckoutOutcome = { result: 'gave_up', doubleSubmits: 0, declines: 0, serverDown: 0, serverErrors: 0, busy: 0, startedAt: performance.now() };
  const deadline = performance.now() + (o.deadlineMs ?? 120_000);
  let declineNext = chance(o.declineRate ?? 0.05);
  try {
    const added = await persist(() => shopper.addToCart(product, quantity), out, deadline);
    if (!added.ok) return { ...out, result: 'refused', detail: `addToCart: ${added.error}` };
    const amount = product.price * quantity;
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
      if (r.kind === 'submitted' || r.kind === 'requires_action') {
        out.firstReadyAt ??= performance.now();
        out.orderToken = r.orderToken;
        out.paymentIntentId = r.paymentIntentId;
        // The scenarios' cards are frictionless: paid (or processing) in the server's one call.
        out.paidAt = performance.now();
        out.result = 'paid';
        break;
      }
      if (r.kind === 'declined') {
        out.declines++;
        declineNext = false;
        continue;
      }
      if (r.kind === 'already_paid' || r.kind === 'in_progress') {
        out.orderToken = r.orderToken;
        out.paidAt = performance.now();
        out.result = 'paid';
        break;
      }
      if (r.kind === 'busy') {
        out.busy++;
        await sleep(Math.min(r.retryAfterSeconds * 1000, o.maxBusyWaitMs ?? 2_000));
        continue;
      }
      if (r.kind === 'error') {
        await sleep(500);
        continue;
      }
      return { ...out, result: 'refused', detail: `${r.kind}: ${'message' in r ? r.message : ''}` };
    }
    if (out.result === 'paid' && out.orderToken) {
      // The return page converges on its own; a crash here is the shopper's problem, not the money's.
      await persist(() => shopper.viewOrder(out.orderToken!), out, performance.now() + 30_000).catch(() => null);
    }
    return out;
  } catch (err) {
    return { ...out, result: out.result === 'paid' ? 'paid' : 'gave_up', detail: String(err) };
  }
}
