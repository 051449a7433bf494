// The README's recipe for several instances against one emulator, run as written: one
// `npm run emulator` whose webhooks go to the load balancer, two app instances from one build on
// one PostgreSQL database, each given exactly the STRIPE_* lines the emulator printed. A shopper
// hops between the instances, pays with the official SDK, and the order becomes paid through the
// webhook alone (nobody opens the order page), delivered through the load balancer.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startApp, type App } from '@/bench/lib/app-process';
import { createTokenInBrowser, Shopper } from '@/chaos/lib/shopper';
import { seedCatalog } from '@/lib/db/seed';
import { buildIfNeeded, buildIsFresh } from '@/scripts/build';
import { createTestDatabase } from '@/tests/helpers/db';

const root = resolve(import.meta.dirname, '..', '..');
// npm test's build when it is current; otherwise one of this test's own (never racing another
// build on the same folder, as the leak scan does).
let distDir = process.env.BRISK_DIST_DIR || '.next';
// Two instances need PostgreSQL (PGlite is one process). The PGlite pass of `npm test` sets
// TEST_DB_KIND=pglite; the PostgreSQL pass (or a direct run with TEST_DATABASE_URL) runs it.
const skipReason = !process.env.TEST_DATABASE_URL
  ? 'TEST_DATABASE_URL is not set: two app instances need PostgreSQL'
  : process.env.TEST_DB_KIND === 'pglite'
    ? 'runs in the PostgreSQL pass only'
    : null;
if (skipReason) console.warn(`[scale-out-emulator] skipped: ${skipReason}`);

type Database = Awaited<ReturnType<typeof createTestDatabase>>;
let database: Database;
let emulator: ChildProcess;
let printed: Record<string, string>;
let emulatorUrl: string;
let lb: { url: string; hits: { backend: number; path: string; status: number }[]; close(): Promise<void> };
const apps: App[] = [];

/** `npm run emulator`, and the `NAME=value` lines it prints for the shop. */
async function startEmulatorCli(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; vars: Record<string, string> }> {
  const child = spawn(process.execPath, [join(root, 'node_modules/.bin/tsx'), 'emulator/cli.ts'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const vars: Record<string, string> = {};
  const url = await new Promise<string>((resolveUrl, reject) => {
    let found = '';
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      const m = /^\s+([A-Z_]+)=(\S+)$/.exec(line);
      if (m) vars[m[1]] = m[2];
      const listening = /listening on (http:\/\/\S+)/.exec(line);
      if (listening) found = listening[1];
      if (found && line.startsWith('Webhooks')) resolveUrl(found);
    });
    child.once('exit', (code) => reject(new Error(`the emulator exited (${code})`)));
    setTimeout(() => reject(new Error('the emulator printed nothing in 30 s')), 30_000).unref();
  });
  return { child, url, vars };
}

