// The README's first command, proven: `npm start` on this checkout exactly as a newcomer runs it
// (no Stripe keys, no ADMIN_PASSWORD, no DATABASE_URL; it builds when no build exists). Waits
// for the catalog and /api/health 200, pays one order in Chromium through the bundled emulator
// and sees it Paid, signs in to the admin with the password the first start printed, then stops
// the shop with SIGTERM and checks that it exits and frees its ports. Exits non-zero when any
// step fails. Run by .ci/run on its clean clone; `npx tsx scripts/smoke-start.ts` by hand.
// SMOKE_PORT / SMOKE_EMULATOR_PORT (default 3290 / 12290) keep it clear of the test servers.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { adminSignIn, launchChromium, payOneOrder } from './shopper';

const root = resolve(import.meta.dirname, '..');
const port = Number(process.env.SMOKE_PORT ?? 3290);
const emulatorPort = Number(process.env.SMOKE_EMULATOR_PORT ?? 12290);
const base = `http://127.0.0.1:${port}`;
const startTimeoutMs = Number(process.env.SMOKE_START_TIMEOUT_MS ?? 20 * 60_000);
const t0 = Date.now();
const say = (line: string) => console.log(`[smoke ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${line}`);

const dataDir = mkdtempSync(join(tmpdir(), 'brisk-smoke-'));
const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), EMULATOR_PORT: String(emulatorPort), DATA_DIR: dataDir };
// A newcomer's environment: none of the settings the README calls optional.
for (const name of ['DATABASE_URL', 'STRIPE_SECRET_KEY', 'NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY', 'STRIPE_WEBHOOK_SECRET', 'STRIPE_API_BASE', 'STRIPE_JS_URL', 'ADMIN_EMAIL', 'ADMIN_PASSWORD', 'APP_SECRET', 'APP_URL', 'NODE_ENV', 'BRISK_NO_BUILD', 'EMULATOR_SECRET_KEY', 'EMULATOR_PUBLISHABLE_KEY', 'EMULATOR_WEBHOOK_SECRET']) {
  delete env[name];
}

let output = '';
say(`npm start (PORT=${port}, EMULATOR_PORT=${emulatorPort}, DATA_DIR=${dataDir})`);
// Its own process group, so a failed run can clean up everything it started.
const shop = spawn('npm', ['start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
let exited: number | null | undefined;
const exitPromise = new Promise<number | null>((r) => shop.once('exit', (code, signal) => r((exited = code ?? (signal ? 128 : null)))));
for (const stream of [shop.stdout, shop.stderr]) {
  stream.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    process.stdout.write(chunk.toString().replace(/^(?=.)/gm, '  | '));
  });
}

async function get(path: string): Promise<{ status: number; body: string } | null> {
  try {
    const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000), redirect: 'manual' });
    return { status: res.status, body: await res.text() };
  } catch {
    return null;
  }
}

async function portClosed(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(3000) });
    return false;
  } catch {
    return true;
  }
}

function fail(message: string): never {
  throw new Error(message);
}

async function main(): Promise<void> {
  // 1. The shop comes up: the catalog lists products and the health check answers 200.
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (exited !== undefined) fail(`npm start exited (code ${exited}) before the shop was up`);
    if (Date.now() > deadline) fail(`the shop was not up after ${startTimeoutMs / 1000} s`);
    const home = await get('/');
    if (home?.status === 200 && /href="\/products\/[a-z0-9-]+"/.test(home.body)) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  say('the catalog is served');
  const health = await get('/api/health');
  if (health?.status !== 200) fail(`/api/health answered ${health?.status ?? 'nothing'}: ${health?.body.slice(0, 300)}`);
  say(`/api/health 200 ${health.body.slice(0, 200)}`);

  // 2. The first start created the admin and printed its password, once.
  const printed = output.match(/password\s+([A-Za-z0-9_-]{20,})/);
  if (!printed) fail('npm start printed no generated admin password on its first start');
  const password = printed[1];
  const email = output.match(/email\s+(\S+@\S+)/)?.[1] ?? 'admin@brisk.local';

  // 3. One order paid in Chromium through the emulator's Payment Element.
  const browser = await launchChromium();
  try {
    const order = await payOneOrder(browser, base, { log: say });
    if (order.status !== 'Paid') fail(`the order page says "${order.status}", not Paid (${order.url})`);
    say(`order paid: ${order.url} (Stripe.js used ${order.publishableKey?.slice(0, 12)}…)`);
    if (!(await adminSignIn(browser, base, email, password))) fail(`could not sign in to the admin as ${email} with the printed password`);
    say(`signed in to the admin as ${email} with the generated password`);
  } finally {
    await browser.close();
  }
  const timesPrinted = output.split(password).length - 1;
  if (timesPrinted !== 1) fail(`the generated admin password appeared ${timesPrinted} times in the output, expected once`);

  // 4. SIGTERM stops it: npm start exits, and neither the shop nor the emulator still listens.
  say('SIGTERM to npm start');
  process.kill(shop.pid!, 'SIGTERM');
  const code = await Promise.race([exitPromise, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
  if (code === 'timeout') fail('npm start did not exit within 30 s of SIGTERM');
  say(`npm start exited with code ${code}`);
  await new Promise((r) => setTimeout(r, 1000));
  if (!(await portClosed(`${base}/api/health`))) fail(`something still answers on port ${port} after npm start exited`);
  if (!(await portClosed(`http://127.0.0.1:${emulatorPort}/`))) fail(`the emulator still answers on port ${emulatorPort} after npm start exited`);
  say('the shop and the emulator are stopped');
}

main().then(
  () => {
    rmSync(dataDir, { recursive: true, force: true });
    say('PASS: npm start from this checkout serves, takes a payment, lets the admin in, and stops on SIGTERM');
    process.exit(0);
  },
  (err: unknown) => {
    console.error(`[smoke] FAIL: ${err instanceof Error ? err.message : String(err)}`);
    try {
      process.kill(-shop.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(1);
  },
);
