// An adaptive concurrency limit for calls to Stripe. It learns a slow "long" RTT (the
// baseline) and a fast "short" RTT (what Stripe is doing now), as Netflix's Gradient2 does
// (github.com/Netflix/concurrency-limits), but only a push-back shrinks it: a 429 or a timeout
// cuts it multiplicatively at once (the AIMD part). While calls succeed the limit grows by a
// queue allowance (√limit) when it is in use, and by one per call that has to queue (demand),
// so a pure latency spike raises the concurrency Little's law needs (rate × latency) instead of
// cutting it: Stripe slow but up is not Stripe overloaded by us, and shoppers would rather wait
// 2 s than hear "busy" (issue #17 part 6). Growth happens only under demand, so an idle night
// does not inflate it. `shrinkOnLatency: true` restores Gradient2's latency cut (scaling the
// limit by tolerance × long / short, at least halved per step).

export interface AdaptiveLimitOptions {
  initial?: number;
  min?: number;
  max?: number;
  /** How far above the baseline latency may drift before the limit shrinks (shrinkOnLatency only). */
  tolerance?: number;
  /** Shrink the limit when latency climbs above tolerance × baseline (Gradient2). Default false. */
  shrinkOnLatency?: boolean;
  /** After a push-back (429 / timeout), demand does not grow the limit for this long. */
  demandHoldMs?: number;
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
      shrinkOnLatency: opts.shrinkOnLatency ?? false,
      demandHoldMs: opts.demandHoldMs ?? 2_000,
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

  /**
   * A call found every slot taken and had to queue: more concurrency is wanted. Grow by one,
   * unless Stripe pushed back recently (then the cut stands and the queue's patience rules).
   */
  demand(): void {
    if (this.now() - this.lastDropAt < this.o.demandHoldMs) return;
    if (this.value < this.max) this.set(Math.floor(this.value) + 1);
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

    const gradient = this.o.shrinkOnLatency ? Math.max(0.5, Math.min(1, (this.o.tolerance * this.longRtt) / this.shortRtt)) : 1;
    const inUse = s.inFlight >= this.value / 2;
    if (gradient >= 1 && !inUse) return;
    const queueAllowance = Math.sqrt(this.value);
    const estimate = gradient >= 1 ? this.value + queueAllowance : this.value * gradient;
    this.set(this.value * (1 - this.o.smoothing) + estimate * this.o.smoothing);
  }
}
