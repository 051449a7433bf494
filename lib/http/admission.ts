// Admission control for the HTTP server (scripts/serve.ts): a bound on the requests the process
// works on at once, a short line for the rest, and a quick "busy" (503 with Retry-After) for a
// request that could not be served within a shopper's patience anyway.
//
// Without it an overloaded process takes every connection it is offered: requests queue inside
// Node, the listen backlog fills, new connections time out after 30 s and even /api/health goes
// unanswered (the soak in bench/RESULTS.md, issue #17). With it, the work in progress stays
// bounded, the request that must wait is told at once when waiting cannot succeed (the same rule
// the Stripe gateway uses for its own queue), Stripe retries a webhook answered 503, and the
// checkout keeps the shopper's cart and offers a calm retry.
//
// Pure: the clock is passed in, so the rules are tested on a fake clock (admission.test.ts).
import { z } from 'zod';

export interface AdmissionSettings {
  /** Requests worked on at once. */
  maxInFlight: number;
  /** Requests waiting for a slot; one more is refused at once. */
  maxQueue: number;
  /** How long a request may wait for a slot (a shopper's patience) before it is answered busy. */
  queueTimeoutMs: number;
}

export const AdmissionEnvSchema = z.object({
  // 0 turns admission control off (every request is served at once, as before).
  HTTP_MAX_IN_FLIGHT: z.coerce.number().int().min(0).max(100_000).default(64),
  HTTP_MAX_QUEUE: z.coerce.number().int().min(0).max(1_000_000).default(1024),
  HTTP_QUEUE_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(8_000),
});

/** The settings from the environment; throws a message naming the bad variable. */
export function admissionSettingsFrom(env: Record<string, string | undefined>): AdmissionSettings | null {
  const parsed = AdmissionEnvSchema.safeParse({
    HTTP_MAX_IN_FLIGHT: env.HTTP_MAX_IN_FLIGHT || undefined,
    HTTP_MAX_QUEUE: env.HTTP_MAX_QUEUE || undefined,
    HTTP_QUEUE_TIMEOUT_MS: env.HTTP_QUEUE_TIMEOUT_MS || undefined,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${String(issue?.path[0])} ${issue?.message ?? 'is invalid'}`);
  }
  const s = parsed.data;
  if (s.HTTP_MAX_IN_FLIGHT === 0) return null;
  return { maxInFlight: s.HTTP_MAX_IN_FLIGHT, maxQueue: s.HTTP_MAX_QUEUE, queueTimeoutMs: s.HTTP_QUEUE_TIMEOUT_MS };
}

/**
 * Paths never held back: operators' health and metrics (an overloaded shop must still say so)
 * and Next's immutable static files (no database, no rendering).
 */
export function bypassesAdmission(path: string): boolean {
  return path === '/api/health' || path === '/api/metrics' || path.startsWith('/_next/static/') || path === '/favicon.ico';
}

export type ShedReason = 'queue_full' | 'wait_too_long' | 'timed_out';

export type Admitted = { ok: true; release: () => void } | { ok: false; reason: ShedReason; retryAfterSeconds: number };

interface Waiter {
  since: number;
  resolve: (a: Admitted) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

export interface AdmissionStats {
  inFlight: number;
  queued: number;
  serviceMsEstimate: number;
}

type Timers = {
  now: () => number;
  setTimeout: (fn: () => void, ms: number) => ReturnType<typeof setTimeout>;
  clearTimeout: (t: ReturnType<typeof setTimeout>) => void;
};

const realTimers: Timers = { now: () => performance.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t) };

export class Admission {
  private inFlight = 0;
  private readonly queue: Waiter[] = [];
  /** Smoothed time a request holds its slot (ms); starts optimistic so a cold server waits. */
  private serviceMs = 50;

  constructor(
    readonly settings: AdmissionSettings,
    private readonly timers: Timers = realTimers,
    private readonly onShed: (reason: ShedReason) => void = () => {},
  ) {}

  stats(): AdmissionStats {
    return { inFlight: this.inFlight, queued: this.queue.length, serviceMsEstimate: this.serviceMs };
  }

  /** How long the next request in line would wait, from the recent service time. */
  predictedWaitMs(position = this.queue.length + 1): number {
    return (position * this.serviceMs) / this.settings.maxInFlight;
  }

  private retryAfter(): number {
    return Math.min(30, Math.max(1, Math.ceil(this.predictedWaitMs() / 1000)));
  }

  private slot(): () => void {
    this.inFlight++;
    const started = this.timers.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      const took = this.timers.now() - started;
      this.serviceMs = this.serviceMs * 0.9 + took * 0.1;
      this.next();
    };
  }

  private shed(reason: ShedReason): Admitted {
    this.onShed(reason);
    return { ok: false, reason, retryAfterSeconds: this.retryAfter() };
  }

  private next(): void {
    while (this.inFlight < this.settings.maxInFlight && this.queue.length > 0) {
      const w = this.queue.shift()!;
      if (w.timer) this.timers.clearTimeout(w.timer);
      w.resolve({ ok: true, release: this.slot() });
    }
  }

  /** A slot now, a place in line, or busy at once when the line cannot reach us in time. */
  enter(): Admitted | Promise<Admitted> {
    if (this.inFlight < this.settings.maxInFlight && this.queue.length === 0) return { ok: true, release: this.slot() };
    if (this.queue.length >= this.settings.maxQueue) return this.shed('queue_full');
    if (this.predictedWaitMs() > this.settings.queueTimeoutMs) return this.shed('wait_too_long');
    return new Promise<Admitted>((resolve) => {
      const w: Waiter = { since: this.timers.now(), resolve, timer: null };
      w.timer = this.timers.setTimeout(() => {
        const i = this.queue.indexOf(w);
        if (i < 0) return;
        this.queue.splice(i, 1);
        resolve(this.shed('timed_out'));
      }, this.settings.queueTimeoutMs);
      this.queue.push(w);
    });
  }
}
