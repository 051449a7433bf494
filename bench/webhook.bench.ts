// Webhook ingest: acknowledgements per second and latency of POST /api/stripe/webhook on the
// production build (started by scripts/start.ts in a child process, as `npm start` does), on
// PGlite and on PostgreSQL, against a floor measured in the same run on the same server: the
// route /api/bench/verify-only (present only with BRISK_BENCH_ROUTES=1), which verifies the
// signature with the same secret and answers without storing anything.
//   npx tsx bench/webhook.bench.ts [--quick] [--db pglite|postgres] [--workers off|inline]
// --workers inline (issue #17 part 3): the default inline workers run beside the route, so the
// acknowledgements pay for the processing of what they store (default: off, the route alone).
// PostgreSQL: a temporary database on BENCH_DATABASE_URL's server (default
// postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, loadavg } from 'node:os';
import Stripe from 'stripe';
import { cleanupAll, createDatabase, dropDatabase, freePort, pinToCpu, runDir, startApp, type App } from './lib/app-process';
import { closedLoop, mergeResults, openLoop, type LoadResult, type RequestSpec } from './lib/load';
import { describeProbes, probeMachine } from './lib/probe';
import { exitForGoals, isQuick, missedGoals, recordResults, type Row } from './lib/results';

const WEBHOOK_SECRET = 'whsec_brisk_bench_webhook';
const CONCURRENCY = 16;
const RATE = 500;
// The floor and the webhook alternate in 1-second slices, so a change in the machine's load
// (it is shared) hits both alike; SLICES per route and load.
const SLICES = isQuick ? 4 : 20;
const dbArg = process.argv.includes('--db') ? process.argv[process.argv.indexOf('--db') + 1] : undefined;
const kinds = (dbArg ? [dbArg] : ['pglite', 'postgres']) as ('pglite' | 'postgres')[];
const workersArg = process.argv.includes('--workers') ? process.argv[process.argv.indexOf('--workers') + 1] : 'off';
if (workersArg !== 'off' && workersArg !== 'inline') throw new Error(`--workers off|inline, got ${workersArg}`);
const workerMode = workersArg as 'off' | 'inline';

// As bench/emulator.bench.ts does: the server on CPU 0, this load generator on CPU 1, so the
// two do not steal each other's time slices (the PostgreSQL server itself is not pinned).
// Off unless BENCH_PIN=1: with one core the server's database work (PGlite runs on its thread)
// competes with Next itself, which the floor does not pay for.
const pinned = availableParallelism() >= 2 && process.env.BENCH_PIN === '1' && pinToCpu(process.pid, 1);
const stripe = new Stripe('sk_test_brisk_bench_unused');
const runTag = randomBytes(4).toString('hex');
let seq = 0;

/** A payment_intent.succeeded as Stripe sends it, for a PaymentIntent we have never seen. */
function event(): string {
  const n = ++seq;
  const created = Math.floor(Date.now() / 1000);
  const pi = `pi_bench${runTag}${n}`;
  return JSON.stringify({
    id: `evt_bench${runTag}${n}`,
    object: 'event',
    api_version: '2025-10-29.clover',
    created,
    type: 'payment_intent.succeeded',
    livemode: false,
    pending_webhooks: 1,
    request: { id: `req_bench${n}`, idempotency_key: `brisk:pi:00000000-0000-4000-8000-${String(n).padStart(12, '0')}:1` },
    data: {
      object: {
        id: pi,
        object: 'payment_intent',
        amount: 4200,
        amount_capturable: 0,
        amount_received: 4200,
        automatic_payment_methods: { enabled: true },
        capture_method: 'automatic',
        client_secret: `${pi}_secret_${randomBytes(12).toString('hex')}`,
        confirmation_method: 'automatic',
        created,
        currency: 'usd',
        description: 'Brisk order 00000000',
        last_payment_error: null,
        latest_charge: `ch_bench${runTag}${n}`,
        livemode: false,
        metadata: { order_id: '00000000-0000-4000-8000-000000000000', attempt: '1' },
        next_action: null,
        payment_method: `pm_bench${runTag}${n}`,
        payment_method_types: ['card'],
        status: 'succeeded',
      },
    },
  });
}

function signed(path: string): () => RequestSpec {
  return () => {
    const body = event();
    return { path, body, headers: { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: body, secret: WEBHOOK_SECRET }) } };
  };
}

const FLOOR = '/api/bench/verify-only';
const WEBHOOK = '/api/stripe/webhook';

