// A latency-adaptive concurrency limit in the style of Netflix's Gradient2
// (github.com/Netflix/concurrency-limits): a slow "long" RTT is the learned baseline, a fast
// "short" RTT is what Stripe is doing now. While short stays within `tolerance` × long, the
// limit grows by a queue allowance (√limit); when short climbs, the limit is scaled by
// long/short (at least halved each step); a 429 or a timeout cuts it multiplicatively at once
// (the AIMD part). Growth happens only while the limit is actually in use, so an idle night
// does not inflate it.

export interface AdaptiveLimitOptions {
  initial?: number;
  min?: number;
  max?: number;
  /** How far above the baseline latency may drift before the limit shrinks. */
  tolerance?: number;
  /** Multiplicative cut on a 429 or timeout. */
  backoffRatio?: number;
  /** Samples folded into the short-term RTT (EWMA window). */
  shortWindow?: number;
  /** Samples folded into the long-term baseline RTT. */
  longWindow?: number;
  /** Share of each new estimate applied per sample (smoothing). */
  smoothing?: number;
  /** At most one multiplicative cut per this many ms (one storm is one signal). */
  dropCooldownMs?: number;
  now?: () => number;
}

export interface LimitSample {
  rttMs: number;
  /** Calls in flight when this one started (including it). */
  inFlight: number;
  /** Stripe pushed back (429) or the call timed out. */
  dropped?: boolean;
}

export class AdaptiveLimit {
  private value: number;
  private shortRtt = 0;
  private longRtt = 0;
  private samples = 0;
  private lastDropAt = -Infinity;
  private readonly listeners = new Set<(limit: number) => void>();
  readonly min: number;
  readonly max: number;
  private readonly o: Required<Omit<AdaptiveLimitOptions, 'initial' | 'min' | 'max' | 'now'>>;
  private readonly now: () => number;

  constructor(opts: AdaptiveLimitOptions = {}) {
    this.min = opts.min ?? 2;
    this.max = opts.max ?? 40;
    this.value = Math.min(this.max, Math.max(this.min, opts.initial ?? 10));
    this.o = {
      tolerance: opts.tolerance ?? 2,
      backoffRatio: opts.backoffRatio ?? 0.7,
      shortWindow: opts.shortWindow ?? 5,
      longWindow: opts.longWindow ?? 500,
      smoothing: opts.smoothing ?? 0.2,
      dropCooldownMs: opts.dropCooldownMs ?? 250,
    };
    this.now = opts.now ?? (() => performance.now());
  }

  /** The current limit (whole calls). */
  get limit(): number {
    return Math.max(this.min, Math.floor(this.value));
  }

  /** Learned baseline and recent latency, for the ops panel. */
  get rtt(): { baselineMs: number; recentMs: number } {
    return { baselineMs: Math.round(this.longRtt), recentMs: Math.round(this.shortRtt) };
  }

  onChange(fn: (limit: number) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private set(next: number): void {
    const before = this.limit;
    this.value = Math.min(this.max, Math.max(this.min, next));
    if (this.limit !== before) for (const fn of this.listeners) fn(this.limit);
  }

  record(s: LimitSample): void {
    if (s.dropped) {
      const t = this.now();
      if (t - this.lastDropAt >= this.o.dropCooldownMs) {
        this.lastDropAt = t;
        this.set(this.value * this.o.backoffRatio);
      }
      if (!(s.rttMs > 0)) return;
    }
    if (!(s.rttMs >= 0) || !Number.isFinite(s.rttMs)) return;
    this.samples++;
    const rtt = Math.max(1, s.rttMs);
    if (this.samples === 1) {
      this.shortRtt = rtt;
      this.longRtt = rtt;
    } else {
      this.shortRtt += (rtt - this.shortRtt) * (2 / (this.o.shortWindow + 1));
      this.longRtt += (rtt - this.longRtt) * (2 / (this.o.longWindow + 1));
    }
    // After a long slowdown the baseline has drifted up; once things are fast again let it
    // fall back quickly instead of over hundreds of samples (as Gradient2 does).
    if (this.longRtt / this.shortRtt > 2) this.longRtt *= 0.95;
    if (s.dropped) return;
    // Warm-up: a few samples before trusting the baseline.
    if (this.samples < 5) return;

    const gradient = Math.max(0.5, Math.min(1, (this.o.tolerance * this.longRtt) / this.shortRtt));
    const inUse = s.inFlight >= this.value / 2;
    if (gradient >= 1 && !inUse) return;
    const queueAllowance = Math.sqrt(this.value);
    const estimate = gradient >= 1 ? this.value + queueAllowance : this.value * gradient;
    this.set(this.value * (1 - this.o.smoothing) + estimate * this.o.smoothing);
  }
}
