// The outbound rate budget: a share (80% by default) of Stripe's limit for the key's mode
// (25 requests/s in test mode, 100 in live), paced in short windows so requests are spread
// over each second instead of bursting at its start. On PostgreSQL every instance draws from
// one budget (RateLimiterPostgres), with an in-memory limiter as insurance if the database
// stumbles; on PGlite there is one process, so memory is the budget.
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { StripeUnavailableError } from './errors';

export const STRIPE_LIMITS = { test: 25, live: 100 } as const;

/** One request's worth of budget: when it was granted and when its window ends (epoch ms). */
export interface BudgetGrant {
  grantedAt: number;
  windowEndsAt: number;
}

/** The header a request carries its grant in, `<grantedAt>/<windowEndsAt>`: what it was paced by, on the budget's own clock. */
export const BUDGET_HEADER = 'Brisk-Budget-Grant';

export interface RateBudget {
  readonly perSecond: number;
  readonly store: 'memory' | 'postgres';
  /** Waits for one request's worth of budget, at most maxWaitMs; else throws busy. */
  take(maxWaitMs: number, signal?: AbortSignal): Promise<BudgetGrant | void>;
  /** Stripe answered 429 anyway (another tool on the key?): spend the rest of this window. */
  penalize(): Promise<void>;
  close(): Promise<void>;
}

export interface RateBudgetOptions {
  mode: 'test' | 'live';
  /** Fraction of Stripe's limit to use, (0, 1]. */
  share?: number;
  /** Overrides mode × share (tests, benchmarks). */
  perSecond?: number;
  /** Identifies the Stripe account so instances on the same key share a budget. */
  secretKey: string;
  /** A pg pool: budget shared through PostgreSQL. */
  pool?: Pool;
  tableName?: string;
  onWait?: (ms: number) => void;
}

/** Requests per second for a mode and share; STRIPE_RATE_SHARE parsed by the caller. */
export function budgetPerSecond(mode: 'test' | 'live', share = 0.8): number {
  if (!(share > 0 && share <= 1)) throw new Error(`Stripe rate share must be in (0, 1], got ${share}`);
  return Math.max(1, Math.floor(STRIPE_LIMITS[mode] * share));
}

// Windows of about 200 ms holding a whole number of requests: 20/s → 4 per 200 ms.
export function pacing(perSecond: number): { points: number; durationSec: number } {
  const points = Math.max(1, Math.floor(perSecond / 5));
  return { points, durationSec: points / perSecond };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class LimiterBudget implements RateBudget {
  private readonly key: string;
  constructor(
    private readonly limiter: RateLimiterAbstract,
    readonly perSecond: number,
    readonly store: 'memory' | 'postgres',
    secretKey: string,
    private readonly points: number,
    private readonly onWait?: (ms: number) => void,
  ) {
    // Never the key itself: a digest is enough to tell accounts apart.
    this.key = `stripe:${createHash('sha256').update(secretKey).digest('hex').slice(0, 16)}`;
  }

  async take(maxWaitMs: number): Promise<BudgetGrant> {
    const started = performance.now();
    for (;;) {
      let res: RateLimiterRes;
      try {
        const granted = await this.limiter.consume(this.key, 1);
        // The store judges the window by the clock read when the query was built; an answer
        // that comes back after that window ended (a slow pool or database on a busy machine)
        // is a point of a window already over, not budget for now: take one of the current
        // window instead, or a request paced by a closed window joins the next one's.
        if (granted.msBeforeNext <= 0) continue;
        const grantedAt = Date.now();
        const waited = performance.now() - started;
        if (waited > 1) this.onWait?.(waited);
        return { grantedAt, windowEndsAt: grantedAt + granted.msBeforeNext };
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        res = err;
      }
      // A little jitter so waiters of many instances do not all wake on the same millisecond.
      const wait = Math.max(1, res.msBeforeNext) + Math.random() * 10;
      if (performance.now() - started + wait > maxWaitMs) {
        throw new StripeUnavailableError('The Stripe request budget is spent for now', 'busy', Math.max(1_000, Math.ceil(wait)));
      }
      await sleep(wait);
    }
  }

  async penalize(): Promise<void> {
    await this.limiter.penalty(this.key, this.points).catch(() => {});
  }

  async close(): Promise<void> {}
}

export function createRateBudget(o: RateBudgetOptions): RateBudget {
  const perSecond = o.perSecond ?? budgetPerSecond(o.mode, o.share);
  const { points, durationSec } = pacing(perSecond);
  const memory = new RateLimiterMemory({ points, duration: durationSec, keyPrefix: 'stripe_budget' });
  if (!o.pool) return new LimiterBudget(memory, perSecond, 'memory', o.secretKey, points, o.onWait);
  const shared = new RateLimiterPostgres(
    {
      storeClient: o.pool,
      storeType: 'pool',
      tableName: o.tableName ?? 'stripe_rate_budget',
      // The table comes from a Prisma migration: sharing works from the first request.
      tableCreated: o.tableName === undefined,
      points,
      duration: durationSec,
      keyPrefix: 'stripe_budget',
      // If PostgreSQL cannot answer, each instance keeps pacing itself rather than stopping.
      insuranceLimiter: memory,
      clearExpiredByTimeout: true,
    },
    () => {},
  );
  return new LimiterBudget(shared, perSecond, 'postgres', o.secretKey, points, o.onWait);
}

/** No budget at all (the static comparison gateway in the benchmark). */
export const unlimitedBudget: RateBudget = {
  perSecond: Infinity,
  store: 'memory',
  take: async () => {},
  penalize: async () => {},
  close: async () => {},
};
