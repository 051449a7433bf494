// Build once, configure at start (issue 15 §6). The production build made for this run (by
// `npm test`, with a publishable key and a Stripe.js URL in its environment on purpose) is
// started again with two other key sets, one after the other, as production starts that must
// not build; Chromium pays with each and Stripe.js must have used the key given at start. Then
// two plain `npm start`s launched at the same moment must both serve, without building.
import { expect, test } from './helpers';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildIsFresh } from '../scripts/build';
import { payOneOrder } from '../scripts/shopper';

const APP_PORT = Number(process.env.E2E_APP_PORT ?? 3100);
const EMULATOR_PORT = Number(process.env.E2E_EMULATOR_PORT ?? 12199);
const distDir = process.env.BRISK_DIST_DIR || '.next';

interface Shop {
  child: ChildProcess;
  port: number;
  output: () => string;
  dataDir: string;
}

function launch(offset: number, env: Record<string, string>, args: string[] = []): Shop {
  const port = APP_PORT + offset;
  const dataDir = mkdtempSync(join(tmpdir(), 'brisk-build-once-'));
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts', ...args], {
    env: {
      ...process.env,
      PORT: String(port),
      EMULATOR_PORT: String(EMULATOR_PORT + offset),
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      STRIPE_SECRET_KEY: '',
      NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: '',
      STRIPE_JS_URL: '',
      ADMIN_PASSWORD: 'correct-horse-battery',
      RECONCILE_CRON: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  return { child, port, dataDir, output: () => output };
}

async function serving(shop: Shop): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (shop.child.exitCode !== null) throw new Error(`the shop on ${shop.port} exited with ${shop.child.exitCode}:\n${shop.output()}`);
    const home = await fetch(`http://127.0.0.1:${shop.port}/`).then((r) => r.ok, () => false);
    const health = await fetch(`http://127.0.0.1:${shop.port}/api/health`).then((r) => r.status, () => 0);
    if (home && health === 200) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the shop on ${shop.port} did not serve within 120 s:\n${shop.output()}`);
}

async function stop(shop: Shop): Promise<void> {
  if (shop.child.exitCode === null) {
    const exited = new Promise((r) => shop.child.once('exit', r));
    shop.child.kill('SIGTERM');
    await exited;
  }
  rmSync(shop.dataDir, { recursive: true, force: true });
}

const KEY_SETS = [
  { EMULATOR_SECRET_KEY: 'sk_test_buildonce_first', EMULATOR_PUBLISHABLE_KEY: 'pk_test_buildonce_first', EMULATOR_WEBHOOK_SECRET: 'whsec_buildonce_first' },
  { EMULATOR_SECRET_KEY: 'sk_test_buildonce_second', EMULATOR_PUBLISHABLE_KEY: 'pk_test_buildonce_second', EMULATOR_WEBHOOK_SECRET: 'whsec_buildonce_second' },
];

test.describe.configure({ mode: 'serial' });

test('one build serves any keys: two key sets in turn, a payment with each, no rebuild', async ({ browser }) => {
  test.setTimeout(300_000);
  expect(buildIsFresh(distDir), `${distDir} should hold the build of these sources (the web server of this run made or reused it)`).toBe(true);
  for (const [i, keys] of KEY_SETS.entries()) {
    // A production start (`npm start -- --no-build`): it must find the build and never build.
    const shop = launch(11 + i, keys, ['--no-build']);
    try {
      await serving(shop);
      expect(shop.output()).not.toContain('Building the app');
      expect(shop.output()).toContain('Production build is up to date');
      const order = await payOneOrder(browser, `http://127.0.0.1:${shop.port}`);
      expect(order.status).toBe('Paid');
      // Stripe.js got this start's key, not one from the build's environment or the last start.
      expect(order.publishableKey).toBe(keys.EMULATOR_PUBLISHABLE_KEY);
    } finally {
      await stop(shop);
    }
  }
});

test('two instances started at the same moment both serve from the one build', async () => {
  test.setTimeout(240_000);
  const shops = [launch(13, KEY_SETS[0]), launch(14, KEY_SETS[1])];
  try {
    await Promise.all(shops.map(serving));
    for (const shop of shops) {
      expect(shop.output()).not.toContain('Building the app');
      expect(shop.output()).not.toContain('Another next build');
    }
  } finally {
    await Promise.all(shops.map(stop));
  }
});

test('a production start refuses clearly when there is no build, and never builds', async () => {
  test.setTimeout(60_000);
  const shop = launch(15, { ...KEY_SETS[0], BRISK_DIST_DIR: '.next-missing-build' }, ['--no-build']);
  const code = await new Promise<number | null>((r) => shop.child.once('exit', r));
  await stop(shop);
  expect(code).toBe(1);
  expect(shop.output()).toContain('run `npm run build` first');
  expect(shop.output()).not.toContain('Building the app');
});
