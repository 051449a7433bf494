// Through the real HTTP server, as `npm start` runs it (scripts/start.ts → scripts/serve.ts, a
// production build, PGlite, the bundled emulator): the client's address is the TCP peer's whatever
// X-Forwarded-For says, unless TRUSTED_PROXIES vouches for it; sign-in guessing and card testing
// are counted against that address; bad page posts get 4xx, not 500; metrics and health details
// are not public. Every request here comes from 127.0.0.1, so forged headers are the only way a
// client could pretend to be someone else.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIfNeeded } from '@/scripts/build';
import { openDatabase, pgliteDataDir } from '@/lib/db/client';
import { createTokenInBrowser, Shopper } from '@/chaos/lib/shopper';

const root = resolve(import.meta.dirname, '../..');
const distDir = process.env.BRISK_DIST_DIR || '.next';
const ADMIN = { email: 'admin@brisk.test', password: 'correct-horse-battery' };
const METRICS_TOKEN = 'metrics-token-for-the-http-server-test';
const requireCjs = createRequire(import.meta.url);
const { encodeReply } = requireCjs('next/dist/compiled/react-server-dom-webpack/client.edge.js') as { encodeReply: (v: unknown) => Promise<string | FormData> };

interface Shop {
  base: string;
  dataDir: string;
  child: ChildProcess;
  log: string[];
  stop(): Promise<void>;
}

let portSeq = Number(process.env.HTTP_TEST_PORT ?? 3390);

/**
 * A ConfirmationToken for 4242, as the checkout page's Stripe.js makes it: with the publishable
 * key and Stripe.js URL the page carries (the bundled emulator's).
 */
