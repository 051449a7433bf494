// The checkout through the real server (issue 17, parts 1, 4 and 7), beside a bare floor.
//
//   npm run bench:server [-- --quick] [-- --db pglite|postgres|both] [-- --rates 10,20,40] [-- --profile]
//
// The shop is started as a merchant starts it (scripts/start.ts → scripts/serve.ts → Next.js,
// NODE_ENV=production, default settings: the gateway's rate budget, the in-process job worker).
// Beside it, in the same run, bench/floor/ — a bare Next.js 16 app built with the repo's own
// `next` doing the minimum for the same checkout (a route that sets a cart cookie, a server
// action that validates with zod and creates the PaymentIntent through the same stripe SDK, an
// order page that retrieves it) — so the figures say what Next.js itself costs per request.
// Each app talks to its own Stripe emulator process (the same code; the shop's delivers webhooks
// to the shop) through a timing proxy that records every call and how long "Stripe" took.
//
// Shoppers arrive open loop (a slow server does not slow the arrivals) at each rate, each from
// its own loopback address, and do what the browser does: the product page's "Add to cart" form
// post, the card's ConfirmationToken made at the emulator with the publishable key (Stripe.js's
// request, straight to "Stripe", not through our server), Pay with it (the startPaymentAction
// server action, posted as React posts it: the server creates and confirms the PaymentIntent in
// one call), then the order page at once and every second until it says Paid. A shopper told
// busy or throttled is turned away (counted, not retried); 3-D Secure is not driven.
//
// Figures, per database and rate, shop against floor:
// - server time per step (client round trip on loopback, from sending the request to the end
//   of the answer, queueing in the server included) and the same less the time the step's own
//   Stripe calls took at the timing proxy (calls naming the shopper's PaymentIntent or answering
//   with it, that started and ended within the request);
// - server time per checkout: add to cart + Pay + every order-page load until Paid, less Stripe;
// - Stripe calls per paid checkout (every call the server sent in the window, webhook work and
//   jobs included);
// - process CPU per paid checkout: utime+stime from /proc of the server's whole process tree
//   (launcher, Next.js with PGlite and the inline worker), and on PostgreSQL also of the
//   database's backends for the shop's database, over the window (first arrival to a 2 s drain
//   after the last shopper), less the idle CPU/s measured just before × the window;
// - idle CPU/s of each server;
// - SQL statements per paid checkout: every statement the shop's processes sent in the window
//   (webhook work and jobs included), counted by bench/lib/count-statements.mjs, a preload given
//   to the shop through NODE_OPTIONS (so an older commit's app is counted the same way, without
//   changing it): pg's Query and Execute messages, PGlite's Query and Execute messages; BEGIN and
//   COMMIT count; on PostgreSQL also how many were pipelined (sent before the previous answered).
// Goals (exit 1 when missed): at 20/s nobody is turned away, server time per checkout less
// Stripe p50 ≤ 10 ms and p99 ≤ 25 ms; at every rate each step's p50 and the CPU per checkout
// within 1.5× of the floor; CPU per paid checkout ≤ 25 ms on PGlite.
// --no-statements: the shop runs without the counting preload.
// --profile: the shop's server runs with node --cpu-prof; the profile (the load window only) is
// summarized by bench/lib/cpu-profile.ts and its path printed.
//
// Ports: the apps from BENCH_APP_PORT_RANGE (else BENCH_PORTS), emulators and proxies from
// BENCH_PORT_RANGE (else any free ones). PostgreSQL: a temporary database on
// BENCH_DATABASE_URL's server (default postgresql://postgres@127.0.0.1:5432/postgres).
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import pg from 'pg';
import { actionIds, prepareDatabase } from '../chaos/lib/harness';
import { cleanupAll, createDatabase, onCleanup, portFrom, root, runDir, sleep, startApp, startEmulatorProcess, type Child } from './lib/app-process';
import { checkout, type Outcome, type Product, type ShopSite, type Step, type Target } from './lib/checkout-shopper';
import { summarizeProfile } from './lib/cpu-profile';
import { cpuBetween, cpuOf, processTree, treeCpu } from './lib/proc-cpu';
import { countingEnv, describeStatements, lessIdle, perSecond, statementsBetween, statementTotals, type StatementTotals } from './lib/statements';
import { describeProbes, probeMachine } from './lib/probe';
import { exitForGoals, isQuick, missedGoals, percentile, recordResults, type Row } from './lib/results';
import { startTimingProxy, type StripeCall, type TimingProxy } from './lib/timing-proxy';

