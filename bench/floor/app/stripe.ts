import Stripe from 'stripe';

// The same SDK and settings as lib/stripe/client.ts (no SDK retries, 10 s timeout, no telemetry),
// pointed at the same emulator.
const base = process.env.STRIPE_API_BASE ? new URL(process.env.STRIPE_API_BASE) : undefined;
export const stripe = new Stripe(process.env.STRIPE_SECRET_KEY ?? 'sk_test_floor', {
  apiVersion: Stripe.API_VERSION as Stripe.LatestApiVersion,
  maxNetworkRetries: 0,
  timeout: 10_000,
  telemetry: false,
  ...(base ? { host: base.hostname, port: Number(base.port || 80), protocol: base.protocol.replace(':', '') as 'http' | 'https' } : {}),
});
