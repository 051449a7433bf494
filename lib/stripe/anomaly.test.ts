import { describe, expect, it } from 'vitest';
import { AnomalyDetector } from './anomaly';

function normal(d: AnomalyDetector, n: number, ms = 80) {
  for (let i = 0; i < n; i++) d.record({ latencyMs: ms + ((i * 7) % 21) - 10, failed: i % 50 === 25 });
}

describe('AnomalyDetector', () => {
  it('learns a normal band and stays ok inside it', () => {
    const d = new AnomalyDetector();
    normal(d, 300);
    const s = d.snapshot();
    expect(s.level).toBe('ok');
    expect(s.latency.baselineMs).toBeGreaterThan(70);
    expect(s.latency.baselineMs).toBeLessThan(90);
    expect(s.errorRate.baseline).toBeLessThan(0.05);
  });

  it('raises "elevated" after a few slow calls, and returns to ok afterwards', () => {
    const d = new AnomalyDetector();
    normal(d, 300);
    for (let i = 0; i < 6; i++) d.record({ latencyMs: 1_500, failed: false });
    const s = d.snapshot();
    expect(s.level).toBe('elevated');
    expect(s.reasons.join()).toMatch(/latency/);
    normal(d, 40);
    expect(d.snapshot().level).toBe('ok');
  });

  it('does not learn a long slowdown as the new normal quickly', () => {
    const d = new AnomalyDetector();
    normal(d, 300);
    for (let i = 0; i < 100; i++) d.record({ latencyMs: 2_000, failed: false });
    expect(d.snapshot().level).toBe('elevated');
    expect(d.snapshot().latency.baselineMs).toBeLessThan(500);
  });

  it('raises "elevated" on the second failure in a row — before a 5-failure breaker trips — and "critical" when most fail', () => {
    const d = new AnomalyDetector();
    normal(d, 300);
    d.record({ latencyMs: 80, failed: true });
    d.record({ latencyMs: 80, failed: true });
    expect(d.snapshot().level).not.toBe('ok');
    for (let i = 0; i < 3; i++) d.record({ failed: true });
    expect(d.snapshot().level).toBe('critical');
    expect(d.snapshot().reasons.join()).toMatch(/failure rate/);
  });

  it('a lone failure in healthy traffic is not an alert', () => {
    const d = new AnomalyDetector();
    normal(d, 300);
    d.record({ latencyMs: 80, failed: true });
    expect(d.snapshot().level).toBe('ok');
  });

  it('stays quiet during warm-up', () => {
    const d = new AnomalyDetector();
    d.record({ latencyMs: 50, failed: false });
    d.record({ latencyMs: 5_000, failed: false });
    expect(d.snapshot().level).toBe('ok');
  });
});