const argValue = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const RATES = (argValue('--rates') ?? (isQuick ? '10,20,40' : '10,20,40')).split(',').map(Number);
const SECONDS = Number(argValue('--seconds') ?? (isQuick ? 4 : 15));
const IDLE_SECONDS = isQuick ? 5 : 10;
const WARMUP = 10;
const DRAIN_MS = 2_000;
const PROFILE = process.argv.includes('--profile');
const COUNT_STATEMENTS = !process.argv.includes('--no-statements');
/** How long the counting preload may take to write its totals (it writes every 250 ms). */
const STATEMENTS_SETTLE_MS = 600;
const STEP_SHOPPERS = isQuick ? 20 : 50;
/** How long the one-at-a-time shopper waits after Pay, for the webhooks and their jobs. */
const AFTER_CONFIRM_MS = 500;
const GOAL = { p50: 10, p99: 25, ratio: 1.5, cpuPglite: 25, judgedRate: 20 };
const dbArg = argValue('--db') ?? 'pglite';
const kinds = dbArg === 'both' ? (['pglite', 'postgres'] as const) : dbArg === 'postgres' ? (['postgres'] as const) : (['pglite'] as const);
const KEYS = { secret: 'sk_test_brisk_bench_server', publishable: 'pk_test_brisk_bench_server', webhook: 'whsec_brisk_bench_server' };
const floorDir = join(root, 'bench', 'floor');
const nextBin = join(root, 'node_modules', 'next', 'dist', 'bin', 'next');

const { isPortIsReserved } = createRequire(import.meta.url)('next/dist/lib/helpers/get-reserved-port.js') as { isPortIsReserved: (port: number) => boolean };
async function appPort(): Promise<number> {
  for (let tries = 0; ; tries++) {
    const port = await portFrom(process.env.BENCH_APP_PORT_RANGE || process.env.BENCH_PORTS);
    if (!isPortIsReserved(port) || tries > 20) return port;
  }
}
const sidePort = () => portFrom(process.env.BENCH_PORT_RANGE);

// ---- the floor app: built once per change of its sources ----

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === '.next' || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function buildFloorIfNeeded(): void {
  const buildId = join(floorDir, '.next', 'BUILD_ID');
  if (existsSync(buildId) && statSync(buildId).mtimeMs > newestSource(floorDir)) return;
  console.log('building the floor app (bench/floor) with the repo’s next…');
  const r = spawnSync(process.execPath, [nextBin, 'build'], { cwd: floorDir, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' } });
  if (r.status !== 0) throw new Error('the floor app did not build');
}

function floorActionId(): string {
  const manifest = JSON.parse(readFileSync(join(floorDir, '.next', 'server', 'server-reference-manifest.json'), 'utf8')) as { node: Record<string, { exportedName?: string }> };
  const id = Object.entries(manifest.node).find(([, v]) => v.exportedName === 'floorStartPayment')?.[0];
  if (!id) throw new Error('no floorStartPayment in the floor build');
  return id;
}

async function startFloor(o: { port: number; logFile: string; stripeBase: string; profileDir?: string }): Promise<Child & { url: string; pid: number }> {
  const log = createWriteStream(o.logFile, { flags: 'a' });
  // The same extra Node.js flags as the shop's server (BRISK_NODE_FLAGS, read by scripts/start.ts).
  const flags = (process.env.BRISK_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...flags, ...(o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : []), nextBin, 'start', floorDir, '-p', String(o.port), '-H', '127.0.0.1'], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1', STRIPE_SECRET_KEY: KEYS.secret, STRIPE_API_BASE: o.stripeBase },
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* gone */
    }
    await exited;
  };
  const stop = async (graceMs = 5_000) => {
    const t = setTimeout(() => void kill('SIGKILL'), graceMs);
    await kill('SIGTERM');
    clearTimeout(t);
  };
  onCleanup(() => stop(2_000));
  process.on('exit', () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  const url = `http://127.0.0.1:${o.port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the floor app exited (log: ${o.logFile})`);
    try {
      const r = await fetch(`${url}/checkout`, { signal: AbortSignal.timeout(5_000) });
      if (r.status === 200) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`the floor app did not answer (log: ${o.logFile})`);
    await sleep(200);
  }
  return { label: 'floor', process: child, exited, kill, stop, url, pid: child.pid! };
}

interface Site extends ShopSite {
  proxy: TimingProxy;
  cpu: () => Map<number, number>;
  /** PostgreSQL backends of the shop's database (their CPU is the database's share). */
  dbCpu?: () => Promise<Map<number, number>>;
  /** Statements the shop's processes have sent so far (the counting preload's files). */
  statements?: () => StatementTotals;
}

// ---- one load ----

interface Measured {
  target: Target;
  rate: number;
  outcomes: Outcome[];
  calls: StripeCall[];
  windowS: number;
  cpuMs: number;
  dbCpuMs: number;
  statements?: StatementTotals;
  /** The load window on the monotonic clock (µs), to cut a CPU profile to it. */
  monoUs: [number, number];
}

const monoUs = () => Number(process.hrtime.bigint() / 1000n);

