// The soak (issue 17, part 5): checkouts and webhooks held for an hour through the real server.
//
//   npm run bench:soak [-- --quick] [-- --db pglite|postgres|both] [-- --minutes N] [-- --rate 20] [-- --webhook-rate 100]
//
// The shop is started as `npm start` starts it (scripts/start.ts, NODE_ENV=production, default
// settings: the gateway's rate budget, the inline job worker), against a Stripe emulator process
// that delivers its webhooks to it. For --minutes (60; --quick: 5), two open loops run side by side:
// - shoppers at --rate per second (bench/lib/checkout-shopper.ts: add to cart, a ConfirmationToken
//   at the emulator, Pay, the order page until Paid); at most MAX_SHOPPERS in flight, arrivals past
//   that are counted as not sent, never queued;
// - webhooks at --webhook-rate per second on top of the emulator's own deliveries, as Stripe
//   sends them: signed payment_intent.succeeded events for PaymentIntents the run's shoppers really
//   paid (fetched from the emulator), half with a new event id (stored, enqueued, applied by the
//   worker) and half redeliveries of an event already sent (recognised as duplicates).
// Every 1/12 of the run it prints and records: resident memory (VmRSS from /proc of the server's
// process tree), CPU, checkouts offered/achieved and paid/busy/other, server time per checkout
// (add + Pay + order pages, Stripe's time included) p50/p99, webhook acks p50/p99, queue depth
// (/api/health), dead letters (/api/metrics), table and index sizes (PostgreSQL:
// pg_total_relation_size; PGlite: its data directory). At the end, arrivals stop, the queues
// are given DRAIN_MS to drain, the app is stopped and its database checked: every acknowledged
// event processed, nothing left unprocessed or dead (chaos/lib/checks.ts checkConverged), every
// PaymentIntent that succeeded at the emulator on a paid order or refunded in full.
// Goals: memory grows ≤ 10 % from the end of the first interval to the end; p99 of the last
// interval ≤ 1.25 × the second's (no drift); queues drained; nothing lost. A target the machine
// cannot reach is reported (offered vs achieved), never a reason to stop early.
//
// Ports: the app from BENCH_APP_PORT_RANGE (else BENCH_PORTS), the emulator from BENCH_PORT_RANGE
// (else any free ones). PostgreSQL: a temporary database on BENCH_DATABASE_URL's server, prefix
// BENCH_DB_PREFIX (default brisk_soak).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import Stripe from 'stripe';
import { checkConverged } from '../chaos/lib/checks';
import { actionIds, openForChecks, prepareDatabase } from '../chaos/lib/harness';
import { cleanupAll, createDatabase, onCleanup, portFrom, runDir, sleep, startApp, startEmulatorProcess } from './lib/app-process';
import { checkout, PAID_WITHIN_MS, type Outcome, type Product, type ShopSite } from './lib/checkout-shopper';
import { makeAgent, send } from './lib/load';
import { cpuBetween, processTree, treeCpu } from './lib/proc-cpu';
import { describeProbes, probeMachine } from './lib/probe';
import { exitForGoals, isQuick, missedGoals, percentile, recordResults, type Row } from './lib/results';

const argValue = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const MINUTES = Number(argValue('--minutes') ?? (isQuick ? 5 : 60));
const RATE = Number(argValue('--rate') ?? 20);
const WEBHOOK_RATE = Number(argValue('--webhook-rate') ?? 100);
const INTERVALS = 12;
const INTERVAL_MS = (MINUTES * 60_000) / INTERVALS;
/** Shoppers in flight at most: past it an arrival is not sent (counted), so an overloaded server cannot make the run's own memory grow without bound. */
const MAX_SHOPPERS = 200;
const MAX_WEBHOOKS = 500;
const DRAIN_MS = isQuick ? 180_000 : 300_000;
const GOAL = { memoryGrowth: 0.1, p99Drift: 1.25 };
const dbArg = argValue('--db') ?? 'pglite';
// --env KEY=VALUE (repeatable): a setting for the shop, e.g. `--env PGLITE_VACUUM_CRON=off` for an A/B run.
const extraEnv: Record<string, string> = Object.fromEntries(
  process.argv.flatMap((a, i) => (a === '--env' && process.argv[i + 1]?.includes('=') ? [[process.argv[i + 1].slice(0, process.argv[i + 1].indexOf('=')), process.argv[i + 1].slice(process.argv[i + 1].indexOf('=') + 1)]] : [])),
);
const kinds = dbArg === 'both' ? (['pglite', 'postgres'] as const) : dbArg === 'postgres' ? (['postgres'] as const) : (['pglite'] as const);
const KEYS = { secret: 'sk_test_brisk_bench_soak', publishable: 'pk_test_brisk_bench_soak', webhook: 'whsec_brisk_bench_soak' };
const FULFILLED = new Set(['paid', 'partially_refunded', 'refunded']);
const signer = new Stripe('sk_test_brisk_bench_unused');
const runTag = randomBytes(3).toString('hex');
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '—');
/** Minutes into the run at the end of interval k (one decimal when intervals are shorter than a minute). */
const minutesAt = (k: number) => ((k * INTERVAL_MS) / 60_000).toFixed(INTERVAL_MS < 60_000 ? 1 : 0);

