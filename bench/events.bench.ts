// From delivery to paid (issue #17 part 3): how fast stored payment events are applied, and how
// long a shopper's order takes to show Paid after Stripe delivers the event.
//
//   npx tsx bench/events.bench.ts [--quick] [--db pglite|postgres]
//
// Per database, on the production build (scripts/start.ts, as `npm start`):
//  1. N orders with an open attempt each are seeded, and their PaymentIntents created and paid
//     in a Stripe emulator (in this process, no rate limit); each payment_intent.succeeded event
//     is built from the paid PaymentIntent as the emulator would send it, signed, and POSTed to
//     /api/stripe/webhook while no worker runs (WORKER_MODE=off): a stored, enqueued backlog.
//  2. The backlog is applied: on PGlite by the app restarted with npm start's default inline
//     workers; on PostgreSQL by two `npm run worker` processes. Throughput = events / (last
//     applied − first applied), and from the workers' start to the last one.
//  3. Delivery → Paid: fresh events POSTed open loop at 100/s to the app with workers running
//     (PGlite inline; PostgreSQL: web WORKER_MODE=off + the two workers); latency = the order's
//     paidAt − the moment the event was sent.
// Every event must end processed and every order paid (nothing lost); the run fails otherwise.
//
// Stripe: a payment event is applied from its own signed payload (lib/orders/stripe-events.ts),
// with no Stripe request, so the app's rate budget (20 requests/s in test mode) does not pace it;
// only refund events still list refunds. Everything runs with the default settings, the
// test-mode budget included.
// PostgreSQL: a temporary database on BENCH_DATABASE_URL's server, prefix BENCH_DB_PREFIX
// (default brisk_bench), dropped afterwards. Ports from BENCH_PORTS when set.
// BENCH_CPU_PROF=<dir>: the appliers run under node --cpu-prof, profiles written there.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import pg from 'pg';
import Stripe from 'stripe';
import { startEmulator, type RunningEmulator } from '@/emulator/src/server';
import type { Database } from '@/lib/db/client';
import { openForChecks, prepareDatabase } from '@/chaos/lib/harness';
import { cleanupAll, createDatabase, dropDatabase, freePort, runDir, sleep, startApp, startWorker, type App, type Child } from './lib/app-process';
import { closedLoop, openLoop, type RequestSpec } from './lib/load';
import { cpuBetween, cpuOf } from './lib/proc-cpu';
import { describeProbes, probeMachine } from './lib/probe';
import { exitForGoals, isQuick, missedGoals, percentile, recordResults, type Row } from './lib/results';

const KEYS = { secret: 'sk_test_brisk_bench_events', publishable: 'pk_test_brisk_bench_events', webhook: 'whsec_brisk_bench_events' };
const BACKLOG = Number(process.env.BENCH_EVENTS ?? (isQuick ? 2_000 : 10_000));
const LAT_RATE = Number(process.env.BENCH_LAT_RATE ?? 100);
const LAT_SECONDS = Number(process.env.BENCH_LAT_SECONDS ?? (isQuick ? 10 : 30));
const GOALS = { pglite: 200, postgres: 500 } as const;
const dbArg = process.argv.includes('--db') ? process.argv[process.argv.indexOf('--db') + 1] : undefined;
const kinds = (dbArg ? [dbArg] : ['pglite', 'postgres']) as ('pglite' | 'postgres')[];
const cpuProfDir = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : null;
const signer = new Stripe('sk_test_brisk_bench_unused');
const runTag = randomBytes(3).toString('hex');

/**
 * CPU seconds (user + system) used so far by these processes and their descendants, from
 * /proc: on a shared machine CPU time per event holds up where events per second do not.
 */
function treeCpuSeconds(pids: number[]): number {
  const stats = new Map<number, { ppid: number; cpu: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const raw = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(d), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / 100 });
    } catch {
      /* gone */
    }
  }
  const roots = new Set(pids);
  let total = 0;
  for (const [pid, s] of stats) {
    for (let p: number | undefined = pid; p; p = stats.get(p)?.ppid) {
      if (roots.has(p)) {
        total += s.cpu;
        break;
      }
    }
  }
  return total;
}

interface Paid {
  orderId: string;
  event: string;
}

