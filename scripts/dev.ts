// `npm run dev`: the development server, set up like `npm start`: the Prisma client generated
// when missing, migrations and the catalog seed applied, the first admin created on the
// embedded default, and the bundled Stripe emulator started when no Stripe key is configured,
// so checkout works in development too.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, parseConfig } from '../lib/config';
import { ensurePrismaClient } from './generate';
import { startStripeStandInIfNoKeys } from './stripe-stand-in';

const root = resolve(import.meta.dirname, '..');
const log = (line: string) => console.log(`[brisk] ${line}`);

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = parseConfig({ ...process.env, NODE_ENV: 'development' });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const dataDir = resolve(root, cfg.DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  await ensurePrismaClient(log);
  // Imported only now: it needs the generated Prisma client.
  const { migrateAndSeed } = await import('./db');
  const { generatedAdmin } = await migrateAndSeed({ seed: true, log, firstAdmin: { email: cfg.ADMIN_EMAIL, password: cfg.ADMIN_PASSWORD } });
  if (generatedAdmin) {
    // Shown this once; only its hash is stored.
    log(`First start: admin ${generatedAdmin.email} created with the password ${generatedAdmin.password} (shown only now; change it under Admin → Account).`);
  }

  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(cfg.PORT), DATA_DIR: dataDir };
  const standIn = await startStripeStandInIfNoKeys(cfg, dataDir);
  if (standIn) {
    Object.assign(env, standIn.env);
    log(`Stripe emulator (offline) at ${standIn.url}`);
  }
  const next = spawn(process.execPath, [join(root, 'node_modules/next/dist/bin/next'), 'dev', '-p', String(cfg.PORT)], { cwd: root, env, stdio: 'inherit' });
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    next.kill(signal);
    await new Promise((r) => next.once('exit', r));
    await standIn?.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  next.on('exit', async (code) => {
    if (stopping) return;
    await standIn?.close();
    process.exit(code ?? 1);
  });
}

main().catch((err) => {
  console.error(`[brisk] could not start the development server: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
