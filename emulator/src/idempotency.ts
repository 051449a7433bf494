// Idempotency-Key handling as Stripe does it: per API key, POST only, at most 255 characters,
// kept 24 hours of emulator time. A key is reserved while its request runs (a second use gets
// 409) and holds the saved response once the request has begun executing; requests that fail
// validation release it, so a corrected retry with the same key runs.
import type { Clock } from './clock';
import { errors } from './errors';
import type { Store } from './store';
import type { IdempotencyEntry } from './types';

export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

export type IdempotencyOutcome = { kind: 'new'; entry: IdempotencyEntry } | { kind: 'replay'; entry: IdempotencyEntry };

export class Idempotency {
  private sweepCounter = 0;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /**
   * Looks the key up; reserves it when new. Throws the Stripe error for a key that is too long,
   * still in use, or was used with other parameters or another endpoint.
   */
  begin(apiKey: string, key: string, method: string, path: string, fingerprint: string): IdempotencyOutcome {
    if (key.length > IDEMPOTENCY_KEY_MAX_LENGTH) throw errors.idempotencyKeyTooLong();
    const id = `${apiKey}\u0000${key}`;
    const now = this.clock.now();
    if (++this.sweepCounter >= 1000) {
      this.sweepCounter = 0;
      this.sweep(now);
    }
    const existing = this.store.idempotency.get(id);
    if (existing && now - existing.createdAt < IDEMPOTENCY_TTL_MS) {
      if (existing.state === 'in_flight') throw errors.idempotencyKeyInUse();
      if (existing.method !== method || existing.path !== path) {
        throw errors.idempotencyEndpointMismatch(key, `${existing.method} ${existing.path}`, `${method} ${path}`);
      }
      if (existing.fingerprint !== fingerprint) throw errors.idempotencyParamsMismatch(key);
      return { kind: 'replay', entry: existing };
    }
    if (existing) this.store.deleteIdempotency(id);
    const entry: IdempotencyEntry = {
      id,
      key,
      method,
      path,
      fingerprint,
      createdAt: now,
      state: 'in_flight',
      status: 0,
      body: '',
      headers: {},
    };
    this.store.saveIdempotency(entry);
    return { kind: 'new', entry };
  }

  complete(entry: IdempotencyEntry, status: number, body: string, headers: Record<string, string>): void {
    entry.state = 'done';
    entry.status = status;
    entry.body = body;
    entry.headers = headers;
    this.store.saveIdempotency(entry);
  }

  /** The request never began executing: forget the key entirely. */
  release(entry: IdempotencyEntry): void {
    if (this.store.idempotency.get(entry.id) === entry) this.store.deleteIdempotency(entry.id);
  }

  private sweep(now: number): void {
    // Map iteration is insertion order, which is (nearly) creation order.
    for (const [id, entry] of this.store.idempotency) {
      if (now - entry.createdAt < IDEMPOTENCY_TTL_MS) break;
      if (entry.state === 'done') this.store.deleteIdempotency(id);
    }
  }
}