async function runLoad(site: Site, products: Product[], rate: number, seconds: number): Promise<Measured> {
  site.proxy.reset();
  const cpu0 = site.cpu();
  const db0 = site.dbCpu ? await site.dbCpu() : new Map<number, number>();
  const st0 = site.statements?.();
  const mono0 = monoUs();
  const t0 = performance.now();
  const n = Math.round(rate * seconds);
  const running: Promise<Outcome>[] = [];
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    running.push(checkout(site, products[i % products.length], i, due));
  }
  const outcomes = await Promise.all(running);
  await sleep(DRAIN_MS);
  const t1 = performance.now();
  const mono1 = monoUs();
  const cpuMs = cpuBetween(cpu0, site.cpu());
  const dbCpuMs = site.dbCpu ? cpuBetween(db0, await site.dbCpu()) : 0;
  // The preload writes its totals every 250 ms: wait for the last ones.
  let statements: StatementTotals | undefined;
  if (st0 && site.statements) {
    await sleep(STATEMENTS_SETTLE_MS);
    statements = statementsBetween(st0, site.statements());
  }
  return { target: site.target, rate, outcomes, calls: [...site.proxy.calls], windowS: (t1 - t0) / 1000, cpuMs, dbCpuMs, statements, monoUs: [mono0, mono1] };
}

/** The time this step's own Stripe calls took (calls on its PaymentIntent within the request). */
function stripeMsIn(step: Step, pi: string | undefined, calls: StripeCall[]): number {
  if (!pi) return 0;
  let ms = 0;
  for (const c of calls) if (c.paymentIntent === pi && c.at >= step.start && c.end <= step.end + 1) ms += c.ms;
  return ms;
}

