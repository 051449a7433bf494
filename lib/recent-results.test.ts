// RecentResults: shared answers within their time, nothing kept past it, and a settled answer
// kept without the promise (which would keep its request alive).
import { describe, expect, it } from 'vitest';
import { RecentResults } from './recent-results';

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('RecentResults', () => {
  it('shares one piece of work per key within its time, and runs it again after', async () => {
    const shared = new RecentResults<string, number>(1_000);
    let runs = 0;
    const work = async () => ++runs;
    const [a, b] = await Promise.all([shared.share('k', work, 0), shared.share('k', work, 999)]);
    expect([a, b, runs]).toEqual([1, 1, 1]);
    expect(await shared.share('k', work, 1_000)).toBe(2);
    expect(await shared.share('other', work, 1_000)).toBe(3);
  });

  it('holds only the entries of the last ttl, whatever the traffic', async () => {
    const shared = new RecentResults<number, number>(1_000);
    for (let t = 0; t < 10_000; t += 10) await shared.share(t, async () => t, t);
    // 100 entries started in the last second, plus at most the one just added.
    expect(shared.size).toBeLessThanOrEqual(101);
    expect(shared.size).toBeGreaterThanOrEqual(100);
  });

  it('a key started again moves to the back, so it is not dropped with the old ones', async () => {
    const shared = new RecentResults<string, string>(100);
    await shared.share('a', async () => 'a1', 0);
    await shared.share('b', async () => 'b', 50);
    await shared.share('a', async () => 'a2', 120); // 'a' expired: started again at 120
    await shared.share('c', async () => 'c', 160); // drops 'b' (50 + 100 <= 160), keeps 'a'
    expect(shared.size).toBe(2);
    expect(await shared.share('a', async () => 'a3', 200)).toBe('a2');
  });

  it('does not share failed work, nor answers `keep` refuses', async () => {
    const shared = new RecentResults<string, string>(1_000);
    await expect(shared.share('k', () => Promise.reject(new Error('down')), 0)).rejects.toThrow('down');
    await flush();
    expect(await shared.share('k', async () => 'ok', 1)).toBe('ok');
    const busy = await shared.share('b', async () => 'busy', 0, (v) => v !== 'busy');
    await flush();
    expect(busy).toBe('busy');
    expect(await shared.share('b', async () => 'paid', 1, (v) => v !== 'busy')).toBe('paid');
    expect(shared.size).toBe(2);
  });

  it('keeps the settled value, not the promise that produced it', async () => {
    const shared = new RecentResults<string, { id: string }>(1_000);
    const value = { id: 'pi_1' };
    const first = shared.share('k', async () => value, 0);
    const again = shared.share('k', async () => ({ id: 'other' }), 1);
    expect(again).toBe(first); // still running: the same promise
    await first;
    await flush();
    const later = shared.share('k', async () => ({ id: 'other' }), 2);
    expect(later).not.toBe(first); // settled: a new promise of the same value
    expect(await later).toBe(value);
  });
});
