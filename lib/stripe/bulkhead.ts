// Concurrency caps with a bounded queue. The adaptive one follows the AdaptiveLimit (cockatiel's
// BulkheadPolicy has a fixed capacity and its queued calls cannot time out, so a queued shopper
// would wait without bound); the static one is cockatiel's, for a fixed cap.
import { bulkhead as cockatielBulkhead, BulkheadRejectedError, type BulkheadPolicy } from 'cockatiel';
import { StripeUnavailableError } from './errors';

export interface Bulkhead {
  execute<T>(fn: () => Promise<T>): Promise<T>;
  readonly active: number;
  readonly queued: number;
  readonly limit: number;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

export type RejectReason = 'queue_full' | 'queue_timeout' | 'queue_predicted' | 'stripe_failing';

/**
 * Shedding policy (issue #17 part 6): a caller who finds every slot taken waits in line, up to
 * `patienceMs` (how long a shopper will wait for "Pay" to answer), and is turned away only when
 * waiting cannot succeed: the line cannot drain within that patience at the observed latency
 * (Little's law), or Stripe is failing (the breaker is open), or the line is at its hard cap.
 * A slow but healthy Stripe therefore makes shoppers wait, not hear "busy".
 */
export class AdaptiveBulkhead implements Bulkhead {
  private activeCount = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    private readonly currentLimit: () => number,
    private readonly opts: {
      queueCapacity: number;
      /** Longest a queued caller waits for a slot (the shopper's patience). */
      patienceMs: number;
      /** Recent call latency: lets a caller who would surely time out in the queue hear "busy" now. */
      recentLatencyMs?: () => number;
      /** Stripe is failing (breaker not closed): queueing only delays the same "busy". */
      failing?: () => boolean;
      /** A caller had to queue (lets the limit follow demand). */
      onQueued?: () => void;
      onReject?: (why: RejectReason) => void;
    },
  ) {}

  get active(): number {
    return this.activeCount;
  }
  get queued(): number {
    return this.waiters.length;
  }
  get limit(): number {
    return this.currentLimit();
  }

  /** Little's law: with `limit` calls each taking ~latency, the n-th in line waits about n × latency / limit. */
  expectedWaitMs(position: number): number {
    const latency = this.opts.recentLatencyMs?.() ?? 0;
    return (position * latency) / Math.max(1, this.currentLimit());
  }

  async execute<T>(fn: () => Promise<T>): Promise<T> {
    if (this.activeCount < this.currentLimit() && this.waiters.length === 0) {
      this.activeCount++;
    } else {
      if (this.opts.failing?.()) {
        this.opts.onReject?.('stripe_failing');
        throw new StripeUnavailableError('Stripe is failing; not queueing more payments', 'circuit_open', 2_000);
      }
      if (this.waiters.length >= this.opts.queueCapacity) {
        this.opts.onReject?.('queue_full');
        throw new StripeUnavailableError('Too many payments in progress', 'busy', 2_000);
      }
      const expectedWait = this.expectedWaitMs(this.waiters.length + 1);
      if (expectedWait > this.opts.patienceMs) {
        this.opts.onReject?.('queue_predicted');
        throw new StripeUnavailableError('Payments are queueing up', 'busy', Math.min(10_000, Math.max(1_000, Math.round(expectedWait))));
      }
      await new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          resolve,
          reject,
          timer: setTimeout(() => {
            const i = this.waiters.indexOf(waiter);
            if (i >= 0) this.waiters.splice(i, 1);
            this.opts.onReject?.('queue_timeout');
            reject(new StripeUnavailableError('Payments are queueing up', 'busy', 2_000));
          }, this.opts.patienceMs),
        };
        this.waiters.push(waiter);
        // May raise the limit, which pumps this very waiter in.
        this.opts.onQueued?.();
      });
    }
    try {
      return await fn();
    } finally {
      this.activeCount--;
      this.pump();
    }
  }

  /** Admit queued calls while there is room (also call it when the limit grows). */
  pump(): void {
    while (this.waiters.length > 0 && this.activeCount < this.currentLimit()) {
      const w = this.waiters.shift()!;
      clearTimeout(w.timer);
      this.activeCount++;
      w.resolve();
    }
  }

  /** Stripe started failing: everyone in line hears "busy" now rather than at the end of their patience. */
  shed(): void {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      this.opts.onReject?.('stripe_failing');
      w.reject(new StripeUnavailableError('Stripe is failing; not sending more requests for a moment', 'circuit_open', 2_000));
    }
  }
}

export class StaticBulkhead implements Bulkhead {
  private readonly policy: BulkheadPolicy;
  constructor(
    readonly limit: number,
    private readonly queueCapacity: number,
  ) {
    this.policy = cockatielBulkhead(limit, queueCapacity);
  }
  get active(): number {
    return this.limit - this.policy.executionSlots;
  }
  get queued(): number {
    return this.queueCapacity - this.policy.queueSlots;
  }
  async execute<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.policy.execute(() => fn());
    } catch (err) {
      if (err instanceof BulkheadRejectedError) throw new StripeUnavailableError('Too many payments in progress', 'busy', 2_000);
      throw err;
    }
  }
}
