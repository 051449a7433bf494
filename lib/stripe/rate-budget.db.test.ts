// The rate budget: paced in short windows, and on PostgreSQL one budget for every instance.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { StripeUnavailableError } from './errors';
import { budgetPerSecond, createRateBudget, pacing, type RateBudget } from './rate-budget';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
const pools: pg.Pool[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await database?.drop();
});

async function budgets(n: number, perSecond: number): Promise<RateBudget[]> {
  const key = `sk_test_${Math.random()}`;
  if (database.kind === 'pglite') {
    // One process: one in-memory budget, shared by everything in it.
    const b = createRateBudget({ mode: 'test', secretKey: key, perSecond });
    return Array.from({ length: n }, () => b);
  }
  return Promise.all(
    Array.from({ length: n }, async () => {
      // Each "instance" has its own pool, as separate processes would.
      const pool = new pg.Pool({ connectionString: database.url, max: 2 });
      // Dropping the test database closes its idle connections: expected, not a failure.
      pool.on('error', () => undefined);
      pools.push(pool);
      // The migrated stripe_rate_budget table: shared from the very first request.
      return createRateBudget({ mode: 'test', secretKey: key, perSecond, pool });
    }),
  );
}

describe(`rate budget (${testDbKind})`, () => {
  it('is 80% of the mode limit by default, and paces in windows of whole requests', () => {
    expect(budgetPerSecond('test')).toBe(20);
    expect(budgetPerSecond('live')).toBe(80);
    expect(budgetPerSecond('test', 0.5)).toBe(12);
    expect(() => budgetPerSecond('test', 1.5)).toThrow();
    expect(pacing(20)).toEqual({ points: 4, durationSec: 0.2 });
    expect(pacing(3)).toEqual({ points: 1, durationSec: 1 / 3 });
  });

  it('shares one budget between instances: within a second they get the budget between them, not each', async () => {
    const perSecond = 10;
    const [a, b, c] = await budgets(3, perSecond);
    const started = performance.now();
    let granted = 0;
    let busy = 0;
    // Three instances race for 1 s, each waiting at most 50 ms per request.
    await Promise.all(
      [a, b, c].map(async (budget) => {
        while (performance.now() - started < 1_000) {
          try {
            await budget.take(50);
            granted++;
          } catch (err) {
            expect(err).toBeInstanceOf(StripeUnavailableError);
            busy++;
          }
        }
      }),
    );
    expect(granted).toBeGreaterThanOrEqual(perSecond - 2);
    expect(granted).toBeLessThanOrEqual(perSecond + pacing(perSecond).points);
    expect(busy).toBeGreaterThan(0);
  });

  it('a 429 spends the rest of the window for everyone', async () => {
    const [a, b] = await budgets(2, 10);
    await a.take(1_000);
    await a.penalize();
    await expect(b.take(0)).rejects.toBeInstanceOf(StripeUnavailableError);
  });
});