/** Creates and pays `n` PaymentIntents at the emulator, each for an order id of ours; the events it would send. */
async function payAtStripe(stripe: Stripe, n: number, phase: string, amount: number): Promise<Paid[]> {
  const out: Paid[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < n) {
        const i = next++;
        const orderId = randomUUID();
        const pi = await stripe.paymentIntents.create({
          amount,
          currency: 'usd',
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          payment_method: 'pm_card_visa',
          confirm: true,
          metadata: { order_id: orderId, attempt: '1' },
        });
        if (pi.status !== 'succeeded') throw new Error(`PaymentIntent ${pi.id} is ${pi.status}`);
        const created = Math.floor(Date.now() / 1000);
        const event = JSON.stringify({
          id: `evt_${phase}${runTag}_${i}`,
          object: 'event',
          api_version: '2025-10-29.clover',
          created,
          type: 'payment_intent.succeeded',
          livemode: false,
          pending_webhooks: 1,
          request: { id: null, idempotency_key: null },
          data: { object: pi },
        });
        out.push({ orderId, event });
      }
    }),
  );
  return out;
}

/** Orders as startPayment leaves them: pending, one open attempt whose PaymentIntent is the paid one. */
async function seedOrders(db: Database, paid: Paid[], amount: number, productId: string, productName: string): Promise<void> {
  const piOf = (p: Paid) => (JSON.parse(p.event) as { data: { object: { id: string } } }).data.object.id;
  for (let i = 0; i < paid.length; i += 500) {
    const chunk = paid.slice(i, i + 500);
    await db.prisma.order.createMany({
      data: chunk.map((p, j) => ({
        id: p.orderId,
        publicToken: randomBytes(24).toString('base64url'),
        email: `bench-${p.orderId.slice(0, 8)}@example.com`,
        name: 'Bench Shopper',
        // Ten or so orders to each address, as in a shop, not every order to one parcel locker
        // (the risk signals read at most the latest 100 orders of an address either way).
        addressLine1: `${((i + j) % 997) + 1} Bench Street`,
        city: 'Benchville',
        postalCode: '12345',
        country: 'US',
        currency: 'usd',
        subtotal: amount,
        total: amount,
        pricingHash: 'bench',
        attemptCount: 1,
        paymentIntentId: piOf(p),
      })),
    });
    await db.prisma.orderItem.createMany({ data: chunk.map((p) => ({ orderId: p.orderId, productId, name: productName, unitPrice: amount, quantity: 1 })) });
    await db.prisma.paymentAttempt.createMany({
      data: chunk.map((p) => ({ orderId: p.orderId, attemptNumber: 1, paymentIntentId: piOf(p), idempotencyKey: `brisk:pi:${p.orderId}:1`, amount, currency: 'usd', status: 'requires_payment_method' })),
    });
  }
}

function signedPost(events: Paid[], sentAt?: Map<string, number>): () => RequestSpec {
  let i = 0;
  return () => {
    const p = events[i++ % events.length];
    sentAt?.set(p.orderId, Date.now());
    return { path: '/api/stripe/webhook', body: p.event, headers: { 'content-type': 'application/json', 'stripe-signature': signer.webhooks.generateTestHeaderString({ payload: p.event, secret: KEYS.webhook }) } };
  };
}

async function postAll(app: App, events: Paid[]): Promise<void> {
  const next = signedPost(events);
  let sent = 0;
  // Closed loop, 16 in flight, until every event is acknowledged once.
  const spec = () => {
    sent++;
    return next();
  };
  while (sent < events.length) {
    const r = await closedLoop({ port: app.port, concurrency: 16, seconds: 0.25, next: () => (sent < events.length ? spec() : { path: '/api/health', body: '', headers: {} }) });
    if (r.errors > 0 && Object.keys(r.statuses).some((s) => s !== '200' && s !== '405')) throw new Error(`webhook POSTs failed: ${JSON.stringify(r.statuses)}`);
  }
}

