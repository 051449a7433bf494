// The bundled Stripe emulator as `npm start` and `npm run dev` run it when no Stripe key is
// configured: started in this process, its keys and URLs handed to the Next.js server's
// environment (read there at start-up / per request, never baked into the build).
import { join } from 'node:path';
import type { AppConfig } from '../lib/config';

export interface StandIn {
  url: string;
  env: Record<string, string>;
  close: () => Promise<void>;
}

/** Starts the emulator unless STRIPE_SECRET_KEY is set; returns undefined when real keys are configured. */
export async function startStripeStandInIfNoKeys(cfg: AppConfig, dataDir: string): Promise<StandIn | undefined> {
  if (cfg.STRIPE_SECRET_KEY) return undefined;
  const { startEmulator } = await import('../emulator/src/server');
  const emulator = await startEmulator({
    port: Number(process.env.EMULATOR_PORT ?? 12111),
    host: process.env.EMULATOR_HOST ?? '127.0.0.1',
    dataFile: join(dataDir, 'stripe-emulator.json'),
    // Fixed keys for tools that steer the emulator (the browser specs); random otherwise.
    secretKey: process.env.EMULATOR_SECRET_KEY || undefined,
    publishableKey: process.env.EMULATOR_PUBLISHABLE_KEY || undefined,
    webhookSecret: process.env.EMULATOR_WEBHOOK_SECRET || undefined,
    webhookEndpoints: [{ url: `http://127.0.0.1:${cfg.PORT}/api/stripe/webhook` }],
  });
  return {
    url: emulator.url,
    close: emulator.close,
    env: {
      STRIPE_SECRET_KEY: emulator.secretKey,
      NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: emulator.publishableKey,
      STRIPE_WEBHOOK_SECRET: emulator.webhookSecret,
      STRIPE_API_BASE: emulator.url,
      STRIPE_JS_URL: `${emulator.url}/v3/`,
    },
  };
}
