// The one server-side Stripe client, built from validated configuration. Only lib/stripe/
// imports `stripe`; everything else goes through the gateway.
import Stripe from 'stripe';

export type { Stripe };

export interface StripeSettings {
  secretKey: string;
  /** Base URL of a Stripe stand-in (the emulator); unset for api.stripe.com. */
  apiBase?: string;
  timeoutMs?: number;
  /** SDK-level retries; the gateway does its own, so it passes 0. */
  maxNetworkRetries?: number;
}

export function createStripeClient(s: StripeSettings): Stripe {
  const base = s.apiBase ? new URL(s.apiBase) : undefined;
  return new Stripe(s.secretKey, {
    apiVersion: Stripe.API_VERSION as Stripe.LatestApiVersion,
    appInfo: { name: 'Brisk', version: '0.1.0' },
    maxNetworkRetries: s.maxNetworkRetries ?? 0,
    timeout: s.timeoutMs ?? 10_000,
    telemetry: false,
    ...(base
      ? { host: base.hostname, port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)), protocol: base.protocol.replace(':', '') as 'http' | 'https' }
      : {}),
  });
}

export function stripeSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): StripeSettings {
  const secretKey = env.STRIPE_SECRET_KEY;
  if (!secretKey) throw new Error('STRIPE_SECRET_KEY is not set (npm start sets it when it runs the emulator)');
  return { secretKey, apiBase: env.STRIPE_API_BASE || undefined };
}

export function keyMode(secretKey: string): 'live' | 'test' {
  return secretKey.includes('_live_') ? 'live' : 'test';
}
