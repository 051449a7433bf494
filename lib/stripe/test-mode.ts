// Whether this shop takes real payments, decided once at start and shown on every page.
//
// `npm start` without Stripe keys runs the bundled emulator: fine on a laptop, a disaster on a
// public deployment, where the shop would accept test cards as real orders and never collect a
// cent. So a start that looks like production (APP_URL on https, or the operator's NODE_ENV
// production with APP_URL on a host other than this machine) refuses to fall back to the
// emulator unless demo mode is asked for in so many words (BRISK_DEMO_MODE=1). Whenever the
// payments are not real (demo mode, the emulator, Stripe test keys) every shop and admin page
// says so. Framework-free: scripts/start.ts and the layouts both use it.

/** What the start-up check needs; all from the environment as the operator set it. */
export interface StartEnvironment {
  /** APP_URL, the shop's public URL (may be unset). */
  appUrl?: string;
  /** NODE_ENV as the operator set it, before scripts/start.ts forces `production` for Next. */
  nodeEnv?: string;
  /** STRIPE_SECRET_KEY is configured (real Stripe, test or live). */
  hasStripeKey: boolean;
  /** BRISK_DEMO_MODE=1 */
  demoMode: boolean;
}

export type StripeChoice =
  | { use: 'stripe' }
  | { use: 'emulator'; demo: boolean; production: boolean }
  | { use: 'refuse'; message: string };

/**
 * True for names and addresses that only reach this machine: `localhost` (and `*.localhost`,
 * which resolvers send to loopback), 127.0.0.0/8 and ::1 (also IPv4-mapped). Everything else —
 * a domain, a LAN or public address, 0.0.0.0 — can be reached by other people's browsers and
 * counts as public.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : host;
  const parts = v4.split('.');
  return parts.length === 4 && parts[0] === '127' && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** Why this start counts as production, or null when it does not. */
export function productionReason(env: Pick<StartEnvironment, 'appUrl' | 'nodeEnv'>): string | null {
  if (!env.appUrl) return null;
  let url: URL;
  try {
    url = new URL(env.appUrl);
  } catch {
    return null; // config validation reports a malformed APP_URL
  }
  if (url.protocol === 'https:') return `APP_URL=${url.origin} is on https`;
  if (env.nodeEnv === 'production' && !isLoopbackHost(url.hostname)) return `NODE_ENV=production and APP_URL=${url.origin} is a public host`;
  return null;
}

/** The start-up decision: real Stripe, the emulator (maybe as a declared demo), or a refusal. */
export function chooseStripe(env: StartEnvironment): StripeChoice {
  if (env.hasStripeKey) return { use: 'stripe' };
  const why = productionReason(env);
  if (why === null) return { use: 'emulator', demo: env.demoMode, production: false };
  if (env.demoMode) return { use: 'emulator', demo: true, production: true };
  return {
    use: 'refuse',
    message: [
      `Brisk will not start: this looks like a production deployment (${why}), but no Stripe keys are set.`,
      'Without them npm start would run the bundled Stripe emulator, and the shop would accept test cards as real orders without collecting any money.',
      'Set STRIPE_SECRET_KEY, NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY and STRIPE_WEBHOOK_SECRET to take real payments,',
      'or set BRISK_DEMO_MODE=1 to run a demo on the emulator on purpose (every page then says "Test mode: no real payments").',
    ].join('\n'),
  };
}

function isStripeItself(apiBase: string): boolean {
  try {
    return new URL(apiBase).hostname === 'api.stripe.com';
  } catch {
    return false;
  }
}

/** The settings that decide whether payments are real (a subset of AppConfig). */
export interface PaymentSettings {
  BRISK_DEMO_MODE?: boolean;
  STRIPE_SECRET_KEY?: string;
  STRIPE_API_BASE?: string;
}

/**
 * True when no real money moves: the emulator (npm start points STRIPE_API_BASE at it, demo mode
 * included), no key at all, or Stripe's own test keys. The banner shows whenever this is true.
 * A live key on Stripe itself moves real money, so it never says "no real payments", whatever
 * BRISK_DEMO_MODE claims (the configuration refuses that pair anyway).
 */
export function paymentsAreTest(s: PaymentSettings): boolean {
  if (s.STRIPE_API_BASE && !isStripeItself(s.STRIPE_API_BASE)) return true;
  if (!s.STRIPE_SECRET_KEY) return true;
  return /^(sk|rk)_test_/.test(s.STRIPE_SECRET_KEY);
}