/** Job queue depth from /api/health (details are shown to this machine). */
async function stripeEventJobsOpen(port: number): Promise<number | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/api/health`);
    const h = (await r.json()) as { queues?: Record<string, { queued: number; active: number }> | null };
    const q = h.queues?.['stripe-event'];
    return q ? q.queued + q.active : null;
  } catch {
    return null;
  }
}

/** Waits until no stored event of this phase is left unprocessed (PostgreSQL: asked directly). */
/** CPU ms so far of the PostgreSQL server's backends serving this database (the database's share of the work). */
async function backendCpu(url: string): Promise<Map<number, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
    return cpuOf(rows.map((r) => r.pid));
  } finally {
    await client.end();
  }
}

async function drainedPg(url: string, prefix: string, timeoutMs: number): Promise<void> {
  const db = await openForChecks({ url });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = await db.prisma.stripeEvent.count({ where: { id: { startsWith: prefix }, status: { not: 'processed' } } });
      if (left === 0) return;
      if (Date.now() > deadline) throw new Error(`${left} events of ${prefix} still unprocessed after ${timeoutMs / 1000} s`);
      await sleep(250);
    }
  } finally {
    await db.close();
  }
}

async function firstApplied(url: string, timeoutMs: number, prefix = 'evt_'): Promise<void> {
  const db = await openForChecks({ url });
  try {
    const deadline = Date.now() + timeoutMs;
    const before = await db.prisma.stripeEvent.count({ where: { id: { startsWith: prefix }, status: 'processed' } });
    while ((await db.prisma.stripeEvent.count({ where: { id: { startsWith: prefix }, status: 'processed' } })) === before) {
      if (Date.now() > deadline) throw new Error(`no event applied within ${timeoutMs / 1000} s of starting the workers`);
      await sleep(100);
    }
  } finally {
    await db.close();
  }
}

async function drainedViaHealth(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let zeros = 0;
  for (;;) {
    const open = await stripeEventJobsOpen(port);
    zeros = open === 0 ? zeros + 1 : 0;
    if (zeros >= 2) return;
    if (Date.now() > deadline) throw new Error(`stripe-event jobs still open after ${timeoutMs / 1000} s (${open})`);
    await sleep(1_000);
  }
}

interface PhaseCheck {
  events: number;
  processed: number;
  /** Processed from `since` on. */
  inWindow: number;
  paidOrders: number;
  firstMs: number;
  lastMs: number;
  paidAt: Map<string, number>;
}

async function check(o: { dataDir?: string; url?: string }, prefix: string, orders: string[], since = 0): Promise<PhaseCheck> {
  const db = await openForChecks(o);
  try {
    const events = await db.prisma.stripeEvent.findMany({ where: { id: { startsWith: prefix } }, select: { status: true, processedAt: true, ignoredReason: true } });
    const processed = events.filter((e) => e.status === 'processed' && e.ignoredReason === null);
    // Rates count what was applied from `since` on (an earlier run may have applied a few).
    const times = processed.map((e) => e.processedAt!.getTime()).filter((t) => t >= since).sort((a, b) => a - b);
    const paidAt = new Map<string, number>();
    for (let i = 0; i < orders.length; i += 1000) {
      const rows = await db.prisma.order.findMany({ where: { id: { in: orders.slice(i, i + 1000) }, status: 'paid' }, select: { id: true, paidAt: true } });
      for (const r of rows) paidAt.set(r.id, r.paidAt!.getTime());
    }
    return { events: events.length, processed: processed.length, inWindow: times.length, paidOrders: paidAt.size, firstMs: times[0] ?? NaN, lastMs: times.at(-1) ?? NaN, paidAt };
  } finally {
    await db.close();
  }
}

function profEnv(label: string): Record<string, string> {
  if (!cpuProfDir) return {};
  const dir = join(cpuProfDir, label);
  mkdirSync(dir, { recursive: true });
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${dir}`.trim() };
}

