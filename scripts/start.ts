// `npm start`: one command from a fresh clone to a running shop.
// Builds when no build of these sources exists (never in a production start), migrates, seeds
// an empty database, creates the first admin on the embedded default, starts the bundled Stripe
// emulator when no Stripe key is configured, then serves Next.js on PORT.
//
// Only modules that need nothing generated are imported statically: on a fresh clone the
// Prisma client (lib/generated) does not exist until generatePrismaClient() has run, so the
// database code is imported after it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, parseConfig } from '../lib/config';
import { chooseStripe } from '../lib/stripe/test-mode';
import { ensurePrismaClient } from './generate';
import { BuildMissingError, buildIfNeeded, productionStartReason } from './build';
import { startStripeStandInIfNoKeys } from './stripe-stand-in';

const root = resolve(import.meta.dirname, '..');
const distDir = process.env.BRISK_DIST_DIR || '.next';
const log = (line: string) => console.log(`[brisk] ${line}`);

// ---- The Next.js server process: how it is launched, in one place. ----------------------
/** Starts the production Next.js server of `distDir` on `port` with `env`; stdout is piped. */
function spawnNextServer(port: number, env: NodeJS.ProcessEnv): ChildProcess & { stdout: NodeJS.ReadableStream } {
  // Our own server around Next (scripts/serve.ts), not `next start`: it is where the client's
  // address is taken from the socket (TRUSTED_PROXIES) and bad page posts are refused.
  // BRISK_NODE_FLAGS: extra Node.js flags for the server (flags NODE_OPTIONS refuses, such as
  // --experimental-async-context-frame), e.g. for a benchmark comparing them.
  const flags = (process.env.BRISK_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  return spawn(process.execPath, [...flags, '--import', 'tsx', join(root, 'scripts/serve.ts')], {
    cwd: root,
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  }) as ChildProcess & { stdout: NodeJS.ReadableStream };
}
// -------------------------------------------------------------------------------------------

function printGeneratedAdmin(email: string, password: string, port: number): void {
  // Printed this once: only its argon2 hash is stored, and it is never logged anywhere else.
  const lines = [
    'First start: an admin account was created for you.',
    `  sign in at  http://localhost:${port}/admin/login`,
    `  email       ${email}`,
    `  password    ${password}`,
    'This password is shown only now. Change it under Admin → Account.',
  ];
  const width = Math.max(...lines.map((l) => l.length)) + 2;
  console.log(`\n┌${'─'.repeat(width)}┐\n${lines.map((l) => `│ ${l.padEnd(width - 1)}│`).join('\n')}\n└${'─'.repeat(width)}┘\n`);
}

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
  // Before anything is built or migrated: no Stripe keys on what looks like a production
  // deployment would run the emulator and take test cards as real orders. Judged on the
  // operator's own NODE_ENV, not the `production` forced above for Next.
  const stripeChoice = chooseStripe({ appUrl: cfg.APP_URL, nodeEnv: process.env.NODE_ENV, hasStripeKey: Boolean(cfg.STRIPE_SECRET_KEY), demoMode: cfg.BRISK_DEMO_MODE });
  if (stripeChoice.use === 'refuse') {
    console.error(`[brisk] ${stripeChoice.message.replaceAll('\n', '\n[brisk] ')}`);
    process.exit(1);
  }
  if (stripeChoice.use === 'emulator' && stripeChoice.demo) log('DEMO MODE (BRISK_DEMO_MODE=1): payments go to the bundled Stripe emulator, no real payments; every page says so.');
  const dataDir = resolve(root, cfg.DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  await ensurePrismaClient(log);
  try {
    buildIfNeeded(distDir, log, {}, { neverBuild: productionStartReason(process.argv.slice(2), process.env) });
  } catch (err) {
    if (err instanceof BuildMissingError) {
      console.error(`[brisk] ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  // Imported only now: it needs the generated Prisma client.
  const { migrateAndSeed } = await import('./db');
  const { generatedAdmin } = await migrateAndSeed({ seed: true, log, firstAdmin: { email: cfg.ADMIN_EMAIL, password: cfg.ADMIN_PASSWORD } });
  if (generatedAdmin) printGeneratedAdmin(generatedAdmin.email, generatedAdmin.password, cfg.PORT);

  // NEXT_MANUAL_SIG_HANDLE: instrumentation.ts stops pg-boss cleanly on SIGTERM before exiting.
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', PORT: String(cfg.PORT), DATA_DIR: dataDir, NEXT_MANUAL_SIG_HANDLE: '1' };
  const standIn = await startStripeStandInIfNoKeys(cfg, dataDir);
  if (standIn) {
    Object.assign(env, standIn.env);
    log(`Stripe emulator (offline) at ${standIn.url}`);
  }
  const closeEmulator = async () => standIn?.close();

  const next = spawnNextServer(cfg.PORT, env);
  next.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    if (chunk.toString().includes('Ready')) {
      log(`Brisk is running at http://localhost:${cfg.PORT}  (admin: http://localhost:${cfg.PORT}/admin${standIn ? `, Stripe emulator: ${standIn.url}` : ''})`);
    }
  });
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    next.kill(signal);
    await new Promise((r) => next.once('exit', r));
    await closeEmulator();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  next.on('exit', async (code) => {
    if (stopping) return;
    await closeEmulator();
    process.exit(code ?? 1);
  });
}

main().catch((err) => {
  console.error(`[brisk] could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
