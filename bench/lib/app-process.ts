// Runs the real production app (and its worker) as child processes for benchmarks and chaos
// runs: own build folder, ports and data directory; every child in its own process group so a
// SIGKILL takes the whole server down at once (as a crash would), and every child, port and
// temporary PostgreSQL database is cleaned up when the runner exits, however it exits.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import pg from 'pg';

export const root = resolve(import.meta.dirname, '../..');
/**
 * The checkout whose app is started: this one, or BENCH_APP_ROOT (another checkout of the repo,
 * installed and generated) — bench/compare.ts drives an older commit's app with this code.
 */
export const appRoot = process.env.BENCH_APP_ROOT ? resolve(process.env.BENCH_APP_ROOT) : root;
/** Build folder of benchmark and chaos runs, apart from `npm start`'s and the e2e specs'. */
export const BENCH_DIST_DIR = process.env.BRISK_DIST_DIR || '.next-bench';
const tsx = join(root, 'node_modules', '.bin', 'tsx');

const children = new Set<ChildProcess>();
const databases = new Set<string>();
const cleanups: (() => Promise<void>)[] = [];
let exiting = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** Kills every child, drops every temporary database, runs registered cleanups. */
export async function cleanupAll(): Promise<void> {
  for (const c of children) killGroup(c, 'SIGKILL');
  children.clear();
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
  for (const name of [...databases]) await dropDatabase(name).catch(() => {});
}

