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
  timer: NodeJS.Timeout;
}

export class AdaptiveBulkhead implements Bulkhead {
  private activeCount = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    private readonly currentLimit: () => number,
    private readonly opts: {
      queueCapacity: number;
      maxQueueWaitMs: number;
      /** Recent call latency: lets a caller who would surely time out in the queue hear "busy" now. */
      recentLatencyMs?: () => number;
      onReject?: (why: 'queue_full' | 'queue_timeout' | 'queue_predicted') => void;
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

  async execute<T>(fn: () => Promise<T>): Promise<T> {
    if (this.activeCount < this.currentLimit() && this.waiters.length === 0) {
      this.activeCount++;
    } else {
      if (this.waiters.length >= this.opts.queueCapacity) {
        this.opts.onReject?.('queue_full');
        throw new StripeUnavailableError('Too many payments in progress', 'busy', 2_000);
      }
      // Little's law: with `limit` calls each taking ~latency, the n-th in line waits about
      // n × latency / limit. If that exceeds the queue bound, waiting only delays the same answer.
      const latency = this.opts.recentLatencyMs?.() ?? 0;
      const expectedWait = ((this.waiters.length + 1) * latency) / Math.max(1, this.currentLimit());
      if (expectedWait > this.opts.maxQueueWaitMs) {
        this.opts.onReject?.('queue_predicted');
        throw new StripeUnavailableError('Payments are queueing up', 'busy', Math.min(10_000, Math.max(1_000, Math.round(expectedWait))));
      }
      await new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          resolve,
          timer: setTimeout(() => {
            const i = this.waiters.indexOf(waiter);
            if (i >= 0) this.waiters.splice(i, 1);
            this.opts.onReject?.('queue_timeout');
            reject(new StripeUnavailableError('Payments are queueing up', 'busy', 2_000));
          }, this.opts.maxQueueWaitMs),
        };
        this.waiters.push(waiter);
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