async function browserToken(shop: Shop, cookie: string): Promise<string> {
  const html = await (await fetch(`${shop.base}/checkout`, { headers: { cookie } })).text();
  const key = html.match(/pk_test_[A-Za-z0-9_]+/)?.[0];
  const stripeJs = html.match(/(http:\/\/127\.0\.0\.1:\d+)\/v3\//)?.[1];
  if (!key || !stripeJs) throw new Error('the checkout page carries no publishable key or Stripe.js URL');
  const token = await createTokenInBrowser({ stripeUrl: stripeJs, publishableKey: key });
  if (!token) throw new Error('could not make a ConfirmationToken');
  return token;
}

async function startShop(env: Record<string, string>): Promise<Shop> {
  const port = portSeq++;
  const dataDir = mkdtempSync(join(tmpdir(), 'brisk-http-'));
  const child = spawn(process.execPath, [join(root, 'node_modules/tsx/dist/cli.mjs'), 'scripts/start.ts'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      BRISK_DIST_DIR: distDir,
      PORT: String(port),
      EMULATOR_PORT: String(port + 9000),
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      STRIPE_SECRET_KEY: '',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      RECONCILE_CRON: 'off',
      LOG_LEVEL: 'warn',
      TRUSTED_PROXIES: '',
      METRICS_TOKEN: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  const ready = new Promise<void>((resolveReady, reject) => {
    const onData = (chunk: Buffer) => {
      log.push(chunk.toString());
      if (chunk.toString().includes('Brisk is running')) resolveReady();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => log.push(c.toString()));
    child.once('exit', (code) => reject(new Error(`the shop exited (${code}) before it was ready:\n${log.join('')}`)));
  });
  await ready;
  const exited = new Promise((r) => child.once('exit', r));
  return {
    base: `http://127.0.0.1:${port}`,
    dataDir,
    child,
    log,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function actionIds(): Record<string, string> {
  const manifest = JSON.parse(readFileSync(join(root, distDir, 'server', 'server-reference-manifest.json'), 'utf8')) as { node: Record<string, { exportedName?: string }> };
  const out: Record<string, string> = {};
  for (const [id, v] of Object.entries(manifest.node)) if (v.exportedName) out[v.exportedName] = id;
  return out;
}

/** The no-JavaScript sign-in form, posted as a browser without scripts does. Returns where it redirects. */
async function signInPost(shop: Shop, email: string, password: string, headers: Record<string, string> = {}): Promise<{ status: number; location: string; cookie: string | null }> {
  const html = await (await fetch(`${shop.base}/admin/login`)).text();
  const field = html.match(/name="(\$ACTION_ID_[0-9a-f]+)"/)![1];
  const form = new FormData();
  form.set(field, '');
  form.set('email', email);
  form.set('password', password);
  const r = await fetch(`${shop.base}/admin/login`, { method: 'POST', body: form, redirect: 'manual', headers: { origin: shop.base, ...headers } });
  await r.text();
  const cookie = r.headers.getSetCookie().find((c) => c.startsWith('brisk_admin='))?.split(';')[0] ?? null;
  return { status: r.status, location: r.headers.get('location') ?? '', cookie };
}

async function withDatabase<T>(shop: Shop, fn: (prisma: Awaited<ReturnType<typeof openDatabase>>['prisma']) => Promise<T>): Promise<T> {
  // PGlite is one process: read the shop's database once it has stopped.
  const database = await openDatabase({ dataDir: pgliteDataDir(shop.dataDir) });
  try {
    return await fn(database.prisma);
  } finally {
    await database.close();
  }
}

beforeAll(() => {
  buildIfNeeded(distDir, (l) => console.log(`[http-server test] ${l}`));
}, 15 * 60_000);

describe('the HTTP server, trusting no proxy (the default)', () => {
  let shop: Shop;
  beforeAll(async () => {
    // A low per-address checkout limit, so card testing hits it within a few tries.
    shop = await startShop({ CHECKOUT_ADDRESS_ATTEMPTS: '3' });
  }, 120_000);
  afterAll(async () => {
    await shop?.stop();
    if (shop) rmSync(shop.dataDir, { recursive: true, force: true });
  });

  it('records the peer, not a forged X-Forwarded-For, on the admin session, the audit log and the ops page', async () => {
    const r = await signInPost(shop, ADMIN.email, ADMIN.password, { 'x-forwarded-for': '203.0.113.50', 'x-real-ip': '203.0.113.51', 'x-brisk-client-ip': '203.0.113.52' });
    expect(r.status).toBe(303);
    expect(r.cookie).toBeTruthy();
    const ops = await (await fetch(`${shop.base}/admin/ops`, { headers: { cookie: r.cookie! } })).text();
    expect(ops).toContain('Admin sessions');
    expect(ops).toContain('127.0.0.1');
    expect(ops).not.toMatch(/203\.0\.113\.5[012]/);
  });

  it('counts 30 wrong passwords with a new X-Forwarded-For each against the real address: 4 password checks, then locked', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await signInPost(shop, 'guesser-target@brisk.test', `guess-${i}`, { 'x-forwarded-for': `198.51.100.${i + 1}` });
      outcomes.push(new URL(r.location, shop.base).searchParams.get('error') ?? r.location);
    }
    expect(outcomes.slice(0, 4)).toEqual(['invalid', 'invalid', 'invalid', 'invalid']);
    expect(outcomes.slice(4).every((o) => o === 'locked')).toBe(true);
  }, 120_000);

  it('counts card testing per real address: fresh carts, emails and forged addresses stop at the limit, 127.0.0.1 included', async () => {
    const actions = actionIds();
    const page = await (await fetch(`${shop.base}/products/earl-grey`)).text();
    const product = { id: page.match(/name="productId" value="([^"]+)"/)![1], slug: 'earl-grey' };
    const price = Math.round(Number(page.match(/data-testid="price"[^>]*>\$([0-9.]+)</)![1]) * 100);
    const kinds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const shopper = new Shopper({ base: () => shop.base, actions }, `tester+${i}@example.com`);
      // A forged address per try, the loopback address among them (once exempt).
      shopper.extraHeaders = { 'x-forwarded-for': i === 1 ? '127.0.0.1' : `192.0.2.${i + 1}` };
      expect((await shopper.addToCart(product, 1)).ok).toBe(true);
      kinds.push((await shopper.startPayment(price, await browserToken(shop, shopper.cookie))).kind);
    }
    // Three PaymentIntents (the limit of 3 for this address), then refused before Stripe.
    expect(kinds).toEqual(['submitted', 'submitted', 'submitted', 'throttled', 'throttled']);
  }, 120_000);

  it('answers cross-origin, malformed and oversized action posts with 403, 400 and 413, logged as refusals', async () => {
    const id = actionIds().startPaymentAction;
    const post = (headers: Record<string, string>, body: string) => fetch(`${shop.base}/checkout`, { method: 'POST', headers: { 'next-action': id, 'content-type': 'text/plain;charset=UTF-8', origin: shop.base, ...headers }, body });
    expect((await post({ origin: 'https://evil.example' }, await (encodeReply([{}]) as Promise<string>))).status).toBe(403);
    expect((await post({}, '{"not": "an action body"')).status).toBe(400);
    expect((await post({ 'next-action': 'nope' }, '[]')).status).toBe(400);
    // Well-formed JSON pointing at a row a text body does not have: React's decoder threw (500).
    expect((await post({}, '["$Q1"]')).status).toBe(400);
    expect((await post({}, 'a'.repeat(150 * 1024))).status).toBe(413);
    // The multipart form of the no-JavaScript sign-in, cross-origin: refused before Next.
    const form = new FormData();
    form.set('email', ADMIN.email);
    expect((await fetch(`${shop.base}/admin/login`, { method: 'POST', body: form, headers: { origin: 'https://evil.example' } })).status).toBe(403);
    // The server's log reaches us through a pipe: give it a moment.
    const refusalLines = () => shop.log.join('').split('\n').filter((l) => l.includes('page post refused'));
    for (let i = 0; i < 50 && refusalLines().length < 6; i++) await new Promise((r) => setTimeout(r, 100));
    const refusals = refusalLines();
    expect(refusals.length).toBeGreaterThanOrEqual(6);
    expect(refusals.every((l) => l.includes('"level":"warn"'))).toBe(true);
    expect(shop.log.join('')).not.toMatch(/"level":"error"|Invalid Server Actions request|Body exceeded/);
  });

  it('shows metrics and health details to this machine only, and to nobody who came through a proxy', async () => {
    expect((await fetch(`${shop.base}/api/metrics`)).status).toBe(200);
    const forwarded = await fetch(`${shop.base}/api/metrics`, { headers: { 'x-forwarded-for': '127.0.0.1' } });
    expect(forwarded.status).toBe(403);
    expect(await forwarded.text()).not.toContain('brisk_');
    // The internal headers cannot be sent in from outside.
    expect((await fetch(`${shop.base}/api/metrics`, { headers: { 'x-forwarded-for': '1.2.3.4', 'x-brisk-client-local': '1', 'x-brisk-client-ip': '127.0.0.1' } })).status).toBe(403);
    const detailed = (await (await fetch(`${shop.base}/api/health`)).json()) as Record<string, unknown>;
    expect(detailed).toMatchObject({ ready: true, database: { ok: true } });
    const publicHealth = await fetch(`${shop.base}/api/health`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(publicHealth.status).toBe(200);
    expect(await publicHealth.json()).toEqual({ ready: true });
  });

  it('wrote the real address into the audit rows, sessions and payment attempts', async () => {
    await shop.stop();
    await withDatabase(shop, async (prisma) => {
      const sessions = await prisma.adminSession.findMany();
      expect(sessions.map((s) => s.ip)).toEqual(['127.0.0.1']);
      const audits = await prisma.auditLog.findMany({ where: { action: { startsWith: 'admin.sign_in' } } });
      expect(audits.length).toBeGreaterThan(5);
      expect(new Set(audits.map((a) => a.ip))).toEqual(new Set(['127.0.0.1']));
      const attempts = await prisma.paymentAttempt.findMany();
      expect(attempts).toHaveLength(3);
      expect(new Set(attempts.map((a) => a.clientIp))).toEqual(new Set(['127.0.0.1']));
    });
  }, 60_000);
});

describe('the HTTP server behind one trusted proxy, with a metrics token', () => {
  let shop: Shop;
  beforeAll(async () => {
    shop = await startShop({ TRUSTED_PROXIES: '1', METRICS_TOKEN });
  }, 120_000);
  afterAll(async () => {
    await shop?.stop();
    if (shop) rmSync(shop.dataDir, { recursive: true, force: true });
  });

  it('takes the address the proxy appended, not the one the client forged', async () => {
    const r = await signInPost(shop, ADMIN.email, ADMIN.password, { 'x-forwarded-for': '6.6.6.6, 203.0.113.77' });
    expect(r.status).toBe(303);
    const ops = await (await fetch(`${shop.base}/admin/ops`, { headers: { cookie: r.cookie! } })).text();
    expect(ops).toContain('203.0.113.77');
    expect(ops).not.toContain('6.6.6.6');
  });

  it('shows metrics only with the token', async () => {
    const none = await fetch(`${shop.base}/api/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await fetch(`${shop.base}/api/metrics`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
    const ok = await fetch(`${shop.base}/api/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/^# HELP /m);
    const health = (await (await fetch(`${shop.base}/api/health`, { headers: { authorization: `Bearer ${METRICS_TOKEN}`, 'x-forwarded-for': '203.0.113.9' } })).json()) as Record<string, unknown>;
    expect(health).toHaveProperty('database');
    expect(await (await fetch(`${shop.base}/api/health`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).json()).toEqual({ ready: true });
  });
});

describe('an overloaded shop (admission control in scripts/serve.ts)', () => {
  let shop: Shop;
  beforeAll(async () => {
    // Two requests at once and three in line, so a burst overflows at once.
    shop = await startShop({ HTTP_MAX_IN_FLIGHT: '2', HTTP_MAX_QUEUE: '3', HTTP_QUEUE_TIMEOUT_MS: '20000' });
  }, 120_000);
  afterAll(async () => {
    await shop?.stop();
    if (shop) rmSync(shop.dataDir, { recursive: true, force: true });
  });

  it('answers a burst beyond its line busy at once (503, Retry-After, a calm page), serves the rest, and still answers health', async () => {
    const burst = Array.from({ length: 40 }, () =>
      fetch(`${shop.base}/`, { headers: { accept: 'text/html' } }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.text() })),
    );
    // While the line is full, the operators' health check is not held back.
    const health = await fetch(`${shop.base}/api/health`);
    expect(health.status).toBe(200);
    const answers = await Promise.all(burst);
    const busy = answers.filter((a) => a.status === 503);
    const served = answers.filter((a) => a.status === 200);
    // Nothing else: no 500s, no connection errors, no timeouts.
    expect(busy.length + served.length).toBe(answers.length);
    // At most 2 at once + 3 waiting could be served from the first wave; the rest of that wave was refused.
    expect(busy.length).toBeGreaterThan(0);
    expect(served.length).toBeGreaterThanOrEqual(5);
    for (const b of busy) {
      expect(Number(b.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(b.body).toContain('Your cart is saved');
    }
    // Every refusal is counted for the operator, by reason.
    const text = await (await fetch(`${shop.base}/api/metrics`)).text();
    const counted = [...text.matchAll(/^brisk_http_shed_total\{reason="(\w+)"\} (\d+)/gm)].reduce((n, m) => n + Number(m[2]), 0);
    expect(counted).toBe(busy.length);
    // Once the burst is over, the shop serves again.
    expect((await fetch(`${shop.base}/`)).status).toBe(200);
  });
});