export function onCleanup(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

process.on('exit', () => {
  for (const c of children) killGroup(c, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (exiting) return;
    exiting = true;
    console.error(`\n${signal}: stopping every child process and dropping temporary databases…`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

function tryListen(port: number): Promise<number | null> {
  return new Promise((resolvePort) => {
    const srv = createServer();
    srv.once('error', () => resolvePort(null));
    srv.listen(port, '127.0.0.1', () => {
      const { port: bound } = srv.address() as { port: number };
      srv.close(() => resolvePort(bound));
    });
  });
}

const handedOut = new Set<number>();

/**
 * A free port on 127.0.0.1: any (the kernel's choice) unless `range` ("3500-3599") is given or
 * CHAOS_PORTS / BENCH_PORTS sets one, for machines where each user keeps to their own ports.
 * Within a range, a port is handed out once per run (an app restarts on the port it was given).
 */
export async function freePort(range: string | undefined = process.env.CHAOS_PORTS || process.env.BENCH_PORTS || process.env.BENCH_PORT_RANGE): Promise<number> {
  const m = range?.match(/^(\d+)-(\d+)$/);
  if (!m) {
    if (range) throw new Error(`port range "${range}" is not lo-hi`);
    const port = await tryListen(0);
    if (port === null) throw new Error('no free port');
    return port;
  }
  for (let port = Number(m[1]); port <= Number(m[2]); port++) {
    if (handedOut.has(port)) continue;
    if ((await tryListen(port)) !== null) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port left in ${range}`);
}

/**
 * A free port in [from, to] on 127.0.0.1, starting at a random one: for runs that must keep to
 * a range of ports (a machine shared by several people, each with their own range).
 */
export async function freePortIn(from: number, to: number): Promise<number> {
  const span = to - from + 1;
  const first = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const port = from + ((first + i) % span);
    const ok = await new Promise<boolean>((resolveOk) => {
      const srv = createServer();
      srv.once('error', () => resolveOk(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolveOk(true)));
    });
    if (ok) return port;
  }
  throw new Error(`no free port in ${from}-${to}`);
}

/**
 * A port for something a run starts: from a range such as "12600-12699" (a machine shared by
 * several people, each with their own ports) or, without one, any free port.
 */
export async function portFrom(range: string | undefined): Promise<number> {
  const m = range?.match(/^\s*(\d+)\s*-\s*(\d+)\s*$/);
  if (range && !m) throw new Error(`a port range looks like 12600-12699, got "${range}"`);
  return m ? freePortIn(Number(m[1]), Number(m[2])) : freePort(undefined);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- PostgreSQL ----

/** Server to create temporary databases on (the user must be allowed to CREATE DATABASE). */
export function postgresBaseUrl(): string {
  return process.env.BENCH_DATABASE_URL || process.env.CHAOS_DATABASE_URL || process.env.TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
}

function withDatabase(base: string, name: string): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function createDatabase(prefix: string): Promise<{ name: string; url: string }> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const c = new pg.Client({ connectionString: postgresBaseUrl() });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  databases.add(name);
  return { name, url: withDatabase(postgresBaseUrl(), name) };
}

export async function dropDatabase(name: string): Promise<void> {
  const c = new pg.Client({ connectionString: postgresBaseUrl() });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    databases.delete(name);
  } finally {
    await c.end();
  }
}

// ---- processes ----

export interface ChildOptions {
  label: string;
  /** Working directory (default: this repository). */
  cwd?: string;
  /** Where stdout and stderr go (appended). */
  logFile: string;
  env: NodeJS.ProcessEnv;
}

export interface Child {
  readonly label: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  /** The whole process group, at once. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

function spawnChild(cmd: string, args: string[], o: ChildOptions): Child {
  mkdirSync(resolve(o.logFile, '..'), { recursive: true });
  const log = createWriteStream(o.logFile, { flags: 'a' });
  log.write(`\n---- ${new Date().toISOString()} ${o.label}: ${[cmd, ...args].join(' ')}\n`);
  const child = spawn(cmd, args, { cwd: o.cwd ?? root, env: o.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  children.add(child);
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      children.delete(child);
      // A server killed as a group leaves no stragglers; make sure of it.
      killGroup(child, 'SIGKILL');
      r(code);
    }),
  );
  return {
    label: o.label,
    process: child,
    exited,
    async kill(signal = 'SIGKILL') {
      killGroup(child, signal);
      await exited;
    },
    async stop(graceMs = 10_000) {
      killGroup(child, 'SIGTERM');
      const t = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface AppOptions {
  label: string;
  port: number;
  dataDir: string;
  logFile: string;
  /** Extra environment (STRIPE_*, DATABASE_URL, WORKER_MODE, …). */
  env?: Record<string, string>;
  /**
   * 'start': `scripts/start.ts` exactly as `npm start` (builds if needed, migrates, seeds, and
   * starts the emulator in-process when no STRIPE_SECRET_KEY is given).
   * 'next': `scripts/serve.ts` (what `npm start` serves with) on the already built folder — the
   * same server without the build check and migrations, for fast restarts after a crash.
   */
  via: 'start' | 'next';
  readyTimeoutMs?: number;
  /** Pin the server (and the processes it starts) to this CPU with taskset, when available. */
  pinCpu?: number;
  /** Another copy of the app to run (a checkout of another commit), with its own node_modules. Default: this repository. */
  appRoot?: string;
}

export interface App extends Child {
  readonly url: string;
  readonly port: number;
  readonly startMs: number;
}

function appEnv(o: AppOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BRISK_DIST_DIR: BENCH_DIST_DIR,
    PORT: String(o.port),
    DATA_DIR: resolve(o.dataDir),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    NEXT_TELEMETRY_DISABLED: '1',
    // Every simulated shopper comes from this machine's one address: the per-address checkout
    // limit (40 per 15 minutes) would turn the load away.
    CHECKOUT_ADDRESS_ATTEMPTS: '10000000',
    ...o.env,
  };
  if (o.via === 'next') Object.assign(env, { NODE_ENV: 'production', NEXT_MANUAL_SIG_HANDLE: '1' });
  return env;
}

/** Starts the app and waits until GET /api/health answers 200. */
export async function startApp(o: AppOptions): Promise<App> {
  const started = performance.now();
  const env = appEnv(o);
  const cwd = o.appRoot ?? appRoot;
  // 'next': the server `npm start` runs (Next behind our own node:http server), so runs measure what ships.
  const child =
    o.via === 'start'
      ? spawnChild(process.execPath, [join(cwd, 'node_modules', '.bin', 'tsx'), 'scripts/start.ts'], { label: o.label, logFile: o.logFile, env, cwd })
      : spawnChild(process.execPath, ['--import', 'tsx', join(cwd, 'scripts', 'serve.ts')], { label: o.label, logFile: o.logFile, env: { ...env, BRISK_HOST: '127.0.0.1' }, cwd });
  if (o.pinCpu !== undefined && child.process.pid) pinToCpu(child.process.pid, o.pinCpu);
  const url = `http://127.0.0.1:${o.port}`;
  const deadline = Date.now() + (o.readyTimeoutMs ?? (o.via === 'start' ? 600_000 : 90_000));
  let dead = false;
  let last = 'no answer';
  void child.exited.then(() => (dead = true));
  for (;;) {
    if (dead) throw new Error(`${o.label} exited before it was ready (log: ${o.logFile})`);
    if (Date.now() > deadline) {
      await child.kill();
      throw new Error(`${o.label} was not ready in time; /api/health: ${last.slice(0, 500)} (log: ${o.logFile})`);
    }
    try {
      const r = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(5_000) });
      if (r.status === 200) break;
      last = `${r.status} ${await r.text()}`;
    } catch {
      /* not listening yet */
    }
    await sleep(o.via === 'start' ? 500 : 100);
  }
  return { ...child, url, port: o.port, startMs: performance.now() - started };
}

/**
 * Pins a process and all its threads to one CPU (Linux taskset). Processes it starts later
 * inherit the pin. False when taskset is missing or fails: the run goes on unpinned.
 */
export function pinToCpu(pid: number, cpu: number): boolean {
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
  return r.status === 0;
}

/** `npm run worker` as a child process (PostgreSQL only). */
export function startWorker(o: { label: string; logFile: string; env: Record<string, string> }): Child {
  return spawnChild(process.execPath, [join(appRoot, 'node_modules', '.bin', 'tsx'), '--conditions=react-server', 'scripts/worker.ts'], {
    cwd: appRoot,
    label: o.label,
    logFile: o.logFile,
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...o.env },
  });
}

/**
 * The Stripe emulator as a process of its own, as Stripe is: its CPU is not the app's. Answers
 * once it serves requests.
 */
export async function startEmulatorProcess(o: {
  label: string;
  logFile: string;
  port: number;
  secretKey: string;
  /** Fixed keys and a webhook endpoint, for an app that runs against this emulator. */
  publishableKey?: string;
  webhookSecret?: string;
  webhookUrl?: string;
}): Promise<Child & { url: string }> {
  const child = spawnChild(process.execPath, [tsx, 'emulator/cli.ts'], {
    label: o.label,
    logFile: o.logFile,
    env: {
      ...process.env,
      EMULATOR_PORT: String(o.port),
      EMULATOR_HOST: '127.0.0.1',
      STRIPE_SECRET_KEY: o.secretKey,
      NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: o.publishableKey ?? '',
      STRIPE_WEBHOOK_SECRET: o.webhookSecret ?? '',
      EMULATOR_DATA_FILE: '',
      EMULATOR_WEBHOOK_URL: o.webhookUrl ?? '',
    },
  });
  const url = `http://127.0.0.1:${o.port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await fetch(`${url}/v1/payment_intents?limit=1`, { headers: { authorization: `Bearer ${o.secretKey}` } });
      break;
    } catch {
      if (Date.now() > deadline || child.process.exitCode !== null) throw new Error(`the emulator did not start (see ${o.logFile})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  onCleanup(() => child.stop(2000));
  return Object.assign(child, { url });
}

/** A temporary directory for one run's data and logs. */
export function runDir(name: string): string {
  const dir = join(root, '.data', 'runs', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}