/** A round-robin load balancer in front of the instances, recording who served what. */
async function startLoadBalancer(port: number, backends: () => string[]): Promise<typeof lb> {
  let next = 0;
  const hits: { backend: number; path: string; status: number }[] = [];
  const server = http.createServer((req, res) => {
    const i = next++ % backends().length;
    const target = new URL(req.url ?? '/', backends()[i]);
    const upstream = http.request(target, { method: req.method, headers: req.headers }, (up) => {
      hits.push({ backend: i, path: target.pathname, status: up.statusCode ?? 0 });
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => {
      hits.push({ backend: i, path: target.pathname, status: 502 });
      res.writeHead(502).end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

function actionIds(): Record<string, string> {
  const manifest = JSON.parse(readFileSync(join(root, distDir, 'server', 'server-reference-manifest.json'), 'utf8')) as { node: Record<string, { exportedName?: string }> };
  return Object.fromEntries(Object.entries(manifest.node).flatMap(([id, v]) => (v.exportedName ? [[v.exportedName, id]] : [])));
}

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(skipReason !== null)('several instances against one emulator (README: Scale-out)', () => {
  beforeAll(async () => {
    // One build for every instance (`npm test` has made it already; a direct run makes one).
    if (!buildIsFresh(distDir)) {
      distDir = '.next-scaleout';
      buildIfNeeded(distDir, (line) => console.log(`[scale-out-emulator] ${line}`));
    }
    database = await createTestDatabase('postgres');
    await seedCatalog(database.prisma);

    const lbPort = await freePort();
    const ports = [await freePort(), await freePort()];
    lb = await startLoadBalancer(lbPort, () => ports.map((p) => `http://127.0.0.1:${p}`));
    // As the README says: `EMULATOR_WEBHOOK_URL=<load balancer>/api/stripe/webhook npm run emulator`.
    const env: Record<string, string> = { EMULATOR_PORT: String(await freePort()), EMULATOR_WEBHOOK_URL: `${lb.url}/api/stripe/webhook`, EMULATOR_DATA_FILE: '' };
    for (const name of ['STRIPE_SECRET_KEY', 'NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY', 'STRIPE_WEBHOOK_SECRET']) env[name] = '';
    const started = await startEmulatorCli(env);
    emulator = started.child;
    emulatorUrl = started.url;
    printed = started.vars;

    // Every instance gets the same printed STRIPE_* lines, and nothing else about Stripe.
    const shared = {
      DATABASE_URL: database.url!,
      APP_SECRET: 'scale-out-emulator-test-secret-0123456789abcdef',
      BRISK_DIST_DIR: distDir,
      ...printed,
    };
    for (const [i, port] of ports.entries()) {
      apps.push(await startApp({ label: `instance ${i + 1}`, via: 'next', port, dataDir: join(root, '.data', 'runs', `scale-out-emulator-${process.pid}-${i}`), logFile: join(root, '.data', 'runs', `scale-out-emulator-${process.pid}-${i}.log`), env: shared }));
    }
  }, 900_000);

  afterAll(async () => {
    for (const app of apps) await app.stop(5_000).catch(() => undefined);
    if (emulator && emulator.exitCode === null) {
      const exited = new Promise((r) => emulator.once('exit', r));
      emulator.kill('SIGTERM');
      await exited;
    }
    await lb?.close();
    await database?.drop();
  }, 60_000);

  it('npm run emulator prints every variable an instance needs, STRIPE_JS_URL included', () => {
    expect(Object.keys(printed).sort()).toEqual(['NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY', 'STRIPE_API_BASE', 'STRIPE_JS_URL', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET']);
    expect(printed.STRIPE_API_BASE).toBe(emulatorUrl);
    expect(printed.STRIPE_JS_URL).toBe(`${emulatorUrl}/v3/`);
  });

  it('a shopper hopping between instances pays; the webhook reaches them through the load balancer and pays the order', async () => {
    const products = await database.prisma.product.findMany({ where: { active: true, stock: { gt: 0 } }, orderBy: { slug: 'asc' }, take: 1 });
    let turn = 0;
    const shopper = new Shopper({ base: () => apps[turn++ % apps.length].url, actions: actionIds() }, 'scale-out@example.com');
    expect(await shopper.addToCart(products[0], 2)).toEqual({ ok: true }); // instance 1

    // Instance 2 serves the checkout page with the emulator's Stripe.js (STRIPE_JS_URL).
    const page = await fetch(`${apps[1].url}/checkout`, { headers: { cookie: shopper.cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(printed.STRIPE_JS_URL);
    turn = 1;
    // A 3-D Secure card: instance 2 creates the PaymentIntent, which waits for the shopper.
    const token = await createTokenInBrowser({ stripeUrl: printed.STRIPE_API_BASE, publishableKey: printed.NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY, card: 'pm_card_authenticationRequired' });
    const started = await shopper.startPayment(products[0].price * 2, token!); // instance 2
    if (started.kind !== 'requires_action') throw new Error(`checkout did not start: ${JSON.stringify(started)}`);

    // Stripe.js's part, through the official SDK against the emulator the instances use: the
    // shopper pays with another card instead, and only the webhook tells the instances.
    const api = new URL(printed.STRIPE_API_BASE);
    const stripe = new Stripe(printed.STRIPE_SECRET_KEY, { host: api.hostname, port: Number(api.port), protocol: 'http', maxNetworkRetries: 0, telemetry: false });
    const pi = await stripe.paymentIntents.confirm(started.paymentIntentId, { payment_method: 'pm_card_visa' });
    expect(pi.status).toBe('succeeded');
    expect(pi.metadata.order_id).toBeTruthy();

    const order = await eventually(
      () => database.prisma.order.findFirstOrThrow({ where: { paymentIntentId: started.paymentIntentId } }),
      (o) => o.status === 'paid',
      60_000,
    );
    expect(order.status).toBe('paid');
    // Paid by the webhook worker: nobody opened the order page.
    const paidBy = await database.prisma.orderEvent.findFirst({ where: { orderId: order.id, kind: 'status_changed', toStatus: 'paid' } });
    expect(paidBy?.source).toBe('webhook');
    // Every event the instances stored gets processed (by whichever instance's worker), each
    // once, none dropped as foreign: the events of this payment, as Stripe sent them.
    const events = await stripe.events.list({ limit: 100 });
    const stored = await eventually(
      () => database.prisma.stripeEvent.findMany({ select: { id: true, type: true, status: true, ignoredReason: true } }),
      (rows) => rows.length >= events.data.length && rows.every((r) => r.status === 'processed'),
      60_000,
    );
    expect(stored.map((r) => r.id).sort()).toEqual(events.data.map((e) => e.id).sort());
    for (const r of stored) expect(r, r.type).toMatchObject({ status: 'processed', ignoredReason: null });
    expect(stored.map((r) => r.type)).toContain('payment_intent.succeeded');

    // The emulator delivered every event to the load balancer, which spread them over both
    // instances; each answered 2xx (the control API with the secret key it printed).
    const deliveries = (await (await fetch(`${emulatorUrl}/_emulator/deliveries`, { headers: { authorization: `Bearer ${printed.STRIPE_SECRET_KEY}` } })).json()) as { data: { url: string; ok: boolean; status: number }[] };
    expect(deliveries.data.length).toBe(events.data.length);
    for (const d of deliveries.data) expect(d).toMatchObject({ url: `${lb.url}/api/stripe/webhook`, ok: true });
    const webhookHits = lb.hits.filter((h) => h.path === '/api/stripe/webhook');
    expect(new Set(webhookHits.map((h) => h.backend))).toEqual(new Set([0, 1]));
    expect(webhookHits.every((h) => h.status === 200)).toBe(true);
  }, 120_000);
});