/** VmRSS of each process of the tree, in MB (the largest is the Next.js server with PGlite and the worker). */
function rssOf(pids: number[]): { total: number; largest: number } {
  let total = 0;
  let largest = 0;
  for (const pid of pids) {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      total += kb / 1024;
      largest = Math.max(largest, kb / 1024);
    } catch {
      /* gone */
    }
  }
  return { total, largest };
}

async function health(port: number): Promise<{ depth: number; byQueue: string }> {
  try {
    const h = (await (await fetch(`http://127.0.0.1:${port}/api/health`, { signal: AbortSignal.timeout(30_000) })).json()) as { queues?: Record<string, { queued: number; active: number }> | null };
    const q = Object.entries(h.queues ?? {}).filter(([, d]) => d.queued + d.active > 0);
    return { depth: q.reduce((s, [, d]) => s + d.queued + d.active, 0), byQueue: q.map(([n, d]) => `${n} ${d.queued}+${d.active}`).join(', ') || 'none' };
  } catch (err) {
    return { depth: NaN, byQueue: `health unanswered: ${err instanceof Error ? err.message : String(err)}` };
  }
}

interface ServerMetrics {
  dead: number;
  /** V8 heap used / total, memory outside the heap V8 knows of (Buffers, ArrayBuffers), and RSS, MB. */
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  rssMb: number;
}

/** Dead letters and the server's own memory split (prom-client's default metrics on /api/metrics). */
async function serverMetrics(port: number): Promise<ServerMetrics> {
  const none = { dead: NaN, heapUsedMb: NaN, heapTotalMb: NaN, externalMb: NaN, rssMb: NaN };
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/api/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
    const one = (name: string) => Number(text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm'))?.[1] ?? NaN) / 1048576;
    return {
      dead: [...text.matchAll(/^brisk_job_dead_letters\{[^}]*\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0),
      heapUsedMb: one('brisk_process_nodejs_heap_size_used_bytes'),
      heapTotalMb: one('brisk_process_nodejs_heap_size_total_bytes'),
      externalMb: one('brisk_process_nodejs_external_memory_bytes'),
      rssMb: one('brisk_process_process_resident_memory_bytes'),
    };
  } catch {
    return none;
  }
}

/** Table + index sizes in MB, largest first (PostgreSQL), or the PGlite data directory's size. */
async function sizes(pgClient: pg.Client | undefined, dataDir: string): Promise<{ totalMb: number; text: string }> {
  if (!pgClient) {
    const kb = Number(execFileSync('du', ['-sk', dataDir], { encoding: 'utf8' }).split('\t')[0]);
    return { totalMb: kb / 1024, text: `PGlite data dir ${(kb / 1024).toFixed(1)} MB` };
  }
  const { rows } = await pgClient.query<{ name: string; mb: number }>(
    `SELECT n.nspname || '.' || c.relname AS name, pg_total_relation_size(c.oid) / 1048576.0 AS mb
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 'pgboss') ORDER BY 2 DESC`,
  );
  const total = rows.reduce((s, r) => s + Number(r.mb), 0);
  return { totalMb: total, text: rows.slice(0, 6).map((r) => `${r.name.replace(/^public\./, '')} ${Number(r.mb).toFixed(1)}`).join(', ') };
}

/** The commonest reasons shoppers ended neither paid nor busy. */
function reasons(outcomes: Outcome[]): string {
  const why = new Map<string, number>();
  for (const o of outcomes) if (o.result === 'not paid' || o.result === 'error') why.set(`${o.result}: ${(o.detail ?? '').slice(0, 80)}`, (why.get(`${o.result}: ${(o.detail ?? '').slice(0, 80)}`) ?? 0) + 1);
  return [...why].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, n]) => `${n}× ${k}`).join('; ') || '—';
}

