// `npm start`: one command from a fresh clone to a running shop.
// Builds when the sources changed, migrates, seeds an empty database, starts the bundled
// Stripe emulator when no Stripe key is configured, then serves Next.js on PORT.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, parseConfig } from '../lib/config';
import { generatedIsFresh, generatePrismaClient } from './generate';
import { buildIfNeeded } from './build';
import { migrateAndSeed } from './db';

const root = resolve(import.meta.dirname, '..');
const distDir = process.env.BRISK_DIST_DIR || '.next';
const log = (line: string) => console.log(`[brisk] ${line}`);

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = parseConfig({ ...process.env, NODE_ENV: 'production' });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const dataDir = resolve(root, cfg.DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  if (!generatedIsFresh()) {
    log('Generating the Prisma client…');
    generatePrismaClient();
  }
  buildIfNeeded(distDir, log);
  await migrateAndSeed({ seed: true, log });

  // NEXT_MANUAL_SIG_HANDLE: instrumentation.ts stops pg-boss cleanly on SIGTERM before exiting.
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', PORT: String(cfg.PORT), DATA_DIR: dataDir, NEXT_MANUAL_SIG_HANDLE: '1' };
  let closeEmulator: (() => Promise<void>) | undefined;
  let emulatorUrl: string | undefined;
  if (!cfg.STRIPE_SECRET_KEY) {
    const { startEmulator } = await import('../emulator/src/server');
    const port = Number(process.env.EMULATOR_PORT ?? 12111);
    const emulator = await startEmulator({
      port,
      host: process.env.EMULATOR_HOST ?? '127.0.0.1',
      dataFile: join(dataDir, 'stripe-emulator.json'),
      // Fixed keys for tools that steer the emulator (the browser specs); random otherwise.
      secretKey: process.env.EMULATOR_SECRET_KEY || undefined,
      publishableKey: process.env.EMULATOR_PUBLISHABLE_KEY || undefined,
      webhookSecret: process.env.EMULATOR_WEBHOOK_SECRET || undefined,
      webhookEndpoints: [{ url: `http://127.0.0.1:${cfg.PORT}/api/stripe/webhook` }],
    });
    closeEmulator = emulator.close;
    emulatorUrl = emulator.url;
    Object.assign(env, {
      STRIPE_SECRET_KEY: emulator.secretKey,
      NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: emulator.publishableKey,
      STRIPE_WEBHOOK_SECRET: emulator.webhookSecret,
      STRIPE_API_BASE: emulator.url,
      STRIPE_JS_URL: `${emulator.url}/v3/`,
    });
    log(`Stripe emulator (offline) at ${emulator.url}`);
  }

  // Our own server around Next (scripts/serve.ts), not `next start`: it is where the client's
  // address is taken from the socket (TRUSTED_PROXIES) and bad page posts are refused.
  const next = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts/serve.ts')], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  next.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    if (chunk.toString().includes('Ready')) {
      log(`Brisk is running at http://localhost:${cfg.PORT}  (admin: http://localhost:${cfg.PORT}/admin${emulatorUrl ? `, Stripe emulator: ${emulatorUrl}` : ''})`);
    }
  });
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    next.kill(signal);
    await new Promise((r) => next.once('exit', r));
    await closeEmulator?.();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  next.on('exit', async (code) => {
    if (stopping) return;
    await closeEmulator?.();
    process.exit(code ?? 1);
  });
}

main().catch((err) => {
  console.error(`[brisk] could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