async function measure(app: App): Promise<{ floorMax: LoadResult; hookMax: LoadResult; floorRate: LoadResult; hookRate: LoadResult; sliceP99: { floor: number[]; webhook: number[] } }> {
  // Warm-up: JIT, connection pools, Prisma's first queries.
  for (const path of [FLOOR, WEBHOOK]) await closedLoop({ port: app.port, concurrency: 8, seconds: 2, next: signed(path) });
  const parts: Record<'floorMax' | 'hookMax' | 'floorRate' | 'hookRate', LoadResult[]> = { floorMax: [], hookMax: [], floorRate: [], hookRate: [] };
  for (let i = 0; i < SLICES; i++) {
    parts.floorMax.push(await closedLoop({ port: app.port, concurrency: CONCURRENCY, seconds: 1, next: signed(FLOOR) }));
    parts.hookMax.push(await closedLoop({ port: app.port, concurrency: CONCURRENCY, seconds: 1, next: signed(WEBHOOK) }));
  }
  for (let i = 0; i < SLICES; i++) {
    parts.floorRate.push(await openLoop({ port: app.port, rate: RATE, seconds: 1, maxInFlight: 64, next: signed(FLOOR) }));
    parts.hookRate.push(await openLoop({ port: app.port, rate: RATE, seconds: 1, maxInFlight: 64, next: signed(WEBHOOK) }));
  }
  const m = { floorMax: mergeResults(parts.floorMax), hookMax: mergeResults(parts.hookMax), floorRate: mergeResults(parts.floorRate), hookRate: mergeResults(parts.hookRate) };
  console.log(`  floor ${m.floorMax.perSecond.toFixed(0)}/s, webhook ${m.hookMax.perSecond.toFixed(0)}/s; at ${RATE}/s p99 floor ${m.floorRate.p99.toFixed(1)} ms, webhook ${m.hookRate.p99.toFixed(1)} ms`);
  // Per 1 s slice at the fixed rate: whether a miss is one stall or the whole run.
  return { ...m, sliceP99: { floor: parts.floorRate.map((p) => p.p99), webhook: parts.hookRate.map((p) => p.p99) } };
}

/** "2 of 20 (worst 47.5 ms)": the 1 s slices whose p99 was over the goal. */
function slicesOver(p99s: number[], limit: number): string {
  return `${p99s.filter((p) => p > limit).length} of ${p99s.length} (worst ${Math.max(...p99s).toFixed(1)} ms)`;
}

async function runKind(kind: 'pglite' | 'postgres'): Promise<Row[]> {
  const dir = runDir(`webhook-bench-${kind}`);
  let database: { name: string; url: string } | undefined;
  let app: App | undefined;
  try {
    if (kind === 'postgres') database = await createDatabase(process.env.BENCH_DB_PREFIX || 'brisk_bench');
    const port = await freePort();
    console.log(`${kind}: starting the app (scripts/start.ts; builds first if the sources changed)…`);
    app = await startApp({
      label: `app-${kind}`,
      via: 'start',
      port,
      dataDir: join(dir, 'data'),
      logFile: join(dir, 'app.log'),
      ...(pinned ? { pinCpu: 0 } : {}),
      env: {
        DATABASE_URL: database?.url ?? '',
        APP_SECRET: 'bench-app-secret-0123456789abcdef0123456789',
        STRIPE_SECRET_KEY: '',
        EMULATOR_PORT: String(await freePort()),
        EMULATOR_SECRET_KEY: 'sk_test_brisk_bench',
        EMULATOR_PUBLISHABLE_KEY: 'pk_test_brisk_bench',
        EMULATOR_WEBHOOK_SECRET: WEBHOOK_SECRET,
        BRISK_BENCH_ROUTES: '1',
        // off: the acknowledgement path alone (events stored and enqueued, nobody processes them);
        // inline: npm start's default, the in-process workers process each event as it lands.
        WORKER_MODE: workerMode,
      },
    });
    console.log(`${kind}: ready in ${(app.startMs / 1000).toFixed(1)} s; measuring…`);
    const m = await measure(app);
    const ratio = m.hookMax.perSecond / m.floorMax.perSecond;
    const goal = kind === 'pglite' ? 0.8 : 0.7;
    const rows: Row[] = [
      { database: kind, route: 'floor: verify only', load: `max, ${CONCURRENCY} concurrent`, 'acks/s': m.floorMax.perSecond.toFixed(0), 'p50 ms': m.floorMax.p50.toFixed(1), 'p99 ms': m.floorMax.p99.toFixed(1), errors: m.floorMax.errors, 'vs floor': '100%', '1 s slices with p99 > 25 ms': '', goal: '' },
      {
        database: kind,
        route: 'POST /api/stripe/webhook',
        load: `max, ${CONCURRENCY} concurrent`,
        'acks/s': m.hookMax.perSecond.toFixed(0),
        'p50 ms': m.hookMax.p50.toFixed(1),
        'p99 ms': m.hookMax.p99.toFixed(1),
        errors: m.hookMax.errors,
        'vs floor': `${(ratio * 100).toFixed(0)}%`,
        '1 s slices with p99 > 25 ms': '',
        goal: `≥ ${goal * 100}%: ${ratio >= goal ? 'met' : 'NOT met'}`,
      },
      { database: kind, route: 'floor: verify only', load: `${RATE}/s`, 'acks/s': m.floorRate.perSecond.toFixed(0), 'p50 ms': m.floorRate.p50.toFixed(1), 'p99 ms': m.floorRate.p99.toFixed(1), errors: m.floorRate.errors + m.floorRate.skipped, 'vs floor': '', '1 s slices with p99 > 25 ms': slicesOver(m.sliceP99.floor, 25), goal: '' },
      {
        database: kind,
        route: 'POST /api/stripe/webhook',
        load: `${RATE}/s`,
        'acks/s': m.hookRate.perSecond.toFixed(0),
        'p50 ms': m.hookRate.p50.toFixed(1),
        'p99 ms': m.hookRate.p99.toFixed(1),
        errors: m.hookRate.errors + m.hookRate.skipped,
        'vs floor': '',
        '1 s slices with p99 > 25 ms': slicesOver(m.sliceP99.webhook, 25),
        goal: `p99 ≤ 25 ms: ${m.hookRate.p99 <= 25 && m.hookRate.skipped === 0 ? 'met' : 'NOT met'}`,
      },
    ];
    await app.stop();
    app = undefined;
    rmSync(dir, { recursive: true, force: true });
    return rows;
  } finally {
    await app?.kill();
    if (database) await dropDatabase(database.name).catch(() => {});
  }
}

