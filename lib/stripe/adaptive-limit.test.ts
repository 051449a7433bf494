import { describe, expect, it } from 'vitest';
import { AdaptiveLimit } from './adaptive-limit';

function feed(l: AdaptiveLimit, n: number, rttMs: number, opts: { inFlight?: number; jitter?: number } = {}) {
  for (let i = 0; i < n; i++) {
    const rtt = rttMs + (opts.jitter ? (Math.sin(i) * opts.jitter) : 0);
    l.record({ rttMs: rtt, inFlight: opts.inFlight ?? l.limit });
  }
}

describe('AdaptiveLimit', () => {
  it('grows while latency stays near its baseline and the limit is in use', () => {
    const l = new AdaptiveLimit({ initial: 4, min: 2, max: 40 });
    feed(l, 200, 50, { jitter: 5 });
    expect(l.limit).toBe(40);
  });

  it('does not grow while it is not in use (an idle night does not inflate it)', () => {
    const l = new AdaptiveLimit({ initial: 4, min: 2, max: 40 });
    feed(l, 200, 50, { inFlight: 1 });
    expect(l.limit).toBe(4);
  });

  it('does not shrink on a latency spike alone: slow but healthy Stripe needs more concurrency, not less', () => {
    const l = new AdaptiveLimit({ initial: 20, min: 2, max: 40 });
    feed(l, 100, 50, { jitter: 5 });
    const before = l.limit;
    feed(l, 40, 2_000);
    expect(l.limit).toBeGreaterThanOrEqual(before);
  });

  it('with shrinkOnLatency (Gradient2), shrinks when latency climbs well above the baseline, and grows back', () => {
    const l = new AdaptiveLimit({ initial: 20, min: 2, max: 40, shrinkOnLatency: true });
    feed(l, 100, 50, { jitter: 5 });
    const before = l.limit;
    feed(l, 40, 2_000);
    const during = l.limit;
    expect(during).toBeLessThanOrEqual(Math.ceil(before / 4));
    feed(l, 150, 50, { jitter: 5 });
    expect(l.limit).toBeGreaterThanOrEqual(before * 0.9);
  });

  it('grows by one per queued call (demand), but not within the hold after a 429', () => {
    let now = 0;
    const l = new AdaptiveLimit({ initial: 10, min: 2, max: 12, demandHoldMs: 1_000, now: () => now });
    l.demand();
    expect(l.limit).toBe(11);
    l.record({ rttMs: 50, inFlight: 11, dropped: true });
    const cut = l.limit;
    expect(cut).toBeLessThan(11);
    now += 500;
    l.demand();
    expect(l.limit).toBe(cut);
    now += 600;
    for (let i = 0; i < 10; i++) l.demand();
    expect(l.limit).toBe(12);
  });

  it('tolerates latency within the tolerance band', () => {
    const l = new AdaptiveLimit({ initial: 10, min: 2, max: 10, tolerance: 2, shrinkOnLatency: true });
    feed(l, 50, 100);
    feed(l, 50, 180);
    expect(l.limit).toBe(10);
  });

  it('cuts multiplicatively on a 429, once per cooldown, never below min', () => {
    let now = 0;
    const l = new AdaptiveLimit({ initial: 20, min: 3, max: 40, backoffRatio: 0.5, dropCooldownMs: 100, now: () => now });
    l.record({ rttMs: 50, inFlight: 20, dropped: true });
    expect(l.limit).toBe(10);
    l.record({ rttMs: 50, inFlight: 20, dropped: true }); // same storm, same instant
    expect(l.limit).toBe(10);
    for (let i = 0; i < 10; i++) {
      now += 200;
      l.record({ rttMs: 50, inFlight: 20, dropped: true });
    }
    expect(l.limit).toBe(3);
  });

  it('notifies listeners when the whole-number limit changes', () => {
    const seen: number[] = [];
    const l = new AdaptiveLimit({ initial: 10, min: 2, max: 12 });
    l.onChange((v) => seen.push(v));
    feed(l, 100, 50);
    expect(seen.at(-1)).toBe(12);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('ignores samples with no latency (a reset connection says nothing about speed)', () => {
    const l = new AdaptiveLimit({ initial: 10 });
    feed(l, 20, 50);
    l.record({ rttMs: NaN, inFlight: 10 });
    expect(l.rtt.recentMs).toBe(50);
  });
});
