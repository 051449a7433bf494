// One shopper of the checkout benchmarks, through the real server as the browser drives it
// (bench:server, bench:soak): add to cart by the product page's form post, the card's
// ConfirmationToken made at the emulator with the publishable key (Stripe.js's request, straight
// to "Stripe", not through our server), Pay with it (the startPaymentAction server action, posted
// as React posts it), then the order page at once and every second until it says Paid. Each
// shopper comes from its own loopback address. Busy or throttled answers turn the shopper away
// (not retried); 3-D Secure is not driven.
import { createTokenInBrowser } from '../../chaos/lib/shopper';
import { sleep } from './app-process';
import { LoopbackBrowser } from './browser-client';

/** How long a shopper keeps loading the order page for it to say Paid. */
export const PAID_WITHIN_MS = 30_000;
const DETAILS = { name: 'Bench Shopper', addressLine1: '1 Load St', city: 'Testville', postalCode: '94107', country: 'US' };

export type Target = 'shop' | 'floor';

export interface Product {
  id: string;
  slug: string;
  price: number;
}

export interface Step {
  start: number;
  end: number;
}

export interface Outcome {
  target: Target;
  i: number;
  result: 'paid' | 'turned away' | 'not paid' | 'error';
  detail?: string;
  paymentIntentId?: string;
  add?: Step;
  pay?: Step;
  pages: Step[];
  /** From arrival to Paid. */
  toPaidMs?: number;
}

/** Where a shopper shops: the app's port, its startPayment action, the emulator its browser talks to. */
export interface ShopSite {
  target: Target;
  port: number;
  actionId: string;
  emulatorUrl: string;
  publishableKey: string;
}

let addressSeq = 0;
function nextAddress(): string {
  const n = addressSeq++;
  return `127.${10 + Math.floor(n / 62500)}.${Math.floor(n / 250) % 250}.${(n % 250) + 2}`;
}

export interface Hooks {
  afterAdd?: () => void;
  afterPay?: () => void;
  beforePages?: () => Promise<void>;
  afterPage?: () => void;
}

/** The browser's checkout, in one place (the ConfirmationToken flow; the floor's is alike). */
export async function checkout(site: ShopSite, product: Product, i: number, arrive: number, hooks: Hooks = {}): Promise<Outcome> {
  const b = new LoopbackBrowser(site.port, nextAddress(), true);
  if (site.target === 'floor') b.cartCookieName = 'floor_cart';
  const out: Outcome = { target: site.target, i, result: 'error', pages: [] };
  const timed = async <T>(fn: () => Promise<T>): Promise<[T, Step]> => {
    const start = performance.now();
    const v = await fn();
    return [v, { start, end: performance.now() }];
  };
  try {
    if (site.target === 'shop') {
      const [added, addStep] = await timed(() => b.addToCart(product));
      out.add = addStep;
      if (!added.ok) throw new Error(`add to cart: ${added.error}`);
    } else {
      const [r, addStep] = await timed(() =>
        b.request('POST', '/cart', { 'content-type': 'application/x-www-form-urlencoded', origin: `http://127.0.0.1:${site.port}` }, new URLSearchParams({ productId: product.id, quantity: '1' }).toString()),
      );
      out.add = addStep;
      if (r.status !== 303) throw new Error(`add to cart: HTTP ${r.status}`);
    }
    hooks.afterAdd?.();
    // The ConfirmationToken flow: Stripe.js makes the card's token in the browser (straight to
    // "Stripe" with the publishable key, not through our server, so not timed as server time),
    // then Pay sends it and the server creates and confirms the PaymentIntent in one call.
    const confirmationToken = await createTokenInBrowser({ stripeUrl: site.emulatorUrl, publishableKey: site.publishableKey, card: 'pm_card_visa' });
    if (!confirmationToken) throw new Error('the emulator made no ConfirmationToken');
    const input = { ...DETAILS, email: `shopper${i}@example.com`, expectedAmount: product.price, confirmationToken };
    const [s, payStep] = await timed(() => b.startPayment(site.actionId, input));
    out.pay = payStep;
    hooks.afterPay?.();
    const res = s.result as { kind: string; paymentIntentId?: string; orderToken?: string } | null;
    if (res?.kind === 'requires_action') {
      // 3-D Secure (not with this card): the browser would run handleNextAction; not driven here.
      out.result = 'not paid';
      out.detail = 'requires_action (3-D Secure is not driven by this bench)';
      out.paymentIntentId = res.paymentIntentId;
      return out;
    }
    if (!res || res.kind !== 'submitted') {
      out.result = res && (res.kind === 'busy' || res.kind === 'throttled') ? 'turned away' : 'error';
      out.detail = res ? res.kind : `HTTP ${s.http}`;
      return out;
    }
    out.paymentIntentId = res.paymentIntentId;
    const pagePath = site.target === 'shop' ? res.orderToken! : res.paymentIntentId!;
    await hooks.beforePages?.();
    const deadline = performance.now() + PAID_WITHIN_MS;
    while (performance.now() < deadline) {
      const [v, pageStep] = await timed(() => b.viewOrder(pagePath));
      out.pages.push(pageStep);
      hooks.afterPage?.();
      if (v.status === 'Paid') {
        out.result = 'paid';
        out.toPaidMs = performance.now() - arrive;
        return out;
      }
      await sleep(1_000);
    }
    out.result = 'not paid';
    out.detail = `not Paid within ${PAID_WITHIN_MS / 1000} s`;
  } catch (err) {
    out.result = 'error';
    out.detail = err instanceof Error ? err.message : String(err);
  } finally {
    b.close();
  }
  return out;
}