interface Figures {
  arrived: number;
  paid: number;
  turnedAway: number;
  failed: string[];
  /** Sorted, ms. */
  add: number[];
  pay: number[];
  page: number[];
  payLessStripe: number[];
  pageLessStripe: number[];
  perCheckout: number[];
  perCheckoutLessStripe: number[];
  pagesPerCheckout: number;
  stripeCalls: number;
  stripeKinds: string;
  cpuPerPaid: number;
  dbCpuPerPaid: number;
  toPaid: number[];
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const dur = (s: Step) => s.end - s.start;

function figures(m: Measured, idleCpuPerS: number, idleDbCpuPerS: number): Figures {
  const paid = m.outcomes.filter((o) => o.result === 'paid');
  const perCheckout: number[] = [];
  const perCheckoutLess: number[] = [];
  const payLess: number[] = [];
  const pageLess: number[] = [];
  for (const o of paid) {
    const payS = stripeMsIn(o.pay!, o.paymentIntentId, m.calls);
    const pagesS = o.pages.map((p) => stripeMsIn(p, o.paymentIntentId, m.calls));
    payLess.push(dur(o.pay!) - payS);
    o.pages.forEach((p, k) => pageLess.push(dur(p) - pagesS[k]));
    const total = dur(o.add!) + dur(o.pay!) + o.pages.reduce((s, p) => s + dur(p), 0);
    perCheckout.push(total);
    perCheckoutLess.push(total - payS - pagesS.reduce((a, b) => a + b, 0));
  }
  const kinds: Record<string, number> = {};
  for (const c of m.calls) {
    const k = `${c.method} ${c.path.replace(/pi_[A-Za-z0-9]+/, '{id}').replace(/\?.*$/, '')}`;
    kinds[k] = (kinds[k] ?? 0) + 1;
  }
  const cpu = m.cpuMs - idleCpuPerS * m.windowS;
  const dbCpu = m.dbCpuMs - idleDbCpuPerS * m.windowS;
  const reasons: Record<string, number> = {};
  for (const o of m.outcomes) if (o.result !== 'paid' && o.result !== 'turned away') reasons[`${o.result}: ${o.detail}`] = (reasons[`${o.result}: ${o.detail}`] ?? 0) + 1;
  return {
    arrived: m.outcomes.length,
    paid: paid.length,
    turnedAway: m.outcomes.filter((o) => o.result === 'turned away').length,
    failed: Object.entries(reasons).map(([k, n]) => `${n}× ${k.slice(0, 160)}`),
    add: sorted(m.outcomes.filter((o) => o.add).map((o) => dur(o.add!))),
    pay: sorted(paid.map((o) => dur(o.pay!))),
    page: sorted(paid.flatMap((o) => o.pages.map(dur))),
    payLessStripe: sorted(payLess),
    pageLessStripe: sorted(pageLess),
    perCheckout: sorted(perCheckout),
    perCheckoutLessStripe: sorted(perCheckoutLess),
    pagesPerCheckout: paid.reduce((s, o) => s + o.pages.length, 0) / Math.max(1, paid.length),
    stripeCalls: m.calls.length / Math.max(1, paid.length),
    stripeKinds: Object.entries(kinds)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ×${n}`)
      .join(', '),
    cpuPerPaid: cpu / Math.max(1, paid.length),
    dbCpuPerPaid: dbCpu / Math.max(1, paid.length),
    toPaid: sorted(paid.map((o) => o.toPaidMs!)),
  };
}

const p = (xs: number[], q: number) => (xs.length ? percentile(xs, q).toFixed(1) : '—');
const ratio = (a: number, b: number) => (b > 0 ? a / b : NaN);
const judge = (ok: boolean, by: string) => (ok ? 'met' : `NOT met (${by})`);

function commandOf(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const script = argv.find((a) => /\.(ts|js)$/.test(a) && !a.includes('/.bin/'))?.replace(/^.*\/(scripts|bin|node_modules)\//, '$1/');
    return `${pid}:${script ?? argv[0]?.replace(/^.*\//, '') ?? '?'}`;
  } catch {
    return `${pid}:gone`;
  }
}

interface StepCpu {
  /** Monotonic µs windows of each step, to cut a CPU profile to them. */
  windows: Record<'add' | 'pay' | 'after' | 'page', [number, number][]>;
  add: number;
  pay: number;
  after: number;
  page: number;
  pages: number;
  total: number;
  /** Statements the shop sent over the n checkouts, and how many were paid. */
  statements?: StatementTotals;
  done: number;
}

/**
 * One shopper at a time, `n` of them: the server tree's CPU around each step, less the idle
 * rate over the step's time. /proc counts in 10 ms ticks, so only the sums over n mean much.
 */
async function cpuPerStep(site: Site, products: Product[], n: number, idlePerS: number, idleStatements?: StatementTotals): Promise<StepCpu> {
  const sum = { add: 0, pay: 0, after: 0, page: 0, pages: 0 };
  const windows: StepCpu['windows'] = { add: [], pay: [], after: [], page: [] };
  const st0 = site.statements?.();
  const phase0 = performance.now();
  let done = 0;
  for (let i = 0; i < n; i++) {
    let last = site.cpu();
    let lastAt = performance.now();
    let lastMono = monoUs();
    const lap = (k: 'add' | 'pay' | 'after' | 'page') => {
      const now = site.cpu();
      const at = performance.now();
      sum[k] += cpuBetween(last, now) - (idlePerS * (at - lastAt)) / 1000;
      windows[k].push([lastMono, monoUs()]);
      last = now;
      lastAt = at;
      lastMono = monoUs();
    };
    const o = await checkout(site, products[i % products.length], 100_000 + i, performance.now(), {
      afterAdd: () => lap('add'),
      afterPay: () => lap('pay'),
      // Paid in Pay's one call; then the webhooks reach the shop (and its jobs run).
      beforePages: async () => {
        await sleep(AFTER_CONFIRM_MS);
        lap('after');
      },
      afterPage: () => lap('page'),
    });
    if (o.result === 'paid') {
      done++;
      sum.pages += o.pages.length;
    }
  }
  let statements: StatementTotals | undefined;
  if (st0 && site.statements) {
    const phaseS = (performance.now() - phase0) / 1000;
    await sleep(STATEMENTS_SETTLE_MS);
    statements = statementsBetween(st0, site.statements());
    if (idleStatements) statements = lessIdle(statements, idleStatements, phaseS);
  }
  const per = (x: number) => x / Math.max(1, done);
  const r = { add: per(sum.add), pay: per(sum.pay), after: per(sum.after), page: per(sum.page) / Math.max(1, per(sum.pages)), pages: per(sum.pages) };
  return { ...r, windows, total: r.add + r.pay + r.after + r.page * r.pages, statements, done };
}

// ---- one database ----

async function runKind(kind: 'pglite' | 'postgres'): Promise<{ rows: Row[]; notes: string[]; data: unknown }> {
  const dir = runDir(`server-checkout-${kind}`);
  const shopPort = await appPort();
  const floorPort = await appPort();
  const emulator = await startEmulatorProcess({ label: `emulator (shop, ${kind})`, logFile: join(dir, 'emulator-shop.log'), port: await sidePort(), secretKey: KEYS.secret, publishableKey: KEYS.publishable, webhookSecret: KEYS.webhook, webhookUrl: `http://127.0.0.1:${shopPort}/api/stripe/webhook` });
  const floorEmulator = await startEmulatorProcess({ label: `emulator (floor, ${kind})`, logFile: join(dir, 'emulator-floor.log'), port: await sidePort(), secretKey: KEYS.secret, publishableKey: KEYS.publishable });
  const shopProxy = await startTimingProxy(emulator.url, await sidePort());
  const floorProxy = await startTimingProxy(floorEmulator.url, await sidePort());
  onCleanup(() => shopProxy.close());
  onCleanup(() => floorProxy.close());

  const dataDir = join(dir, 'data');
  let databaseUrl = '';
  let dbName = '';
  if (kind === 'postgres') ({ url: databaseUrl, name: dbName } = await createDatabase('brisk_h10_server'));
  // Migrated and seeded here first, stock made plentiful, then closed (PGlite's directory is the server's alone).
  const db = await prepareDatabase(kind === 'postgres' ? { url: databaseUrl } : { dataDir });
  const products = (await db.prisma.product.findMany({ where: { active: true }, orderBy: { slug: 'asc' } })).map((x) => ({ id: x.id, slug: x.slug, price: x.price }));
  await db.close();

  const profileDir = PROFILE ? join(dir, 'profile') : undefined;
  const statementsDir = COUNT_STATEMENTS ? join(dir, 'statements') : undefined;
  const nodeOptions = `${process.env.NODE_OPTIONS ?? ''}${profileDir ? ` --cpu-prof --cpu-prof-dir=${profileDir}` : ''}`.trim();
  const app = await startApp({
    label: `shop (${kind})`,
    via: 'start',
    port: shopPort,
    dataDir,
    logFile: join(dir, 'app.log'),
    env: {
      DATABASE_URL: databaseUrl,
      ...(kind === 'postgres' ? { APP_SECRET: 'server-bench-app-secret-0123456789abcdef' } : {}),
      STRIPE_SECRET_KEY: KEYS.secret,
      NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: KEYS.publishable,
      STRIPE_WEBHOOK_SECRET: KEYS.webhook,
      STRIPE_API_BASE: shopProxy.url,
      STRIPE_JS_URL: `${emulator.url}/v3/`,
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
      ...(statementsDir ? countingEnv(statementsDir, nodeOptions) : {}),
    },
  });
  const floor = await startFloor({ port: floorPort, logFile: join(dir, 'floor.log'), stripeBase: floorProxy.url });
  console.log(`[${kind}] shop :${shopPort} (ready in ${(app.startMs / 1000).toFixed(1)} s), floor :${floorPort}`);

  let pgClient: pg.Client | undefined;
  if (kind === 'postgres') {
    pgClient = new pg.Client({ connectionString: databaseUrl });
    await pgClient.connect();
    onCleanup(() => pgClient!.end());
  }
  const shop: Site = {
    target: 'shop',
    port: shopPort,
    actionId: actionIds().startPaymentAction,
    emulatorUrl: emulator.url,
    publishableKey: KEYS.publishable,
    proxy: shopProxy,
    cpu: treeCpu(app.process.pid!),
    dbCpu: pgClient
      ? async () => {
          const r = await pgClient!.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName]);
          return cpuOf(r.rows.map((x) => x.pid));
        }
      : undefined,
    statements: statementsDir ? () => statementTotals(statementsDir) : undefined,
  };
  const floorSite: Site = { target: 'floor', port: floorPort, actionId: floorActionId(), emulatorUrl: floorEmulator.url, publishableKey: KEYS.publishable, proxy: floorProxy, cpu: treeCpu(floor.pid) };
  if (!shop.actionId) throw new Error('no startPaymentAction in this build');

  // Warm both (first renders, JIT, connections), uncounted.
  for (const site of [shop, floorSite]) {
    for (let i = 0; i < WARMUP; i++) {
      const o = await checkout(site, products[i % products.length], i, performance.now());
      if (o.result !== 'paid') throw new Error(`warm-up (${site.target}): ${o.result} ${o.detail ?? ''}`);
    }
  }
  await sleep(3_000);

  // Idle: both servers, nothing asked of them.
  const idle0 = { shop: shop.cpu(), floor: floorSite.cpu(), db: shop.dbCpu ? await shop.dbCpu() : new Map<number, number>(), statements: shop.statements?.() };
  const i0 = performance.now();
  await sleep(IDLE_SECONDS * 1000);
  const idleS = (performance.now() - i0) / 1000;
  const idle = {
    shop: cpuBetween(idle0.shop, shop.cpu()) / idleS,
    floor: cpuBetween(idle0.floor, floorSite.cpu()) / idleS,
    db: shop.dbCpu ? cpuBetween(idle0.db, await shop.dbCpu()) / idleS : 0,
  };
  // Statements the shop sends with nothing asked of it (the job queue's polling and upkeep), per second.
  let idleStatements: StatementTotals | undefined;
  if (idle0.statements && shop.statements) {
    await sleep(STATEMENTS_SETTLE_MS);
    idleStatements = perSecond(statementsBetween(idle0.statements, shop.statements()), idleS + STATEMENTS_SETTLE_MS / 1000);
  }
  console.log(`[${kind}] idle CPU: shop ${idle.shop.toFixed(1)} ms/s${kind === 'postgres' ? ` (+ database ${idle.db.toFixed(1)} ms/s)` : ''}, floor ${idle.floor.toFixed(1)} ms/s`);

  const notes: string[] = [];
  const idleByProcess = [...cpuOf([...idle0.shop.keys()])]
    .map(([pid, t]) => ({ pid, what: commandOf(pid), msPerS: (t - (idle0.shop.get(pid) ?? 0)) / idleS }))
    .filter((x) => x.msPerS > 0)
    .map((x) => `${x.what} ${x.msPerS.toFixed(1)}`)
    .join(', ');

  // One shopper at a time: the CPU of each step on its own (less idle), shop and floor.
  const steps = { shop: await cpuPerStep(shop, products, STEP_SHOPPERS, idle.shop, idleStatements), floor: await cpuPerStep(floorSite, products, STEP_SHOPPERS, idle.floor) };

  const probeBefore = probeMachine();
  const rows: Row[] = [];
  const data: unknown[] = [];
  const windows: [number, number][] = [];
  let worst: { rate: number; cpu: number } | undefined;
  for (const rate of RATES) {
    const ms = await runLoad(shop, products, rate, SECONDS);
    windows.push(ms.monoUs);
    await sleep(1_000);
    const mf = await runLoad(floorSite, products, rate, SECONDS);
    await sleep(1_000);
    const s = figures(ms, idle.shop, idle.db);
    const f = figures(mf, idle.floor, 0);
    const cpuShop = s.cpuPerPaid + (kind === 'postgres' ? s.dbCpuPerPaid : 0);
    if (!worst || cpuShop > worst.cpu) worst = { rate, cpu: cpuShop };
    const judged = rate === GOAL.judgedRate;
    const steps: [string, number[], number[]][] = [
      ['add to cart (form post)', s.add, f.add],
      ['Pay (server action), less Stripe', s.payLessStripe, f.payLessStripe],
      ['order page, less Stripe', s.pageLessStripe, f.pageLessStripe],
    ];
    const stepRatios = steps.map(([, a, b]) => ratio(percentile(a, 50), percentile(b, 50)));
    const cpuRatio = ratio(cpuShop, f.cpuPerPaid);
    const base = { database: kind, rate: `${rate}/s` };
    rows.push({
      ...base,
      measure: 'shoppers',
      shop: `${s.paid} of ${s.arrived} paid, ${s.turnedAway} turned away${s.failed.length ? `; ${s.failed.join('; ')}` : ''}`,
      floor: `${f.paid} of ${f.arrived} paid${f.failed.length ? `; ${f.failed.join('; ')}` : ''}`,
      'shop/floor': '—',
      goal: judged ? `nobody turned away: ${judge(s.turnedAway === 0 && s.paid === s.arrived, `${s.arrived - s.paid} of ${s.arrived} not paid`)}` : '—',
    });
    rows.push({
      ...base,
      measure: 'server time per checkout less Stripe, p50 / p99 ms',
      shop: `${p(s.perCheckoutLessStripe, 50)} / ${p(s.perCheckoutLessStripe, 99)} (with Stripe ${p(s.perCheckout, 50)} / ${p(s.perCheckout, 99)}; ${s.pagesPerCheckout.toFixed(2)} order pages each)`,
      floor: `${p(f.perCheckoutLessStripe, 50)} / ${p(f.perCheckoutLessStripe, 99)} (with Stripe ${p(f.perCheckout, 50)} / ${p(f.perCheckout, 99)}; ${f.pagesPerCheckout.toFixed(2)} pages)`,
      'shop/floor': `${ratio(percentile(s.perCheckoutLessStripe, 50), percentile(f.perCheckoutLessStripe, 50)).toFixed(1)}× / ${ratio(percentile(s.perCheckoutLessStripe, 99), percentile(f.perCheckoutLessStripe, 99)).toFixed(1)}×`,
      goal: judged
        ? `p50 ≤ ${GOAL.p50}, p99 ≤ ${GOAL.p99}: ${judge(percentile(s.perCheckoutLessStripe, 50) <= GOAL.p50 && percentile(s.perCheckoutLessStripe, 99) <= GOAL.p99, `${(percentile(s.perCheckoutLessStripe, 50) / GOAL.p50).toFixed(1)}× / ${(percentile(s.perCheckoutLessStripe, 99) / GOAL.p99).toFixed(1)}× the goal`)}`
        : '—',
    });
    steps.forEach(([name, a, b], k) =>
      rows.push({
        ...base,
        measure: `${name}, p50 / p99 ms`,
        shop: `${p(a, 50)} / ${p(a, 99)}`,
        floor: `${p(b, 50)} / ${p(b, 99)}`,
        'shop/floor': `${stepRatios[k].toFixed(1)}× p50`,
        goal: `≤ ${GOAL.ratio}× the floor: ${judge(stepRatios[k] <= GOAL.ratio, `${(stepRatios[k] / GOAL.ratio).toFixed(1)}× over`)}`,
      }),
    );
    rows.push({
      ...base,
      measure: 'Pay and order page with Stripe, p50 ms',
      shop: `${p(s.pay, 50)}, ${p(s.page, 50)}`,
      floor: `${p(f.pay, 50)}, ${p(f.page, 50)}`,
      'shop/floor': `${ratio(percentile(s.pay, 50), percentile(f.pay, 50)).toFixed(1)}×, ${ratio(percentile(s.page, 50), percentile(f.page, 50)).toFixed(1)}×`,
      goal: '—',
    });
    rows.push({
      ...base,
      measure: 'Stripe calls per paid checkout',
      shop: `${s.stripeCalls.toFixed(2)} (${s.stripeKinds})`,
      floor: `${f.stripeCalls.toFixed(2)} (${f.stripeKinds})`,
      'shop/floor': '—',
      goal: "— (part 2's goal: ≤ 1)",
    });
    const cpuGoal = [`≤ ${GOAL.ratio}× the floor: ${judge(cpuRatio <= GOAL.ratio, `${(cpuRatio / GOAL.ratio).toFixed(1)}× over`)}`];
    if (kind === 'pglite') cpuGoal.push(`≤ ${GOAL.cpuPglite} ms: ${judge(cpuShop <= GOAL.cpuPglite, `${(cpuShop / GOAL.cpuPglite).toFixed(1)}× the goal`)}`);
    rows.push({
      ...base,
      measure: 'process CPU per paid checkout, ms (less idle)',
      shop: kind === 'postgres' ? `${cpuShop.toFixed(1)} (server ${s.cpuPerPaid.toFixed(1)} + database backends ${s.dbCpuPerPaid.toFixed(1)})` : cpuShop.toFixed(1),
      floor: f.cpuPerPaid.toFixed(1),
      'shop/floor': `${cpuRatio.toFixed(1)}×`,
      goal: cpuGoal.join('; '),
    });
    if (ms.statements) {
      rows.push({
        ...base,
        measure: 'SQL statements per paid checkout (by first word)',
        shop: describeStatements(idleStatements ? lessIdle(ms.statements, idleStatements, ms.windowS) : ms.statements, s.paid, kind),
        floor: '— (no database)',
        'shop/floor': '—',
        goal: '—',
      });
    }
    data.push({ rate, shop: { ...s, windowS: ms.windowS, cpuMs: ms.cpuMs, dbCpuMs: ms.dbCpuMs, statements: ms.statements }, floor: { ...f, windowS: mf.windowS, cpuMs: mf.cpuMs } });
    for (const r of rows.slice(ms.statements ? -9 : -8)) console.log(JSON.stringify(r));
  }
  const stepText = (x: StepCpu) => `add to cart ${x.add.toFixed(1)}, Pay ${x.pay.toFixed(1)}, after Pay (webhooks, jobs) ${x.after.toFixed(1)}, order page ${x.page.toFixed(1)} (×${x.pages.toFixed(2)}) = ${x.total.toFixed(1)}`;
  rows.push({
    database: kind,
    rate: `1 at a time ×${STEP_SHOPPERS}`,
    measure: 'process CPU per step, ms (less idle; server tree only)',
    shop: stepText(steps.shop),
    floor: stepText(steps.floor),
    'shop/floor': `${ratio(steps.shop.total, steps.floor.total).toFixed(1)}×`,
    goal: '—',
  });
  if (steps.shop.statements) {
    rows.push({
      database: kind,
      rate: `1 at a time ×${STEP_SHOPPERS}`,
      measure: 'SQL statements per paid checkout (by first word)',
      shop: describeStatements(steps.shop.statements, steps.shop.done, kind),
      floor: '— (no database)',
      'shop/floor': '—',
      goal: '—',
    });
  }
  rows.push({
    database: kind,
    rate: 'idle',
    measure: 'idle CPU, ms per second',
    shop: `${kind === 'postgres' ? `${(idle.shop + idle.db).toFixed(1)} (server ${idle.shop.toFixed(1)} + database backends ${idle.db.toFixed(1)})` : idle.shop.toFixed(1)}${idleStatements ? `; ${idleStatements.statements.toFixed(1)} SQL statements/s` : ''}`,
    floor: idle.floor.toFixed(1),
    'shop/floor': '—',
    goal: '—',
  });
  notes.push(`idle CPU of the shop by process (ms/s): ${idleByProcess}`);
  const probeAfter = probeMachine();
  await floor.stop();
  if (profileDir) {
    // The profile is written when the server exits on its own: SIGTERM to it alone, once (the
    // group's SIGTERM reaches it twice, through the launcher too, and the second one kills it
    // before --cpu-prof writes).
    const serve = processTree(app.process.pid!).find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('scripts/serve.ts');
      } catch {
        return false;
      }
    });
    if (serve) {
      process.kill(serve, 'SIGTERM');
      for (let i = 0; i < 200 && existsSync(`/proc/${serve}`); i++) await sleep(100);
    }
  }
  await app.stop(15_000);
  notes.unshift(describeProbes(probeBefore, probeAfter), `load average at the end: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' / ')} (1/5/15 min, 2 cores)`);
  if (profileDir) {
    await sleep(500);
    const files = existsSync(profileDir) ? readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')) : [];
    // The server is the largest profile (the launchers do little).
    const biggest = files.map((f) => join(profileDir, f)).sort((a, b) => statSync(b).size - statSync(a).size)[0];
    if (biggest && worst) {
      notes.push(`CPU profile of the shop's server (node --cpu-prof): ${biggest}`);
      // The windows beside it, to summarize the profile again (npx tsx bench/lib/cpu-profile.ts <file> <windows.json> <key>).
      writeFileSync(join(profileDir, 'windows.json'), JSON.stringify({ load: windows, ...steps.shop.windows, paid: data.map((d) => (d as { shop: { paid: number } }).shop.paid) }));
      const parts: [string, [number, number][], number][] = [
        [`the load windows (${RATES.join(', ')}/s)`, windows, 25],
        ['one at a time: add to cart', steps.shop.windows.add, 10],
        ['one at a time: Pay', steps.shop.windows.pay, 12],
        ['one at a time: after Pay (webhooks, jobs)', steps.shop.windows.after, 15],
        ['one at a time: order page', steps.shop.windows.page, 12],
      ];
      for (const [label, w, functions] of parts) {
        const summary = summarizeProfile(biggest, w, { label, kinds: 12, functions });
        console.log(summary.text);
        notes.push(...summary.lines);
      }
    } else notes.push(`no CPU profile found in ${profileDir}`);
  }
  return { rows, notes, data };
}

