// What every chaos scenario shares: the Stripe emulator (in this process, so it outlives every
// app crash), its control API, the app's environment, the database for the final checks, and
// a scenario's result (its invariant, its figures, its violations).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Stripe from 'stripe';
import { startEmulator, type RunningEmulator } from '../../emulator/src/server';
import { openDatabase, pgliteDataDir, type Database } from '../../lib/db/client';
import { applyMigrations } from '../../lib/db/migrate';
import { seedCatalog } from '../../lib/db/seed';
import { migrationFactory } from '../../lib/db/client';
import { createStripeClient } from '../../lib/stripe/client';
import { StripeGateway } from '../../lib/stripe/gateway';
import { appRoot, BENCH_DIST_DIR, freePort } from '../../bench/lib/app-process';

export interface ScenarioContext {
  quick: boolean;
  /** This run's folder: data directories and logs. */
  dir: string;
  log: (line: string) => void;
}

export interface ScenarioResult {
  name: string;
  invariant: string;
  figures: Record<string, string | number>;
  violations: string[];
  seconds: number;
}

export interface Scenario {
  name: string;
  invariant: string;
  run(ctx: ScenarioContext): Promise<{ figures: Record<string, string | number>; violations: string[] }>;
}

export const APP_SECRET = 'chaos-app-secret-0123456789abcdef0123456789';

export interface StripeStandIn {
  emulator: RunningEmulator;
  url: string;
  secretKey: string;
  publishableKey: string;
  webhookSecret: string;
  /** Server-side SDK client on the secret key (the checks read Stripe's records with it). */
  stripe: Stripe;
  control(path: string, body?: unknown, method?: string): Promise<unknown>;
  /** Environment that points an app instance at this emulator. */
  appEnv(): Record<string, string>;
  close(): Promise<void>;
}