interface Interval {
  checkouts: { offered: number; notSent: number; outcomes: Outcome[] };
  webhooks: { offered: number; notSent: number; acked: number; refused: Record<string, number>; latencies: number[] };
}

const newInterval = (): Interval => ({ checkouts: { offered: 0, notSent: 0, outcomes: [] }, webhooks: { offered: 0, notSent: 0, acked: 0, refused: {}, latencies: [] } });

async function runKind(kind: 'pglite' | 'postgres'): Promise<{ rows: Row[]; notes: string[]; data: unknown }> {
  const dir = runDir(`soak-${kind}`);
  const appPort = await portFrom(process.env.BENCH_APP_PORT_RANGE || process.env.BENCH_PORTS);
  const emulator = await startEmulatorProcess({
    label: `emulator (${kind})`,
    logFile: join(dir, 'emulator.log'),
    port: await portFrom(process.env.BENCH_PORT_RANGE),
    secretKey: KEYS.secret,
    publishableKey: KEYS.publishable,
    webhookSecret: KEYS.webhook,
    webhookUrl: `http://127.0.0.1:${appPort}/api/stripe/webhook`,
  });
  const stripe = new Stripe(KEYS.secret, { host: '127.0.0.1', port: new URL(emulator.url).port, protocol: 'http', maxNetworkRetries: 2 });
  const dataDir = join(dir, 'data');
  let databaseUrl = '';
  if (kind === 'postgres') databaseUrl = (await createDatabase(process.env.BENCH_DB_PREFIX || 'brisk_soak')).url;
  const where = kind === 'postgres' ? { url: databaseUrl } : { dataDir };
  const db = await prepareDatabase(where);
  const products: Product[] = (await db.prisma.product.findMany({ where: { active: true }, orderBy: { slug: 'asc' } })).map((x) => ({ id: x.id, slug: x.slug, price: x.price }));
  await db.close();

  const app = await startApp({
    label: `shop (${kind})`,
    via: 'start',
    port: appPort,
    dataDir,
    logFile: join(dir, 'app.log'),
    env: {
      DATABASE_URL: databaseUrl,
      ...(kind === 'postgres' ? { APP_SECRET: 'soak-bench-app-secret-0123456789abcdef' } : {}),
      STRIPE_SECRET_KEY: KEYS.secret,
      NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: KEYS.publishable,
      STRIPE_WEBHOOK_SECRET: KEYS.webhook,
      STRIPE_API_BASE: emulator.url,
      STRIPE_JS_URL: `${emulator.url}/v3/`,
      ...extraEnv,
    },
  });
  console.log(`[${kind}] shop :${appPort} ready in ${(app.startMs / 1000).toFixed(1)} s; emulator ${emulator.url}; logs in ${dir}`);
  let pgClient: pg.Client | undefined;
  if (kind === 'postgres') {
    pgClient = new pg.Client({ connectionString: databaseUrl });
    await pgClient.connect();
    onCleanup(() => pgClient!.end());
  }
  const site: ShopSite = { target: 'shop', port: appPort, actionId: actionIds().startPaymentAction, emulatorUrl: emulator.url, publishableKey: KEYS.publishable };
  for (let i = 0; i < 5; i++) {
    const o = await checkout(site, products[i % products.length], i, performance.now());
    if (o.result !== 'paid') throw new Error(`warm-up: ${o.result} ${o.detail ?? ''}`);
  }

  // ---- the load ----
  const intervals: Interval[] = Array.from({ length: INTERVALS }, newInterval);
  const paidPis: Stripe.PaymentIntent[] = [];
  const sentEvents: { id: string; body: string }[] = [];
  const acked = new Set<string>();
  const agent = makeAgent(MAX_WEBHOOKS);
  const shoppers = new Set<Promise<void>>();
  const hooks = new Set<Promise<void>>();
  const t0 = performance.now();
  const end = t0 + MINUTES * 60_000;
  const slot = (t: number) => Math.min(INTERVALS - 1, Math.floor((t - t0) / INTERVAL_MS));
  const startedAt = Date.now();
  let paidCount = 0;

  const shopperLoop = async () => {
    for (let i = 0; ; i++) {
      const due = t0 + (i * 1000) / RATE;
      if (due >= end) return;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const iv = intervals[slot(due)].checkouts;
      iv.offered++;
      if (shoppers.size >= MAX_SHOPPERS) {
        iv.notSent++;
        continue;
      }
      const p = checkout(site, products[i % products.length], i, due).then(async (o) => {
        // Counted in the interval it finished in: by arrival, the slowest checkouts of each interval
        // would still be running when it is sampled, and its p99 would leave them out.
        intervals[slot(performance.now())].checkouts.outcomes.push(o);
        // One in four paid PaymentIntents feeds the webhook load (as the emulator holds it).
        if (o.result === 'paid' && o.paymentIntentId && paidCount++ % 4 === 0) {
          const pi = await stripe.paymentIntents.retrieve(o.paymentIntentId).catch(() => null);
          if (pi) paidPis[paidPis.length < 200 ? paidPis.length : Math.floor(Math.random() * 200)] = pi;
        }
      });
      shoppers.add(p);
      void p.finally(() => shoppers.delete(p));
    }
  };

  const webhookLoop = async () => {
    for (let j = 0; ; j++) {
      const due = t0 + (j * 1000) / WEBHOOK_RATE;
      if (due >= end) return;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const iv = intervals[slot(due)].webhooks;
      iv.offered++;
      if (hooks.size >= MAX_WEBHOOKS || paidPis.length === 0) {
        iv.notSent++;
        continue;
      }
      let ev: { id: string; body: string };
      if (j % 2 === 1 && sentEvents.length > 0) ev = sentEvents[Math.floor(Math.random() * sentEvents.length)];
      else {
        const pi = paidPis[Math.floor(Math.random() * paidPis.length)];
        const id = `evt_soak${runTag}_${j}`;
        const body = JSON.stringify({ id, object: 'event', api_version: '2025-10-29.clover', created: Math.floor(Date.now() / 1000), type: 'payment_intent.succeeded', livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, data: { object: pi } });
        ev = { id, body };
        sentEvents[sentEvents.length < 1000 ? sentEvents.length : Math.floor(Math.random() * 1000)] = ev;
      }
      const headers = { 'content-type': 'application/json', 'stripe-signature': signer.webhooks.generateTestHeaderString({ payload: ev.body, secret: KEYS.webhook }) };
      const t = performance.now();
      const p = send(agent, appPort, { path: '/api/stripe/webhook', headers, body: ev.body }, 30_000).then((status) => {
        const done = intervals[slot(performance.now())].webhooks;
        done.latencies.push(performance.now() - t);
        if (status >= 200 && status < 300) {
          done.acked++;
          acked.add(ev.id);
        } else done.refused[status] = (done.refused[status] ?? 0) + 1;
      });
      hooks.add(p);
      void p.finally(() => hooks.delete(p));
    }
  };

  // ---- the samples, at the end of each interval ----
  const cpu = treeCpu(app.process.pid!);
  const rows: Row[] = [];
  const samples: { rss: number; rssLargest: number; p99: number; p50: number; cpuMsPerS: number; depth: number; dead: number; sizeMb: number; mem: ServerMetrics }[] = [];
  let cpuPrev = cpu();
  let tPrev = performance.now();
  const sampler = async () => {
    for (let k = 0; k < INTERVALS; k++) {
      const at = t0 + (k + 1) * INTERVAL_MS;
      if (at > performance.now()) await sleep(at - performance.now());
      const cpuNow = cpu();
      const tNow = performance.now();
      const cpuMsPerS = cpuBetween(cpuPrev, cpuNow) / ((tNow - tPrev) / 1000);
      [cpuPrev, tPrev] = [cpuNow, tNow];
      const rss = rssOf(processTree(app.process.pid!));
      const [h, mem, size] = await Promise.all([health(appPort), serverMetrics(appPort), sizes(pgClient, dataDir).catch((err) => ({ totalMb: NaN, text: String(err) }))]);
      const dead = mem.dead;
      // Outcomes of this interval's arrivals that have finished by now (a shopper still polling is counted in the final table).
      const iv = intervals[k];
      const o = iv.checkouts.outcomes;
      const paid = o.filter((x) => x.result === 'paid');
      const perCheckout = sorted(paid.map((x) => x.add!.end - x.add!.start + (x.pay!.end - x.pay!.start) + x.pages.reduce((s, p) => s + p.end - p.start, 0)));
      const lat = sorted(iv.webhooks.latencies);
      const secs = INTERVAL_MS / 1000;
      const p99 = percentile(perCheckout, 99);
      samples.push({ rss: rss.total, rssLargest: rss.largest, p99, p50: percentile(perCheckout, 50), cpuMsPerS, depth: h.depth, dead, sizeMb: size.totalMb, mem });
      const row: Row = {
        database: kind,
        minutes: `${minutesAt(k)}–${minutesAt(k + 1)}`,
        'checkouts/s offered → paid': `${(iv.checkouts.offered / secs).toFixed(1)} → ${(paid.length / secs).toFixed(1)}`,
        'paid / busy / other / not sent': `${paid.length} / ${o.filter((x) => x.result === 'turned away').length} / ${o.filter((x) => x.result === 'not paid' || x.result === 'error').length} / ${iv.checkouts.notSent}`,
        'server time per checkout p50 / p99 ms': `${f0(percentile(perCheckout, 50))} / ${f0(p99)}`,
        'webhooks/s offered → acked': `${(iv.webhooks.offered / secs).toFixed(0)} → ${(iv.webhooks.acked / secs).toFixed(0)}${Object.keys(iv.webhooks.refused).length ? ` (refused ${JSON.stringify(iv.webhooks.refused)})` : ''}`,
        'ack p50 / p99 ms': `${f0(percentile(lat, 50))} / ${f0(percentile(lat, 99))}`,
        'RSS MB (server / tree)': `${rss.largest.toFixed(0)} / ${rss.total.toFixed(0)}`,
        // RSS less the V8 heap and external memory: PGlite's WebAssembly memory, code, native allocations.
        'server heap used / heap total / external / rest MB': Number.isNaN(mem.heapUsedMb) ? '?' : `${mem.heapUsedMb.toFixed(0)} / ${mem.heapTotalMb.toFixed(0)} / ${mem.externalMb.toFixed(0)} / ${(mem.rssMb - mem.heapTotalMb - mem.externalMb).toFixed(0)}`,
        'CPU ms/s': cpuMsPerS.toFixed(0),
        'queue depth': h.depth === 0 ? '0' : `${h.depth} (${h.byQueue})`,
        'dead letters': Number.isNaN(dead) ? '?' : dead,
        'sizes MB': size.text,
        'other, why': reasons(o),
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  };

  const probeBefore = probeMachine();
  const load0 = loadavg()[0];
  await Promise.all([shopperLoop(), webhookLoop(), sampler()]);
  // The last arrivals finish (a shopper polls its order page for up to PAID_WITHIN_MS).
  const settleDeadline = performance.now() + PAID_WITHIN_MS + 60_000;
  while ((shoppers.size > 0 || hooks.size > 0) && performance.now() < settleDeadline) await sleep(500);
  agent.destroy();

  // ---- drained? ----
  const d0 = performance.now();
  let drained = false;
  let last = await health(appPort);
  for (let zeros = 0; performance.now() - d0 < DRAIN_MS; ) {
    last = await health(appPort);
    zeros = last.depth === 0 ? zeros + 1 : 0;
    if (zeros >= 2) {
      drained = true;
      break;
    }
    await sleep(2_000);
  }
  const drainS = (performance.now() - d0) / 1000;
  const finalRss = rssOf(processTree(app.process.pid!));
  const finalSize = await sizes(pgClient, dataDir).catch((err) => ({ totalMb: NaN, text: String(err) }));
  await app.stop(20_000);
  const probeAfter = probeMachine();

  // ---- nothing lost? ----
  const check = await openForChecks(where);
  let lostEvents = 0;
  /** Acknowledged and stored but not applied yet (received/failed): left for the workers when the drain ran out, not lost. */
  let pendingEvents = 0;
  let unpaid: string[] = [];
  let convergence: string[] = [];
  let succeeded = 0;
  let storedEvents = 0;
  let vacuums = '';
  try {
    if (kind === 'pglite') {
      try {
        // The embedded database's scheduled VACUUM (ANALYZE) passes: each held the database (and so
        // every request) for its duration. pg-boss keeps each pass's output ({ ms }).
        const passes = (
          await check.prisma.$queryRawUnsafe<{ ms: number | null; at: Date }[]>(
            `SELECT (output->>'ms')::int AS ms, completed_on AS at FROM pgboss.job WHERE name = 'vacuum' AND state = 'completed' AND created_on >= to_timestamp($1) ORDER BY completed_on`,
            startedAt / 1000,
          )
        ).filter((p) => p.ms !== null).map((p) => p.ms!);
        const sorted = [...passes].sort((a, b) => a - b);
        vacuums = passes.length
          ? `${passes.length} passes, held the database p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms, longest ${sorted.at(-1)} ms; in order: ${passes.join(', ')}`
          : 'no completed pass found';
      } catch (err) {
        vacuums = `not read: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    const ids = [...acked];
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      const stored = await check.prisma.stripeEvent.groupBy({ by: ['status'], where: { id: { in: chunk } }, _count: { _all: true } });
      const count = (st: string[]) => stored.filter((x) => st.includes(x.status)).reduce((n, x) => n + x._count._all, 0);
      pendingEvents += count(['received', 'failed']);
      // Acknowledged, then never stored or dropped dead: lost.
      lostEvents += chunk.length - count(['processed', 'received', 'failed']);
    }
    storedEvents = await check.prisma.stripeEvent.count();
    // Without SMTP_URL (the default) an email is delivered by being stored, shown in the admin: not a loss.
    convergence = (await checkConverged(check.prisma, drainS)).violations.filter((v) => !/^\d+ emails left stored$/.test(v));
    const refunded = new Map<string, number>();
    for await (const r of stripe.refunds.list({ limit: 100, created: { gte: Math.floor(startedAt / 1000) - 600 } })) {
      if (r.status === 'succeeded') refunded.set(String(r.payment_intent), (refunded.get(String(r.payment_intent)) ?? 0) + r.amount);
    }
    const orders = new Map((await check.prisma.order.findMany({ select: { paymentIntentId: true, status: true } })).map((o) => [o.paymentIntentId, o.status]));
    for await (const pi of stripe.paymentIntents.list({ limit: 100, created: { gte: Math.floor(startedAt / 1000) - 600 } })) {
      if (pi.status !== 'succeeded') continue;
      succeeded++;
      const status = orders.get(pi.id);
      if (!(status && FULFILLED.has(status)) && (refunded.get(pi.id) ?? 0) < pi.amount) unpaid.push(`${pi.id} (order ${status ?? 'none'} by it, refunded ${refunded.get(pi.id) ?? 0} of ${pi.amount})`);
    }
  } finally {
    await check.close();
  }
  unpaid = unpaid.slice(0, 20).concat(unpaid.length > 20 ? [`… ${unpaid.length - 20} more`] : []);

  // ---- the goals ----
  const allPaid = intervals.flatMap((iv) => iv.checkouts.outcomes.filter((o) => o.result === 'paid'));
  const all = intervals.flatMap((iv) => iv.checkouts.outcomes);
  const offered = intervals.reduce((s, iv) => s + iv.checkouts.offered, 0);
  const whOffered = intervals.reduce((s, iv) => s + iv.webhooks.offered, 0);
  const whAcked = intervals.reduce((s, iv) => s + iv.webhooks.acked, 0);
  const secs = (MINUTES * 60) as number;
  const first = samples[0];
  const growth = (finalRss.largest - first.rssLargest) / first.rssLargest;
  const drift = samples.at(-1)!.p99 / samples[1].p99;
  const judge = (ok: boolean, why: string) => (ok ? 'met' : `NOT met (${why})`);
  const goalRow = (measure: string, value: string, goal: string): Row => ({
    database: kind,
    minutes: 'whole run',
    'checkouts/s offered → paid': measure,
    'paid / busy / other / not sent': value,
    'server time per checkout p50 / p99 ms': goal,
    'webhooks/s offered → acked': '',
    'ack p50 / p99 ms': '',
    'RSS MB (server / tree)': '',
    'CPU ms/s': '',
    'queue depth': '',
    'dead letters': '',
    'sizes MB': '',
    'other, why': '',
  });
  rows.push(
    goalRow(
      'rates, offered → achieved',
      `checkouts ${(offered / secs).toFixed(1)}/s → ${(allPaid.length / secs).toFixed(1)} paid/s (${allPaid.length} paid, ${all.filter((o) => o.result === 'turned away').length} busy, ${all.filter((o) => o.result === 'not paid' || o.result === 'error').length} other, ${offered - all.length} not sent); webhooks ${(whOffered / secs).toFixed(0)}/s → ${(whAcked / secs).toFixed(0)} acked/s`,
      `${RATE}/s and ${WEBHOOK_RATE}/s: ${judge(allPaid.length >= offered * 0.99 && whAcked >= whOffered * 0.99, 'the machine did not sustain the target')}`,
    ),
    goalRow(
      'server RSS growth after the first interval',
      `${first.rssLargest.toFixed(0)} → ${finalRss.largest.toFixed(0)} MB (${(growth * 100).toFixed(1)} %); tree ${first.rss.toFixed(0)} → ${finalRss.total.toFixed(0)} MB`,
      `≤ ${GOAL.memoryGrowth * 100} %: ${judge(growth <= GOAL.memoryGrowth, `${(growth * 100).toFixed(1)} %`)}`,
    ),
    goalRow(
      'p99 drift, last interval vs second',
      `${f0(samples.at(-1)!.p99)} vs ${f0(samples[1].p99)} ms (${drift.toFixed(2)}×)`,
      `≤ ${GOAL.p99Drift}×: ${judge(drift <= GOAL.p99Drift, Number.isFinite(drift) ? `${drift.toFixed(2)}×` : 'no paid checkout to compare in one of the two intervals')}`,
    ),
    goalRow('queues drained at the end', drained ? `drained ${drainS.toFixed(0)} s after the last arrival settled` : `still ${last.depth} after ${drainS.toFixed(0)} s (${last.byQueue})`, `within ${DRAIN_MS / 1000} s: ${judge(drained, `${last.depth} jobs open`)}`),
    goalRow(
      'nothing lost',
      `${acked.size} bench events acknowledged: ${acked.size - lostEvents - pendingEvents} applied, ${pendingEvents} stored and still queued, ${lostEvents} lost (not stored, or dead); ${storedEvents} events stored in all; ${succeeded} PaymentIntents succeeded at the emulator, ${unpaid.length} not on a paid order nor refunded${convergence.length ? `; ${convergence.slice(0, 5).join('; ')}` : ''}`,
      `every acked event applied, every paid PaymentIntent on a paid order: ${judge(lostEvents + pendingEvents === 0 && unpaid.length === 0 && convergence.length === 0, `${lostEvents} events lost, ${pendingEvents} not applied yet, ${unpaid.length} payments, ${convergence.length} convergence findings`)}`,
    ),
  );
  const notes = [
    `shoppers neither paid nor busy, over the run: ${reasons(all)}`,
    `final sizes: ${finalSize.text}; final RSS server ${finalRss.largest.toFixed(0)} MB, tree ${finalRss.total.toFixed(0)} MB`,
    `server time per checkout p50 by interval (ms): ${samples.map((x) => f0(x.p50)).join(', ')}`,
    `server memory, first → last interval (MB): heap used ${f0(samples[0].mem.heapUsedMb)} → ${f0(samples.at(-1)!.mem.heapUsedMb)}, external ${f0(samples[0].mem.externalMb)} → ${f0(samples.at(-1)!.mem.externalMb)}, rest of RSS (PGlite's WebAssembly memory, code, native) ${f0(samples[0].mem.rssMb - samples[0].mem.heapTotalMb - samples[0].mem.externalMb)} → ${f0(samples.at(-1)!.mem.rssMb - samples.at(-1)!.mem.heapTotalMb - samples.at(-1)!.mem.externalMb)}`,
    ...(vacuums ? [`embedded VACUUM (ANALYZE) every minute (PGLITE_VACUUM_CRON): ${vacuums}`] : []),
    ...(unpaid.length ? [`PaymentIntents not on a paid order: ${unpaid.join(', ')}`] : []),
    ...convergence.slice(0, 10).map((v) => `convergence: ${v}`),
    describeProbes(probeBefore, probeAfter),
    `load average when the load began: ${load0.toFixed(1)}; at the end: ${loadavg().map((x) => x.toFixed(1)).join(' / ')} (1/5/15 min, 2 cores)`,
  ];
  return { rows, notes, data: { kind, samples, drained, drainS, lostEvents, pendingEvents, unpaid, convergence, acked: acked.size, succeeded } };
}

const rows: Row[] = [];
const notes: string[] = [];
const data: unknown[] = [];
const kindsRun: string[] = [];
try {
  for (const kind of kinds) {
    const r = await runKind(kind);
    rows.push(...r.rows);
    notes.push(...r.notes.map((n) => `${kind}: ${n}`));
    data.push(r.data);
    kindsRun.push(kind);
    await cleanupAll();
  }
} catch (err) {
  console.error(err);
  await cleanupAll();
  process.exit(1);
}
recordResults({
  name: 'soak',
  title: `Soak: ${RATE} checkouts/s and ${WEBHOOK_RATE} webhooks/s offered for ${MINUTES} minutes through the real server`,
  command: `npm run bench:soak --${isQuick ? ' --quick' : ''}${dbArg !== 'pglite' ? ` --db ${dbArg}` : ''}${argValue('--minutes') ? ` --minutes ${MINUTES}` : ''}${argValue('--rate') ? ` --rate ${RATE}` : ''}${argValue('--webhook-rate') ? ` --webhook-rate ${WEBHOOK_RATE}` : ''}${Object.entries(extraEnv).map(([k, v]) => ` --env ${k}=${v}`).join('')}`,
  rows,
  notes: [
    `Shop: scripts/start.ts as \`npm start\` runs it (NODE_ENV=production, default settings: the gateway's rate budget, the inline worker), build in .next-bench, against a Stripe emulator process that delivers its webhooks to it. Shoppers (bench/lib/checkout-shopper.ts) open loop at ${RATE}/s, at most ${MAX_SHOPPERS} in flight (arrivals past it "not sent"); webhooks open loop at ${WEBHOOK_RATE}/s on top of the emulator's own: signed payment_intent.succeeded for PaymentIntents the run paid, half new ids, half redeliveries of ids already sent.`,
    `Per interval (1/${INTERVALS} of the run): offered and not sent by arrival; shoppers and webhook answers in the interval they finished in (the last row leaves out those finishing after the load stopped; the whole-run rows count them): paid = Paid shown within ${PAID_WITHIN_MS / 1000} s; busy = Pay answered busy/throttled; server time per checkout = add to cart + Pay + every order-page load until Paid, client round trips on loopback, Stripe's (the emulator's) time included. RSS = VmRSS of the Next.js server process (PGlite and the inline worker run in it) / of the whole tree (launcher, emulator-less). CPU = utime+stime of the tree per second. Queue depth = pg-boss jobs queued + active (/api/health); dead letters = brisk_job_dead_letters (/api/metrics). Sizes: pg_total_relation_size (tables + indexes + TOAST) of public and pgboss tables, or PGlite's data directory.`,
    `Goals: RSS of the server at the end ≤ ${GOAL.memoryGrowth * 100} % over the end of the first interval; p99 per checkout of the last interval ≤ ${GOAL.p99Drift}× the second's; every queue empty within ${DRAIN_MS / 1000} s after the last shopper settled; every acknowledged bench event processed, nothing unprocessed, dead or failed (checkConverged), every PaymentIntent succeeded at the emulator paying an order or refunded in full. Leaves out: the PostgreSQL server's own memory and CPU, the bench's and the emulator's CPU (they share the machine's 2 cores with the shop and with other tenants), 3-D Secure, refunds, admin traffic.`,
    ...notes,
  ],
  data,
});
exitForGoals(missedGoals(rows));
