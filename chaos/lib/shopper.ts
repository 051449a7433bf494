// A shopper driving the real Next.js server over HTTP the way the browser does: "Add to cart" as
// the product page's plain form POST, the checkout's server action through React's own reply
// encoder (Next-Action header, the signed cart cookie), the order page
// by GET, and Stripe.js's part — a ConfirmationToken for the card (publishable key), and for
// stale tabs confirming a PaymentIntent with its client secret — straight against the emulator.
// No lib/ function runs in this process.
import { createRequire } from 'node:module';
import type { StartPaymentResult } from '../../lib/checkout/start-payment';

const require = createRequire(import.meta.url);
const { encodeReply } = require('next/dist/compiled/react-server-dom-webpack/client.edge.js') as { encodeReply: (v: unknown) => Promise<string | FormData> };

/** The server could not be reached or died mid-request (a crash, a restart). */
export class ServerDown extends Error {
  /** The HTTP status when the server answered 5xx; undefined when it could not be reached. */
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface ShopperDeps {
  /** The app's base URL now (an instance may be chosen per request). */
  base: () => string;
  actions: Record<string, string>;
}

export const DETAILS = { name: 'Chaos Shopper', addressLine1: '1 Failure Way', city: 'Testville', postalCode: '94107', country: 'US' };

export function unescapeHtml(s: string): string {
  return s.replace(/&(lt|gt|quot|#x27|#39|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', '#x27': "'", '#39': "'", amp: '&' })[e]!);
}

/** The value a server action answered, from its Flight (text/x-component) response. */
export function flightResult(text: string): unknown {
  const rows = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) rows.set(line.slice(0, i), line.slice(i + 1));
  }
  const head = JSON.parse(rows.get('0') ?? 'null') as { a?: unknown } | null;
  if (!head || !('a' in head)) throw new Error(`unexpected action response: ${text.slice(0, 200)}`);
  const a = head.a;
  if (typeof a === 'string' && a.startsWith('$@')) return JSON.parse(rows.get(a.slice(2)) ?? 'null');
  return a;
}

export class Shopper {
  cookie = '';
  /** Sent with every request (tests send forged X-Forwarded-For this way). */
  extraHeaders: Record<string, string> = {};
  constructor(
    private readonly deps: ShopperDeps,
    readonly email: string,
  ) {}

  private async post(page: string, action: string, args: unknown[]): Promise<unknown> {
    const base = this.deps.base();
    const id = this.deps.actions[action];
    if (!id) throw new Error(`no server action ${action} in this build`);
    let r: Response;
    let text: string;
    try {
      r = await fetch(base + page, {
        method: 'POST',
        headers: { ...this.extraHeaders, 'Next-Action': id, Origin: base, Accept: 'text/x-component', ...(this.cookie ? { Cookie: this.cookie } : {}) },
        body: await encodeReply(args),
        signal: AbortSignal.timeout(60_000),
      });
      text = await r.text();
    } catch (err) {
      throw new ServerDown(String((err as Error).cause ?? err));
    }
    if (r.status >= 500) throw new ServerDown(`HTTP ${r.status}`, r.status);
    if (r.status !== 200) throw new Error(`${action}: HTTP ${r.status} ${text.slice(0, 200)}`);
    const cart = r.headers.getSetCookie().find((c) => c.startsWith('brisk_cart='));
    if (cart) this.cookie = cart.split(';')[0];
    return flightResult(text);
  }

