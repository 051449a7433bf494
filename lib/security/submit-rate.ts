// A per-process limit on how often checkout may be submitted, per cart and per client address,
// checked before any database or Stripe work. It bounds what one client hammering "Pay" costs
// the shop; the card-testing throttle (throttle.ts) bounds new attempts across instances.
// Per process on purpose: it costs nothing per request and needs no shared store; with N
// instances a client gets at most N times the limit.

export interface SubmitLimit {
  /** Submits allowed per window. */
  max: number;
  windowMs: number;
}

export const SUBMIT_LIMITS: { cart: SubmitLimit; address: SubmitLimit } = {
  // A shopper double-clicking, retrying and fixing a typo stays well inside.
  cart: { max: 10, windowMs: 10_000 },
  // Several shoppers behind one address (an office, a mobile carrier).
  address: { max: 60, windowMs: 10_000 },
};

/** Fixed-window counters keyed by string, pruned as they lapse. */
export class SubmitRateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly limits = SUBMIT_LIMITS) {}

  /** Counts a submit; null when allowed, else how long to wait. */
  take(subject: { cartId?: string | null; ip?: string | null }, now = Date.now()): { retryAfterMs: number } | null {
    const keys: [string, SubmitLimit][] = [];
    if (subject.cartId) keys.push([`cart:${subject.cartId}`, this.limits.cart]);
    if (subject.ip) keys.push([`ip:${subject.ip}`, this.limits.address]);
    if (this.windows.size > 50_000) this.prune(now);
    let wait = 0;
    for (const [key, limit] of keys) {
      const w = this.windows.get(key);
      if (w && now - w.start < limit.windowMs && w.count >= limit.max) wait = Math.max(wait, w.start + limit.windowMs - now);
    }
    if (wait > 0) return { retryAfterMs: wait };
    for (const [key, limit] of keys) {
      const w = this.windows.get(key);
      if (!w || now - w.start >= limit.windowMs) this.windows.set(key, { start: now, count: 1 });
      else w.count += 1;
    }
    return null;
  }

  private prune(now: number): void {
    const longest = Math.max(this.limits.cart.windowMs, this.limits.address.windowMs);
    for (const [k, w] of this.windows) if (now - w.start >= longest) this.windows.delete(k);
  }
}