export async function startStripe(o: { webhookUrls: string[]; webhookRetry?: { attempts: number; baseDelayMs: number } }): Promise<StripeStandIn> {
  const emulator = await startEmulator({
    // CHAOS_EMULATOR_PORTS ("12500-12599") keeps the emulator to a range; else any free port.
    port: process.env.CHAOS_EMULATOR_PORTS ? await freePort(process.env.CHAOS_EMULATOR_PORTS) : 0,
    host: '127.0.0.1',
    secretKey: 'sk_test_brisk_chaos',
    publishableKey: 'pk_test_brisk_chaos',
    webhookSecret: 'whsec_brisk_chaos',
    webhookEndpoints: o.webhookUrls.map((url) => ({ url })),
    webhookRetry: o.webhookRetry ?? { attempts: 5, baseDelayMs: 1000 },
    webhookTimeoutMs: 10_000,
    log: false,
  });
  const control = async (path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') => {
    // Every control call carries the emulator's secret key, as its contract asks.
    const headers: Record<string, string> = { authorization: `Bearer ${emulator.secretKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
    const r = await fetch(`${emulator.url}/_emulator${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!r.ok) throw new Error(`emulator control ${method} ${path}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  return {
    emulator,
    url: emulator.url,
    secretKey: emulator.secretKey,
    publishableKey: emulator.publishableKey,
    webhookSecret: emulator.webhookSecret,
    stripe: createStripeClient({ secretKey: emulator.secretKey, apiBase: emulator.url }) as unknown as Stripe,
    control,
    appEnv: () => ({
      STRIPE_SECRET_KEY: emulator.secretKey,
      NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: emulator.publishableKey,
      STRIPE_WEBHOOK_SECRET: emulator.webhookSecret,
      STRIPE_API_BASE: emulator.url,
      STRIPE_JS_URL: `${emulator.url}/v3/`,
      APP_SECRET,
    }),
    close: () => emulator.close(),
  };
}

/** A gateway for the final checks (reconciliation, sweeps): no faults by then, no budget wait. */
export function checkGateway(s: StripeStandIn): StripeGateway {
  return new StripeGateway(createStripeClient({ secretKey: s.secretKey, apiBase: s.url }), { budget: false, recordMetrics: false });
}

/**
 * A read for the final checks, retried on a network failure: after a long run a pooled
 * keep-alive socket can be closed by the server just as it is reused ("fetch failed" after
 * 2,000 checkouts in a full run). A read is safe to repeat; a real outage still fails after
 * the last try, with its cause.
 */
async function fetchRetrying(url: string, init: RequestInit, tries = 4): Promise<Response> {
  for (let i = 1; ; i++) {
    try {
      return await fetch(url, init);
    } catch (err) {
      if (i >= tries) throw new Error(`GET ${url} failed ${tries} times: ${String((err as { cause?: unknown }).cause ?? err)}`);
      await new Promise((r) => setTimeout(r, 250 * i));
    }
  }
}

/** Every object of a Stripe list endpoint, read with the secret key. */
export async function listAllStripe<T extends { id: string }>(s: StripeStandIn, path: string, params: Record<string, string> = {}): Promise<T[]> {
  const all: T[] = [];
  let after: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ limit: '100', ...params, ...(after ? { starting_after: after } : {}) });
    const r = await fetchRetrying(`${s.url}${path}?${q}`, { headers: { authorization: `Bearer ${s.secretKey}` } });
    if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
    const page = (await r.json()) as { data: T[]; has_more: boolean };
    all.push(...page.data);
    if (!page.has_more || page.data.length === 0) return all;
    after = page.data[page.data.length - 1].id;
  }
}

/** Opens (PGlite data dir or PostgreSQL URL), migrates and seeds; stock made plentiful. */
export async function prepareDatabase(o: { dataDir?: string; url?: string; stock?: number }): Promise<Database> {
  const database = o.url ? await openDatabase({ url: o.url, poolMax: 4 }) : await openDatabase({ dataDir: pgliteDataDir(o.dataDir!) });
  const m = migrationFactory(database);
  await applyMigrations(m.factory).finally(() => m.close());
  await seedCatalog(database.prisma);
  await database.prisma.product.updateMany({ data: { stock: o.stock ?? 1_000_000 } });
  return database;
}

export function openForChecks(o: { dataDir?: string; url?: string }): Promise<Database> {
  return o.url ? openDatabase({ url: o.url, poolMax: 4 }) : openDatabase({ dataDir: pgliteDataDir(o.dataDir!) });
}

/** Server action ids of this build, by exported name. */
export function actionIds(): Record<string, string> {
  const manifest = JSON.parse(readFileSync(join(appRoot, BENCH_DIST_DIR, 'server', 'server-reference-manifest.json'), 'utf8')) as { node: Record<string, { exportedName?: string }> };
  const out: Record<string, string> = {};
  for (const [id, v] of Object.entries(manifest.node)) if (v.exportedName) out[v.exportedName] = id;
  return out;
}

/** PostgreSQL scenarios create databases named with this prefix (CHAOS_DB_PREFIX, default brisk_chaos). */
export const CHAOS_DB_PREFIX = process.env.CHAOS_DB_PREFIX || 'brisk_chaos';

export const rand = (n: number) => Math.floor(Math.random() * n);
export const chance = (p: number) => Math.random() < p;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Killer {
  /** SIGKILLs so far. */
  readonly kills: number;
  /** How long each restart took, ms. */
  readonly restartMs: number[];
  /** A restart failed: the app is down for good (stop() throws why). */
  readonly failed: boolean;
  /** Stops killing, waits for a restart in flight; throws when a restart failed. */
  stop(): Promise<void>;
}

/**
 * SIGKILLs the app at random moments (every `everyMs[0]`..`everyMs[1]` ms) and restarts it at
 * once: `crash(k)` kills and restarts for the k-th time and answers the restart's duration.
 */
export function startKiller(everyMs: [number, number], crash: (k: number) => Promise<number>): Killer {
  let running = true;
  let kills = 0;
  const restartMs: number[] = [];
  let restarting: Promise<void> = Promise.resolve();
  let failure: unknown = null;
  let wake: () => void = () => undefined;
  const loop = (async () => {
    while (running && !failure) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, everyMs[0] + rand(everyMs[1] - everyMs[0]));
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      if (!running) break;
      restarting = (async () => {
        kills++;
        restartMs.push(await crash(kills));
      })();
      await restarting.catch((err) => {
        failure = err;
        running = false;
      });
    }
  })();
  return {
    get kills() {
      return kills;
    },
    get failed() {
      return failure !== null;
    },
    restartMs,
    async stop() {
      running = false;
      wake();
      await loop;
      await restarting.catch(() => undefined);
      if (failure) throw failure;
    },
  };
}

export const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);

/**
 * A bounded wait for the living app — the build under test, nothing in this process — to
 * converge on its own: every event delivered (Stripe's pending_webhooks 0), its queues empty
 * three polls running, and, when a server was killed, at least `afterRestartMs` after the last
 * start so one of its own minutely sweeps has run on what the dead servers left (older than
 * its 30 s). Answers how long it waited and whether it went quiet.
 */
export async function waitForConvergence(o: {
  appUrl: () => string;
  stripe: StripeStandIn;
  since: number;
  lastStart: number;
  afterRestartMs: number;
  maxMs: number;
}): Promise<{ seconds: number; quiet: boolean; undelivered: number }> {
  const deadline = o.lastStart + o.maxMs;
  let quiet = 0;
  let undelivered = -1;
  while (Date.now() < deadline && (quiet < 3 || Date.now() - o.lastStart < o.afterRestartMs)) {
    await sleep(1_000);
    const events = await listAllStripe<{ id: string; pending_webhooks: number }>(o.stripe, '/v1/events', { 'created[gte]': String(Math.floor(o.since / 1000) - 60) });
    undelivered = events.filter((e) => e.pending_webhooks > 0).length;
    const health = (await fetch(`${o.appUrl()}/api/health`)
      .then((r) => r.json())
      .catch(() => null)) as { queues?: Record<string, { queued: number; active: number }> | null } | null;
    const depth = health?.queues ? Object.values(health.queues).reduce((s, d) => s + d.queued + d.active, 0) : -1;
    quiet = undelivered === 0 && depth === 0 ? quiet + 1 : 0;
  }
  return { seconds: (Date.now() - o.lastStart) / 1000, quiet: quiet >= 3, undelivered };
}