  /** The product page's "Add to cart": a plain form POST to the page, as the browser sends it.
   * 303 back to the page when added; 422 with the refusal shown inline otherwise. */
  async addToCart(product: { id: string; slug: string }, quantity: number): Promise<{ ok: boolean; error?: string }> {
    const base = this.deps.base();
    let r: Response;
    let text: string;
    try {
      r = await fetch(`${base}/products/${product.slug}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { ...this.extraHeaders, 'content-type': 'application/x-www-form-urlencoded', Origin: base, ...(this.cookie ? { Cookie: this.cookie } : {}) },
        body: new URLSearchParams({ productId: product.id, quantity: String(quantity) }).toString(),
        signal: AbortSignal.timeout(60_000),
      });
      text = await r.text();
    } catch (err) {
      throw new ServerDown(String((err as Error).cause ?? err));
    }
    if (r.status >= 500) throw new ServerDown(`HTTP ${r.status}`, r.status);
    if (r.status === 303) {
      const cart = r.headers.getSetCookie().find((c) => c.startsWith('brisk_cart='));
      if (cart) this.cookie = cart.split(';')[0];
      return { ok: true };
    }
    const refused = text.match(/data-testid="cart-error"[^>]*>([^<]*)</)?.[1];
    if (r.status === 422 && refused !== undefined) return { ok: false, error: unescapeHtml(refused) };
    // Sold out meanwhile: the page shows "Out of stock" instead of the form (and its error).
    const stock = text.match(/data-testid="stock"[^>]*>([^<]*)</)?.[1];
    if (r.status === 422 && stock === 'Out of stock') return { ok: false, error: 'Out of stock' };
    throw new Error(`addToCart: HTTP ${r.status} ${text.slice(0, 200)}`);
  }

  /** Pay: the card goes by its ConfirmationToken (see createTokenInBrowser); the server confirms. */
  async startPayment(expectedAmount: number, confirmationToken: string): Promise<StartPaymentResult> {
    return (await this.post('/checkout', 'startPaymentAction', [{ ...DETAILS, email: this.email, expectedAmount, confirmationToken }])) as StartPaymentResult;
  }

  /** The order page; it applies the PaymentIntent's state itself. Returns the status shown. */
  async viewOrder(token: string): Promise<string | null> {
    let r: Response;
    let html: string;
    try {
      r = await fetch(`${this.deps.base()}/orders/${token}`, { headers: this.cookie ? { Cookie: this.cookie } : {}, signal: AbortSignal.timeout(60_000) });
      html = await r.text();
    } catch (err) {
      throw new ServerDown(String((err as Error).cause ?? err));
    }
    if (r.status >= 500) throw new ServerDown(`HTTP ${r.status}`, r.status);
    const m = html.match(/data-testid="order-status"[^>]*>([^<]+)</);
    return m ? m[1].trim() : null;
  }
}

/** Test cards by the names the scenarios use (the numbers Stripe.js would read from the Payment Element). */
export const TEST_CARDS: Record<string, string> = {
  pm_card_visa: '4242424242424242',
  pm_card_chargeDeclined: '4000000000000002',
  pm_card_authenticationRequired: '4000002500003155',
};

/**
 * Stripe.js's createConfirmationToken, as the browser sends it: the card as
 * payment_method_data, with the publishable key. Returns the token id, or null when Stripe
 * could not be reached.
 */
export async function createTokenInBrowser(o: { stripeUrl: string; publishableKey: string; card?: string }): Promise<string | null> {
  const number = TEST_CARDS[o.card ?? 'pm_card_visa'] ?? o.card ?? TEST_CARDS.pm_card_visa;
  const body = new URLSearchParams({
    'payment_method_data[type]': 'card',
    'payment_method_data[card][number]': number,
    'payment_method_data[card][exp_month]': '12',
    'payment_method_data[card][exp_year]': String(new Date().getUTCFullYear() + 3),
    'payment_method_data[card][cvc]': '123',
    return_url: 'http://127.0.0.1/checkout',
  });
  try {
    const r = await fetch(`${o.stripeUrl}/v1/confirmation_tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${o.publishableKey}` },
      body,
      signal: AbortSignal.timeout(20_000),
    });
    if (!r.ok) return null;
    return ((await r.json()) as { id?: string }).id ?? null;
  } catch {
    return null;
  }
}

/** Stripe.js's confirmPayment, as the browser sends it (publishable key + client secret). */
export async function confirmInBrowser(o: { stripeUrl: string; publishableKey: string; paymentIntentId: string; clientSecret: string; paymentMethod: string }): Promise<{ status?: string; error?: { code?: string; type?: string }; http: number }> {
  const body = new URLSearchParams({ payment_method: o.paymentMethod, client_secret: o.clientSecret, key: o.publishableKey, return_url: 'http://127.0.0.1/return' });
  try {
    const r = await fetch(`${o.stripeUrl}/v1/payment_intents/${o.paymentIntentId}/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${o.publishableKey}` },
      body,
      signal: AbortSignal.timeout(20_000),
    });
    const json = (await r.json().catch(() => ({}))) as { status?: string; error?: { code?: string; type?: string } };
    return { ...json, http: r.status };
  } catch {
    return { http: 0 };
  }
}

/** Stripe.js's retrievePaymentIntent (publishable key + client secret). */
export async function retrieveInBrowser(o: { stripeUrl: string; publishableKey: string; paymentIntentId: string; clientSecret: string }): Promise<string | null> {
  try {
    const q = new URLSearchParams({ client_secret: o.clientSecret, key: o.publishableKey });
    const r = await fetch(`${o.stripeUrl}/v1/payment_intents/${o.paymentIntentId}?${q}`, { headers: { authorization: `Bearer ${o.publishableKey}` }, signal: AbortSignal.timeout(20_000) });
    if (!r.ok) return null;
    return ((await r.json()) as { status?: string }).status ?? null;
  } catch {
    return null;
  }
}
