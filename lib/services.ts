// The composition root: what one Brisk process shares, built once from the config — the
// database, and the Stripe gateway with its rate budget and call statistics. A web instance
// (scripts/serve.ts → Next.js: instrumentation.ts, the routes and pages) and a job worker
// (scripts/worker.ts → lib/jobs/runtime.ts) both get them here; modules below receive what they
// use as arguments (a PrismaClient, a gateway), and only entry points (routes, server actions,
// pages, the job runtime) call these functions.
import { config, type AppConfig } from '@/lib/config';
import { openDatabase, openSidePool, pgliteDataDir, type Database, type OpenOptions, type PrismaClient } from '@/lib/db/client';
import { logger } from '@/lib/observability/logger';
import { CallStatsRecorder } from '@/lib/stripe/call-stats';
import { createStripeClient, keyMode, stripeSettingsFromConfig } from '@/lib/stripe/client';
import { StripeGateway, unconfiguredGatewayState, type GatewayState } from '@/lib/stripe/gateway';
import { createRateBudget } from '@/lib/stripe/rate-budget';

interface Services {
  database?: Promise<Database>;
  gateway?: StripeGateway;
}

// On globalThis because Next.js evaluates this module more than once in one server process:
// instrumentation.ts (which starts the jobs), the App Router's server bundles and the pages
// router's are compiled separately, each with its own copy, and a development server loads it
// again on every hot reload. Module-level state would open the database once per copy (on
// PGlite: a second owner of one data directory) and build a second gateway (a second rate
// budget, breaker and concurrency limit). One slot, for everything this file builds.
const g = globalThis as unknown as { __briskServices?: Services };
const services: Services = (g.__briskServices ??= {});

export function databaseOptions(cfg: Pick<AppConfig, 'DATABASE_URL' | 'DATA_DIR'>): OpenOptions {
  return cfg.DATABASE_URL ? { url: cfg.DATABASE_URL } : { dataDir: pgliteDataDir(cfg.DATA_DIR) };
}

/** The process's database: PostgreSQL at DATABASE_URL, or PGlite under DATA_DIR; opened on first use. */
export function db(): Promise<Database> {
  services.database ??= openDatabase(databaseOptions(config()));
  return services.database;
}

export async function prisma(): Promise<PrismaClient> {
  return (await db()).prisma;
}

/**
 * Tests and tools that opened a database themselves: the process uses it from now on (until
 * given another, or undefined: the next db() opens the configured one).
 */
export function useDatabase(database: Database | undefined): void {
  services.database = database ? Promise.resolve(database) : undefined;
}

/**
 * Benchmarks only (bench/events.bench.ts, with BRISK_BENCH_ROUTES=1): BRISK_BENCH_STRIPE_RATE
 * lifts the rate budget so the app's own event-apply throughput can be measured apart from
 * test mode's 20 requests/s. Ignored without BRISK_BENCH_ROUTES=1.
 */
function benchRateOverride(cfg: Pick<AppConfig, 'BRISK_BENCH_ROUTES' | 'BRISK_BENCH_STRIPE_RATE'>): { perSecond?: number } {
  if (!cfg.BRISK_BENCH_ROUTES) return {};
  const rate = Number(cfg.BRISK_BENCH_STRIPE_RATE);
  return rate > 0 ? { perSecond: rate } : {};
}

function buildGateway(cfg: AppConfig): StripeGateway {
  const s = stripeSettingsFromConfig(cfg);
  // On PostgreSQL every process shares one budget (a table); a small pool of its own, so budget
  // checks do not wait behind the database's queries. On PGlite (one process) it is in memory.
  const pool = cfg.DATABASE_URL ? openSidePool(cfg.DATABASE_URL, 3, 'rate budget') : undefined;
  const log = logger();
  return new StripeGateway(createStripeClient(s), {
    budget: createRateBudget({ mode: keyMode(s.secretKey), share: cfg.STRIPE_RATE_SHARE, secretKey: s.secretKey, pool, ...benchRateOverride(cfg) }),
    stats: new CallStatsRecorder(prisma, 10_000, (err) => log.warn({ err }, 'could not write gateway call stats')),
  });
}

/** The process's Stripe gateway, built on first use; throws when Stripe is not configured. */
export function stripeGateway(): StripeGateway {
  services.gateway ??= buildGateway(config());
  return services.gateway;
}

/** The gateway's state (built on first use); a quiet idle state when Stripe is not configured. */
export function gatewayState(): GatewayState {
  try {
    return stripeGateway().state();
  } catch {
    return unconfiguredGatewayState();
  }
}
