// The one server-side Stripe client, built from validated configuration. Only lib/stripe/
// imports `stripe`; everything else goes through the gateway.
import Stripe from 'stripe';
import type { AppConfig } from '@/lib/config';

export type { Stripe };
/** The name of a Stripe event type (`payment_intent.succeeded`, …). */
export type StripeEventType = Stripe.Event['type'];

export interface StripeSettings {
  secretKey: string;
  /** Base URL of a Stripe stand-in (the emulator); unset for api.stripe.com. */
  apiBase?: string;
  timeoutMs?: number;
  /** SDK-level retries; the gateway does its own, so it passes 0. */
  maxNetworkRetries?: number;
}

// stripe-node retries a closed connection (ECONNRESET, EPIPE) once, after at least 0.5 s,
// even with maxNetworkRetries: 0. The gateway owns retries (its budget, breaker and attempt
// count must see every request), so those codes are renamed before the SDK can act on them;
// the SDK still reports a StripeConnectionError and the gateway decides whether to retry.
const SDK_SILENT_RETRY_CODES = new Set(['ECONNRESET', 'EPIPE']);

function gatewayOwnedRetries(inner: ReturnType<typeof Stripe.createNodeHttpClient>): ReturnType<typeof Stripe.createNodeHttpClient> {
  const client = Object.create(inner) as typeof inner;
  client.makeRequest = (...args: Parameters<typeof inner.makeRequest>) =>
    inner.makeRequest(...args).catch((err: unknown) => {
      const code = (err as { code?: string } | null)?.code;
      if (code && SDK_SILENT_RETRY_CODES.has(code)) {
        throw Object.assign(new Error((err as Error).message), { code: `BRISK_${code}`, cause: err });
      }
      throw err;
    });
  return client;
}

export function createStripeClient(s: StripeSettings): Stripe {
  const base = s.apiBase ? new URL(s.apiBase) : undefined;
  return new Stripe(s.secretKey, {
    apiVersion: Stripe.API_VERSION as Stripe.LatestApiVersion,
    appInfo: { name: 'Brisk', version: '0.1.0' },
    maxNetworkRetries: s.maxNetworkRetries ?? 0,
    ...(s.maxNetworkRetries ? {} : { httpClient: gatewayOwnedRetries(Stripe.createNodeHttpClient()) }),
    timeout: s.timeoutMs ?? 10_000,
    telemetry: false,
    ...(base
      ? { host: base.hostname, port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)), protocol: base.protocol.replace(':', '') as 'http' | 'https' }
      : {}),
  });
}

export function stripeSettingsFromConfig(cfg: Pick<AppConfig, 'STRIPE_SECRET_KEY' | 'STRIPE_API_BASE'>): StripeSettings {
  const secretKey = cfg.STRIPE_SECRET_KEY;
  if (!secretKey) throw new Error('STRIPE_SECRET_KEY is not set (npm start sets it when it runs the emulator)');
  return { secretKey, apiBase: cfg.STRIPE_API_BASE || undefined };
}

export function keyMode(secretKey: string): 'live' | 'test' {
  return secretKey.includes('_live_') ? 'live' : 'test';
}
