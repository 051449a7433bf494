// One browser as the shop's server sees it, from a loopback address of its own (127.0.0.2,
// 127.0.0.3, …: all of 127.0.0.0/8 is local on Linux), so benchmarks can run many clients on
// one machine that the server tells apart by their TCP peer address, as it would real ones.
// It speaks the same requests as chaos/lib/shopper.ts (product form POST, the checkout's server
// action through React's reply encoder, the order page by GET), over node:http so the socket can
// be bound to its address. No lib/ function runs in this process.
import http from 'node:http';
import { createRequire } from 'node:module';
import type { StartPaymentResult } from '../../lib/checkout/start-payment';
import { flightResult, unescapeHtml } from '../../chaos/lib/shopper';

const require = createRequire(import.meta.url);
const { encodeReply } = require('next/dist/compiled/react-server-dom-webpack/client.edge.js') as { encodeReply: (v: unknown) => Promise<string | FormData> };

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

export interface OrderPage {
  http: number;
  /** The status label shown ("Awaiting payment", "Paid", …); null when the page has none. */
  status: string | null;
  /** The page said it could not reach the payment provider (the gateway refused or failed). */
  providerUnavailable: boolean;
}

export class LoopbackBrowser {
  cookie = '';
  /** The cart cookie this browser keeps (the bare floor app of bench/floor names its own). */
  cartCookieName = 'brisk_cart';
  private readonly agent: http.Agent;

  constructor(
    private readonly port: number,
    /** The client's own address, e.g. 127.0.0.7. */
    readonly address: string,
    /**
     * Also send `X-Forwarded-For: <address>`. Only for a server that derives the client from that
     * header; one that trusts only its TCP peer ignores it and sees the same address anyway.
     */
    private readonly forwardedFor = false,
    maxSockets = 8,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets, localAddress: address });
  }

  request(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: string, timeoutMs = 30_000): Promise<Answer> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: {
            ...headers,
            ...(this.cookie ? { cookie: this.cookie } : {}),
            ...(this.forwardedFor ? { 'x-forwarded-for': this.address } : {}),
            ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const cart = (res.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${this.cartCookieName}=`));
            if (cart) this.cookie = cart.split(';')[0];
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started });
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  private get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The product page's "Add to cart" form POST: 303 when added. */
  async addToCart(product: { id: string; slug: string }, quantity = 1): Promise<{ ok: boolean; error?: string }> {
    const r = await this.request(
      'POST',
      `/products/${product.slug}`,
      { 'content-type': 'application/x-www-form-urlencoded', origin: this.origin },
      new URLSearchParams({ productId: product.id, quantity: String(quantity) }).toString(),
    );
    if (r.status === 303) return { ok: true };
    const refused = r.body.match(/data-testid="cart-error"[^>]*>([^<]*)</)?.[1];
    return { ok: false, error: refused !== undefined ? unescapeHtml(refused) : `HTTP ${r.status}` };
  }

  /** The checkout's Pay: the startPaymentAction server action, as React posts it. */
  async startPayment(actionId: string, input: Record<string, unknown>): Promise<{ result: StartPaymentResult | null; http: number; ms: number }> {
    const body = await encodeReply([input]);
    if (typeof body !== 'string') throw new Error('encodeReply gave FormData: the input has a value a plain body cannot carry');
    const r = await this.request('POST', '/checkout', { 'next-action': actionId, origin: this.origin, accept: 'text/x-component', 'content-type': 'text/plain;charset=UTF-8' }, body);
    if (r.status !== 200) return { result: null, http: r.status, ms: r.ms };
    return { result: flightResult(r.body) as StartPaymentResult, http: r.status, ms: r.ms };
  }

  /** The order page (it applies the PaymentIntent's state itself). */
  async viewOrder(token: string): Promise<OrderPage & { ms: number }> {
    const r = await this.request('GET', `/orders/${token}`, { accept: 'text/html' });
    const status = r.body.match(/data-testid="order-status"[^>]*>([^<]+)</)?.[1]?.trim() ?? null;
    return { http: r.status, status, providerUnavailable: r.body.includes('We are confirming your payment with our payment provider'), ms: r.ms };
  }

  close(): void {
    this.agent.destroy();
  }
}
