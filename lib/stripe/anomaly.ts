// Learns what normal looks like for Stripe calls (EWMA mean and mean deviation of latency and
// of the failure rate, as TCP does for RTT) and raises an alert when the recent window leaves
// that band: "elevated" before the breaker trips, "critical" when most calls fail.

export type AlertLevel = 'ok' | 'elevated' | 'critical';

export interface AnomalyOptions {
  /** Weight of a new sample in the long-term baseline (small: learns slowly). */
  baselineAlpha?: number;
  /** Weight of a new sample in the recent window. */
  recentAlpha?: number;
  /** How many deviations above the baseline count as anomalous. */
  k?: number;
  /** Samples before latency alerts are trusted. */
  warmup?: number;
  /** Recent failure rates under this never alert: one failure (0.25 with the default weight) is noise, two in a row are not. */
  minErrorRate?: number;
  /** Failure rate that is critical whatever the baseline. */
  criticalErrorRate?: number;
}

export interface AnomalySnapshot {
  level: AlertLevel;
  reasons: string[];
  latency: { baselineMs: number; deviationMs: number; recentMs: number };
  errorRate: { baseline: number; recent: number };
  samples: number;
}

export class AnomalyDetector {
  private latMean = 0;
  private latDev = 0;
  private latRecent = 0;
  private errMean = 0;
  private errDev = 0;
  private errRecent = 0;
  private latSamples = 0;
  private samples = 0;
  private readonly o: Required<AnomalyOptions>;

  constructor(opts: AnomalyOptions = {}) {
    this.o = {
      baselineAlpha: opts.baselineAlpha ?? 0.02,
      recentAlpha: opts.recentAlpha ?? 0.25,
      k: opts.k ?? 4,
      warmup: opts.warmup ?? 20,
      minErrorRate: opts.minErrorRate ?? 0.3,
      criticalErrorRate: opts.criticalErrorRate ?? 0.5,
    };
  }

  /** One finished attempt: its latency (when Stripe answered) and whether it failed. */
  record(sample: { latencyMs?: number; failed: boolean }): void {
    this.samples++;
    const f = sample.failed ? 1 : 0;
    const { baselineAlpha: a, recentAlpha: r } = this.o;
    this.errRecent += (f - this.errRecent) * r;
    // The baseline learns from what is not anomalous, so a long incident is not learnt as normal.
    if (!this.errorAnomalous()) {
      this.errDev += (Math.abs(f - this.errMean) - this.errDev) * a;
      this.errMean += (f - this.errMean) * a;
    }
    const l = sample.latencyMs;
    if (l === undefined || !Number.isFinite(l) || l < 0) return;
    this.latSamples++;
    if (this.latSamples === 1) {
      this.latMean = l;
      this.latRecent = l;
      this.latDev = l / 4;
      return;
    }
    this.latRecent += (l - this.latRecent) * r;
    // Warm-up learns fast; afterwards only samples inside the band move the baseline much.
    const alpha = this.latSamples <= this.o.warmup ? 1 / this.latSamples : this.latencyAnomalous(l) ? a / 10 : a;
    this.latDev += (Math.abs(l - this.latMean) - this.latDev) * alpha;
    this.latMean += (l - this.latMean) * alpha;
  }

  private latencyBand(): number {
    // A floor on the deviation so a very steady baseline does not alert on noise.
    return this.latMean + this.o.k * Math.max(this.latDev, this.latMean * 0.25, 5);
  }

  private latencyAnomalous(value = this.latRecent): boolean {
    return this.latSamples > this.o.warmup && value > this.latencyBand();
  }

  private errorAnomalous(): boolean {
    return this.errRecent > Math.max(this.o.minErrorRate, this.errMean + this.o.k * this.errDev);
  }

  snapshot(): AnomalySnapshot {
    const reasons: string[] = [];
    let level: AlertLevel = 'ok';
    if (this.errorAnomalous()) {
      level = 'elevated';
      reasons.push(`failure rate ${(this.errRecent * 100).toFixed(0)}% (normal ${(this.errMean * 100).toFixed(1)}%)`);
    }
    if (this.latencyAnomalous()) {
      level = 'elevated';
      reasons.push(`latency ${Math.round(this.latRecent)} ms (normal ${Math.round(this.latMean)} ± ${Math.round(this.latDev)} ms)`);
    }
    if (this.errRecent >= this.o.criticalErrorRate) level = 'critical';
    return {
      level,
      reasons,
      latency: { baselineMs: Math.round(this.latMean), deviationMs: Math.round(this.latDev), recentMs: Math.round(this.latRecent) },
      errorRate: { baseline: round3(this.errMean), recent: round3(this.errRecent) },
      samples: this.samples,
    };
  }
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
