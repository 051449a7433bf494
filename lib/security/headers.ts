// Security headers for every page: a per-request nonce CSP that allows exactly what Stripe.js
// needs (js.stripe.com, api.stripe.com, its hooks and fraud frames — or the emulator's origin
// when it stands in) and nothing else, HSTS only in production over https, and the usual
// hardening headers. Pure, so each rule is unit-tested without Next.js; proxy.ts applies it.

export interface SecurityHeaderOptions {
  nonce: string;
  /** NODE_ENV: 'development' adds 'unsafe-eval' (React's dev tooling needs it). */
  env: string | undefined;
  /** STRIPE_JS_URL: where the browser loads Stripe.js from when the emulator stands in. */
  stripeJsUrl?: string;
  /** STRIPE_API_BASE: the API the emulated Stripe.js talks to. */
  stripeApiBase?: string;
  /** True when the request reached us over https (APP_URL https or x-forwarded-proto). */
  https: boolean;
}

// Stripe's documented CSP sources for Stripe.js and the Payment Element.
export const STRIPE_SOURCES = {
  script: ['https://js.stripe.com', 'https://*.js.stripe.com'],
  frame: ['https://js.stripe.com', 'https://*.js.stripe.com', 'https://hooks.stripe.com', 'https://m.stripe.network'],
  connect: ['https://api.stripe.com'],
  paymentFrame: 'https://js.stripe.com',
} as const;

function originOf(url: string | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
}

/** The origins Stripe.js needs: the emulator's when STRIPE_JS_URL points at it, else Stripe's. */
export function stripeOrigins(opts: Pick<SecurityHeaderOptions, 'stripeJsUrl' | 'stripeApiBase'>): { script: string[]; frame: string[]; connect: string[]; paymentFrame: string } {
  const js = originOf(opts.stripeJsUrl);
  const api = originOf(opts.stripeApiBase);
  if (!js) return { script: [...STRIPE_SOURCES.script], frame: [...STRIPE_SOURCES.frame], connect: [...STRIPE_SOURCES.connect], paymentFrame: STRIPE_SOURCES.paymentFrame };
  const connect = [...new Set([js, ...(api ? [api] : [])])];
  return { script: [js], frame: [js], connect, paymentFrame: js };
}

/** A fresh nonce: 128 random bits, base64. */
export function createNonce(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes));
}

export function contentSecurityPolicy(opts: SecurityHeaderOptions): string {
  const stripe = stripeOrigins(opts);
  const dev = opts.env === 'development';
  const directives: [string, ...string[]][] = [
    ['default-src', "'self'"],
    // 'strict-dynamic': scripts our nonce'd scripts load (Next's chunks, Stripe.js) are trusted;
    // the host list only matters to browsers without CSP3.
    ['script-src', "'self'", `'nonce-${opts.nonce}'`, "'strict-dynamic'", ...stripe.script, ...(dev ? ["'unsafe-eval'"] : [])],
    ['style-src', "'self'", `'nonce-${opts.nonce}'`],
    // next/image renders style="color:transparent" and charts size themselves with style
    // attributes; attributes cannot run script, <style> elements still need the nonce.
    ['style-src-attr', "'unsafe-inline'"],
    ['img-src', "'self'", 'data:', 'blob:'],
    ['font-src', "'self'"],
    ['connect-src', "'self'", ...stripe.connect],
    ['frame-src', ...stripe.frame],
    ['worker-src', "'self'", 'blob:'],
    ['manifest-src', "'self'"],
    ['object-src', "'none'"],
    ['base-uri', "'self'"],
    ['form-action', "'self'"],
    ['frame-ancestors', "'none'"],
  ];
  if (opts.https) directives.push(['upgrade-insecure-requests']);
  return directives.map((d) => d.join(' ')).join('; ');
}

/** Every security header a page response carries. */
export function securityHeaders(opts: SecurityHeaderOptions): Record<string, string> {
  const stripe = stripeOrigins(opts);
  const headers: Record<string, string> = {
    'Content-Security-Policy': contentSecurityPolicy(opts),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'strict-origin-when-cross-origin',
    // Only our page and Stripe's frame may ask for the Payment Request API; nothing else is used.
    'Permissions-Policy': `payment=(self "${stripe.paymentFrame}"), camera=(), microphone=(), geolocation=()`,
    // For browsers that predate frame-ancestors.
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin-allow-popups',
  };
  if (opts.env === 'production' && opts.https) headers['Strict-Transport-Security'] = 'max-age=63072000; includeSubDomains';
  return headers;
}

/** Whether a request arrived over https: the public URL says so, or the load balancer does. */
export function isHttpsRequest(appUrl: string | undefined, forwardedProto: string | null, requestUrl: string): boolean {
  if ((appUrl ?? '').startsWith('https://')) return true;
  if (forwardedProto?.split(',')[0]?.trim() === 'https') return true;
  return requestUrl.startsWith('https://');
}

/** Bodies larger than this are refused before a page or server action reads them. */
export const MAX_PAGE_BODY_BYTES = 128 * 1024;

export function bodyTooLarge(contentLength: string | null): boolean {
  if (!contentLength) return false;
  const n = Number(contentLength);
  return !Number.isFinite(n) || n < 0 || n > MAX_PAGE_BODY_BYTES;
}