async function runKind(kind: 'pglite' | 'postgres', emulator: RunningEmulator, stripe: Stripe): Promise<Row[]> {
  const dir = runDir(`events-bench-${kind}`);
  const dataDir = join(dir, 'data');
  let database: { name: string; url: string } | undefined;
  const children: Child[] = [];
  try {
    if (kind === 'postgres') database = await createDatabase(process.env.BENCH_DB_PREFIX || 'brisk_bench');
    const where = database ? { url: database.url } : { dataDir };
    const db = await prepareDatabase(where);
    const product = (await db.prisma.product.findFirst({ where: { active: true }, orderBy: { slug: 'asc' } }))!;
    const t0 = performance.now();
    const phases = {
      backlog: await payAtStripe(stripe, BACKLOG, 'b', product.price),
      latency: await payAtStripe(stripe, LAT_RATE * LAT_SECONDS, 'l', product.price),
    };
    for (const p of Object.values(phases)) await seedOrders(db, p, product.price, product.id, product.name);
    await db.close();
    console.log(`${kind}: ${Object.values(phases).reduce((n, p) => n + p.length, 0)} orders seeded and paid at the emulator in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const port = await freePort();
    const baseEnv = {
      DATABASE_URL: database?.url ?? '',
      APP_SECRET: 'bench-app-secret-0123456789abcdef0123456789',
      STRIPE_SECRET_KEY: KEYS.secret,
      NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: KEYS.publishable,
      STRIPE_WEBHOOK_SECRET: KEYS.webhook,
      STRIPE_API_BASE: emulator.url,
      STRIPE_JS_URL: `${emulator.url}/v3/`,
      BRISK_BENCH_ROUTES: '1',
      // The scheduled reconciliation (every 15 minutes) would list every PaymentIntent of the
      // run and pay the orders itself, before their events: not what is measured here.
      RECONCILE_CRON: 'off',
    };
    const app = async (label: string, env: Record<string, string>, via: 'start' | 'next' = 'next') => {
      const a = await startApp({ label, via, port, dataDir, logFile: join(dir, `${label}.log`), env: { ...baseEnv, ...env } });
      children.push(a);
      return a;
    };
    const workers = async (label: string, env: Record<string, string>) => {
      const ws = [1, 2].map((n) => startWorker({ label: `${label}-${n}`, logFile: join(dir, `${label}-${n}.log`), env: { ...baseEnv, ...env, ...profEnv(`${kind}-${label}-${n}`) } }));
      children.push(...ws);
      return ws;
    };
    const stop = async (c: Child) => {
      await c.stop(20_000);
      children.splice(children.indexOf(c), 1);
    };

    // The build (if stale) and migrations, then the backlogs stored with nobody applying them.
    // BENCH_REUSE_BUILD=1: serve the existing bench build as is (the workers on PostgreSQL run
    // from source either way), e.g. while another run still serves that build.
    let web = await app('store', { WORKER_MODE: 'off' }, process.env.BENCH_REUSE_BUILD === '1' ? 'next' : 'start');
    await postAll(web, phases.backlog);
    await stop(web);
    console.log(`${kind}: ${phases.backlog.length} events stored and enqueued`);

    const rows: Row[] = [];
    const applier = kind === 'pglite' ? 'npm start, inline workers' : 'two npm run worker';
    const drain = async (label: string, prefix: string, env: Record<string, string>, timeoutMs: number): Promise<{ startedAt: number; drainedAt: number; cpuSeconds: number; dbCpuSeconds?: number }> => {
      if (kind === 'pglite') {
        // From the launch: the inline worker starts applying before the app answers its health
        // check (a busy worker can hold PGlite's one connection until the backlog is through).
        const startedAt = Date.now();
        const a = await app(label, { WORKER_MODE: 'inline', ...env, ...profEnv(`${kind}-${label}`) });
        const cpu0 = 0; // the process is new: all its CPU is this run's (start-up included)
        await drainedViaHealth(a.port, timeoutMs);
        const drainedAt = Date.now();
        const cpuSeconds = treeCpuSeconds([a.process.pid!]) - cpu0;
        await stop(a);
        return { startedAt, drainedAt, cpuSeconds };
      }
      const ws = await workers(label, env);
      await firstApplied(database!.url, 120_000, prefix);
      const startedAt = Date.now();
      const pids = ws.map((w) => w.process.pid!);
      const cpu0 = treeCpuSeconds(pids);
      const db0 = await backendCpu(database!.url);
      await drainedPg(database!.url, prefix, timeoutMs);
      const drainedAt = Date.now();
      const cpuSeconds = treeCpuSeconds(pids) - cpu0;
      const dbCpuSeconds = cpuBetween(db0, await backendCpu(database!.url)) / 1000;
      for (const w of ws) await stop(w);
      return { startedAt, drainedAt, cpuSeconds, dbCpuSeconds };
    };

    // The backlog, as shipped: default settings, the test-mode Stripe budget included (payment
    // events make no Stripe request, so it does not pace them).
    {
      const { startedAt, drainedAt, cpuSeconds, dbCpuSeconds } = await drain('backlog', 'evt_', {}, 1_200_000);
      const backlogOrders = phases.backlog.map((p) => p.orderId);
      const c = await check(where, `evt_b${runTag}_`, backlogOrders, startedAt);
      const lost = c.events - c.processed + (backlogOrders.length - c.paidOrders);
      const steady = c.inWindow / ((c.lastMs - c.firstMs) / 1000);
      const wall = c.inWindow / ((drainedAt - startedAt) / 1000);
      rows.push({
        database: kind,
        run: `backlog of ${BACKLOG}, as shipped`,
        applier,
        events: `${c.processed} applied (${c.inWindow} in this run), ${c.paidOrders} orders paid`,
        'events/s': `${steady.toFixed(0)} (first→last applied); ${wall.toFixed(0)} from start`,
        'applier CPU ms/event':
          ((cpuSeconds * 1000) / Math.max(1, c.inWindow)).toFixed(1) +
          (dbCpuSeconds !== undefined ? ` (+ ${((dbCpuSeconds * 1000) / Math.max(1, c.inWindow)).toFixed(1)} in the PostgreSQL server's backends)` : ''),
        'p50 ms': '',
        'p99 ms': '',
        lost,
        goal: `≥ ${GOALS[kind]}/s: ${steady >= GOALS[kind] && lost === 0 ? 'met' : 'NOT met'}`,
      });
      console.log(`${kind}: backlog ${c.processed}/${c.events} applied, ${c.paidOrders} paid, ${steady.toFixed(0)}/s`);
    }

    // Delivery → Paid at 100 events/s, workers running, as shipped.
    {
      const sentAt = new Map<string, number>();
      const env = {};
      let ws: Child[] = [];
      if (kind === 'pglite') web = await app('latency', { WORKER_MODE: 'inline', ...env, ...profEnv(`${kind}-latency`) });
      else {
        web = await app('latency', { WORKER_MODE: 'off', ...env });
        ws = await workers('latency', env);
      }
      // Warm-up, uncounted: the appliers are up (workers' start-up is not delivery latency) and
      // first queries compiled once one event has gone through.
      const [warm, ...timed] = phases.latency;
      await postAll(web, [warm]);
      if (kind === 'pglite') await drainedViaHealth(web.port, 300_000);
      else await drainedPg(database!.url, `evt_l${runTag}_`, 300_000);
      const r = await openLoop({ port: web.port, rate: LAT_RATE, seconds: (timed.length - 1) / LAT_RATE, maxInFlight: 256, next: signedPost(timed, sentAt) });
      if (kind === 'pglite') await drainedViaHealth(web.port, 300_000);
      else await drainedPg(database!.url, `evt_l${runTag}_`, 300_000);
      for (const w of ws) await stop(w);
      await stop(web);
      const c = await check(where, `evt_l${runTag}_`, phases.latency.map((p) => p.orderId));
      const lat = [...sentAt].filter(([id]) => c.paidAt.has(id)).map(([id, t]) => c.paidAt.get(id)! - t).sort((a, b) => a - b);
      const paidOfSent = [...sentAt.keys()].filter((id) => c.paidAt.has(id)).length;
      // Sent and acknowledged but never paid (the warm-up's order is paid too, so not counted).
      // An ack that timed out (errors) may still have been stored and paid: lost counts what was
      // acknowledged and never paid, at least.
      const lost = Math.max(0, sentAt.size - r.errors - paidOfSent);
      rows.push({
        database: kind,
        run: `delivery → Paid, open loop ${LAT_RATE}/s for ${LAT_SECONDS} s, as shipped`,
        applier: kind === 'pglite' ? applier : `web WORKER_MODE=off + ${applier}`,
        events: `${paidOfSent} of ${sentAt.size} sent paid; ${r.skipped} not sent (256 in flight); acks p50 ${r.p50.toFixed(0)} / p99 ${r.p99.toFixed(0)} ms`,
        'events/s': `${LAT_RATE} offered, ${(r.sent / LAT_SECONDS).toFixed(0)} sent`,
        'applier CPU ms/event': '',
        'p50 ms': percentile(lat, 50).toFixed(0),
        'p99 ms': percentile(lat, 99).toFixed(0),
        lost,
        goal: lost === 0 ? 'none set (reported); nothing lost: met' : 'nothing lost: NOT met',
      });
      console.log(`${kind}: delivery → Paid p50 ${percentile(lat, 50).toFixed(0)} ms, p99 ${percentile(lat, 99).toFixed(0)} ms`);
      // Where in the run the slow ones were: p50 / p99 per 5 s of sending.
      const first = Math.min(...sentAt.values());
      const windows = new Map<number, number[]>();
      for (const [id, t] of sentAt) {
        const paid = c.paidAt.get(id);
        if (paid === undefined) continue;
        const w = Math.floor((t - first) / 5000);
        windows.set(w, [...(windows.get(w) ?? []), paid - t]);
      }
      extraNotes.push(
        `${kind}: delivery → Paid by 5 s of sending, p50/p99 ms: ${[...windows]
          .sort((a, b) => a[0] - b[0])
          .map(([w, l]) => { l.sort((a, b) => a - b); return `${w * 5}–${w * 5 + 5} s ${percentile(l, 50).toFixed(0)}/${percentile(l, 99).toFixed(0)}`; })
          .join(', ')}`,
      );
    }
    // BENCH_KEEP=1 keeps the run's directory (logs, PGlite data) for a look afterwards.
    if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    else console.log(`${kind}: kept ${dir}`);
    return rows;
  } finally {
    for (const c of children) await c.kill().catch(() => {});
    if (database) await dropDatabase(database.name).catch(() => {});
  }
}