const rows: Row[] = [];
const notes: string[] = [];
const data: unknown[] = [];
try {
  buildFloorIfNeeded();
  for (const kind of kinds) {
    const r = await runKind(kind);
    rows.push(...r.rows);
    notes.push(...r.notes.map((n) => `${kind}: ${n}`));
    data.push({ kind, runs: r.data });
  }
} catch (err) {
  console.error(err);
  await cleanupAll();
  process.exit(1);
}
await cleanupAll();
recordResults({
  name: 'server-checkout',
  title: `The checkout through the real server, beside a bare Next.js floor${PROFILE ? ' (profiled: figures inflated by --cpu-prof)' : ''}`,
  command: `${process.env.NODE_OPTIONS ? `NODE_OPTIONS='${process.env.NODE_OPTIONS}' ` : ''}${process.env.BRISK_NODE_FLAGS ? `BRISK_NODE_FLAGS='${process.env.BRISK_NODE_FLAGS}' ` : ''}npm run bench:server --${isQuick ? ' --quick' : ''}${dbArg !== 'pglite' ? ` --db ${dbArg}` : ''}${argValue('--rates') ? ` --rates ${argValue('--rates')}` : ''}${argValue('--seconds') ? ` --seconds ${argValue('--seconds')}` : ''}${PROFILE ? ' --profile' : ''}${COUNT_STATEMENTS ? '' : ' --no-statements'}`,
  rows,
  notes: [
    `Shop: scripts/start.ts as \`npm start\` runs it (NODE_ENV=production, scripts/serve.ts around Next.js, default settings: the gateway's rate budget, the in-process worker), build in .next-bench. Floor: bench/floor (a route setting a cart cookie, a server action validating with zod and creating the PaymentIntent with the same stripe SDK, an order page retrieving it), \`next start\` of the repo's next. Each against its own emulator process (the shop's delivers webhooks to it) through a timing proxy.`,
    `Load: open loop, ${SECONDS} s per rate, shop then floor at each rate; each shopper from its own loopback address: add to cart, a ConfirmationToken made at the emulator (browser side, not counted), Pay with it (the server creates and confirms the PaymentIntent in one call), the order page at once and every second until Paid. Busy/throttled answers to Pay turn the shopper away (not retried). Steps are client round trips on loopback (queueing in the server included); "less Stripe" subtracts the time the step's own calls took at the timing proxy (arrival at the proxy to the end of the emulator's answer).`,
    ...(COUNT_STATEMENTS
      ? [
          "SQL statements: counted in the shop's own processes by bench/lib/count-statements.mjs (a NODE_OPTIONS preload; the app's code is not changed): each Query or Execute message sent through pg or into PGlite is one statement, whoever sends it (Prisma, lib/db, pg-boss, the webhook's jobs); BEGIN and COMMIT count; a simple Query holding several statements counts once. Per paid checkout: every statement in the window (turned-away shoppers' too), less the idle statements/s (the job queue's polling, measured with the idle CPU) × the window, over the paid ones. Pipelined (PostgreSQL): sent on a connection whose earlier statement had not answered yet.",
        ]
      : []),
    `CPU: utime+stime from /proc of the server's process tree (and, on PostgreSQL, the shop database's backends) over each window (first arrival to ${DRAIN_MS / 1000} s after the last shopper), less the idle CPU/s measured over ${IDLE_SECONDS} s before the loads × the window, divided by paid checkouts. Stripe calls: every call the server sent in the window (webhook work and jobs included) per paid checkout.`,
    ...notes,
  ],
  data,
});
exitForGoals(missedGoals(rows));
