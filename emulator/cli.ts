// `npm run emulator`: the offline Stripe on http://127.0.0.1:12111 (EMULATOR_PORT to change).
// Uses STRIPE_SECRET_KEY / NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY / STRIPE_WEBHOOK_SECRET as its keys
// when set, registers EMULATOR_WEBHOOK_URL as a webhook endpoint, and persists to
// EMULATOR_DATA_FILE when set.
import { startEmulator } from './src/server';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`${name} must be a port number (0-65535), got "${raw}"`);
    process.exit(2);
  }
  return n;
}

function envKey(name: string, prefix: string): string | undefined {
  const value = process.env[name];
  if (!value) return undefined;
  if (!value.startsWith(prefix)) {
    console.error(`${name} must start with ${prefix} to be used by the emulator; ignoring it and using a generated key.`);
    return undefined;
  }
  return value;
}

const webhookUrl = process.env.EMULATOR_WEBHOOK_URL;
const emulator = await startEmulator({
  port: envNumber('EMULATOR_PORT', 12111),
  host: process.env.EMULATOR_HOST || '127.0.0.1',
  secretKey: envKey('STRIPE_SECRET_KEY', 'sk_test_'),
  publishableKey: envKey('NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY', 'pk_test_'),
  webhookSecret: envKey('STRIPE_WEBHOOK_SECRET', 'whsec_'),
  webhookEndpoints: webhookUrl ? [{ url: webhookUrl }] : [],
  dataFile: process.env.EMULATOR_DATA_FILE || undefined,
  rateLimitPerSecond: envNumber('EMULATOR_RATE_LIMIT', 0),
  log: process.env.EMULATOR_LOG === '1',
});

// Everything a shop instance needs, as lines to paste into its environment: every instance
// pointed at this emulator gets the same five.
console.log(`Stripe emulator listening on ${emulator.url}`);
console.log('Environment for every shop instance that uses it:');
console.log(`  STRIPE_API_BASE=${emulator.url}`);
console.log(`  STRIPE_JS_URL=${emulator.url}/v3/`);
console.log(`  STRIPE_SECRET_KEY=${emulator.secretKey}`);
console.log(`  NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY=${emulator.publishableKey}`);
console.log(`  STRIPE_WEBHOOK_SECRET=${emulator.webhookSecret}`);
console.log(`Control API: ${emulator.url}/_emulator/… with the header "Authorization: Bearer <STRIPE_SECRET_KEY above>"`);
if (webhookUrl) console.log(`Webhooks → ${webhookUrl}`);
else console.log('Webhooks: no endpoint yet. Set EMULATOR_WEBHOOK_URL (one instance, or the load balancer in front of several), or POST /_emulator/webhook_endpoints.');
if (process.env.EMULATOR_DATA_FILE) console.log(`  state persisted in ${process.env.EMULATOR_DATA_FILE}`);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`Stripe emulator stopping (${signal})`);
  emulator.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