const load = loadavg()[0];
const probeBefore = probeMachine();
const rows: Row[] = [];
const extraNotes: string[] = [];
const emulatorPort = process.env.BENCH_PORTS ? await freePort() : 0;
const emulator = await startEmulator({ port: emulatorPort, host: '127.0.0.1', secretKey: KEYS.secret, publishableKey: KEYS.publishable, webhookSecret: KEYS.webhook });
const stripe = new Stripe(KEYS.secret, { host: '127.0.0.1', port: emulator.port, protocol: 'http', maxNetworkRetries: 2 });
try {
  for (const kind of kinds) rows.push(...(await runKind(kind, emulator, stripe)));
} catch (err) {
  console.error(err);
  await cleanupAll();
  await emulator.close();
  process.exit(1);
}
await emulator.close();
const probeAfter = probeMachine();
recordResults({
  name: 'events',
  title: 'From delivery to paid: applying stored payment events',
  command: `npx tsx bench/events.bench.ts${isQuick ? ' --quick' : ''}${dbArg ? ` --db ${dbArg}` : ''}`,
  rows,
  notes: [
    `Production build (scripts/start.ts / scripts/serve.ts; npm run worker for PostgreSQL). Orders seeded as startPayment leaves them (pending, one open attempt); their PaymentIntents created and paid at a Stripe emulator in the bench process (no rate limit); each payment_intent.succeeded built from the paid PaymentIntent, signed, POSTed to /api/stripe/webhook while WORKER_MODE=off (stored and enqueued), then applied.`,
    `Since the merge of the ConfirmationToken work (main 274091e), a payment event is applied from its own signed payload (lib/orders/stripe-events.ts): no Stripe request, so the rate budget (80% of test mode's 25/s = 20/s) no longer paces it; before, each event retrieved its PaymentIntent and the appliers ran at exactly 20/s. Every phase runs with the default settings (the budget included).`,
    'applier CPU ms/event = CPU time (user + system, /proc) of the applying processes — the PGlite app (its database runs inside it; counted from its launch, start-up included), or the two workers, with the PostgreSQL server\'s backends for this database in brackets — per event applied in the run; 1000 / their sum is the events/s one fully available core would sustain.',
    'events/s (first→last applied) = applied / (last processedAt − first processedAt); "from start" counts from the appliers being started (start-up and first poll included). lost = events not processed + orders not paid (+ failed sends). Delivery → Paid = order.paidAt − the moment the event was sent (same host clock).',
    ...extraNotes,
    `Goals (issue #17 part 3): ≥ ${GOALS.pglite}/s inline on PGlite, ≥ ${GOALS.postgres}/s with two workers on PostgreSQL; delivery → Paid p50/p99 at ${LAT_RATE}/s reported (no figure set). Load average when the run began: ${load.toFixed(1)} on a 2-core machine shared with other work. ${describeProbes(probeBefore, probeAfter)}`,
  ],
});
await cleanupAll();
exitForGoals(missedGoals(rows));