const load = loadavg()[0];
const probeBefore = probeMachine();
const rows: Row[] = [];
try {
  for (const kind of kinds) rows.push(...(await runKind(kind)));
} catch (err) {
  console.error(err);
  await cleanupAll();
  process.exit(1);
}
const probeAfter = probeMachine();
recordResults({
  name: 'webhook',
  title: `Webhook ingest: acknowledgements against a verify-only floor${workerMode === 'inline' ? ', inline workers on' : ''}`,
  command: `npx tsx bench/webhook.bench.ts${isQuick ? ' --quick' : ''}${dbArg ? ` --db ${dbArg}` : ''}${workerMode === 'inline' ? ' --workers inline' : ''}`,
  rows,
  notes: [
    workerMode === 'off'
      ? `Production build started by scripts/start.ts in a child process (WORKER_MODE=off: the route verifies, stores and enqueues; no worker competes for the CPU). Validly signed payment_intent.succeeded events with unique ids, ~1.5 kB each.`
      : `Production build started by scripts/start.ts in a child process with npm start's default WORKER_MODE=inline: the in-process workers process every stored event beside the route (each names a PaymentIntent Brisk never created, so it is settled from our records as foreign — a read and a write per event, no Stripe call; a real payment's apply costs more, see the events benchmark). Validly signed payment_intent.succeeded events with unique ids, ~1.5 kB each.`,
    `max: closed loop, ${CONCURRENCY} requests in flight; ${RATE}/s: open loop with at most 64 in flight (a skipped send counts as an error). Each route ${SLICES} s per load, in 1 s slices alternating with the other route, after a 2 s warm-up of each.`,
    `1 s slices with p99 > 25 ms: of the ${SLICES} one-second slices at ${RATE}/s, those whose own p99 was over the goal, and the worst slice's p99 — one slow slice is a stall, many are the route.`,
    'Floor: /api/bench/verify-only on the same server (exists only with BRISK_BENCH_ROUTES=1): the same signature check with the same secret, nothing stored. Goals: ≥ 80% of the floor on PGlite, ≥ 70% on PostgreSQL, p99 ≤ 25 ms at 500 events/s.',
    `${pinned ? 'Server (scripts/start.ts and next-server) pinned to CPU 0 with taskset, load generator on CPU 1' : 'Server and load generator unpinned'}; load average when the run began: ${load.toFixed(1)} (the machine is shared: other work lowers every figure, the floor's too).`,
    describeProbes(probeBefore, probeAfter),
  ],
});
await cleanupAll();
exitForGoals(missedGoals(rows));
