// What a failed Stripe call means for the gateway: is it the shopper's problem (card, input),
// Stripe pushing back (429, lock), or Stripe/network failing (5xx, timeout, reset)? Only the
// last kind counts against the circuit breaker; retries follow Stripe-Should-Retry first.

/** Stripe could not be reached or is shedding load: the caller shows a calm "try again". */
// Next.js bundles a module once per route, while the gateway is one per process (globalThis):
// an error thrown by the gateway built in one bundle is not an instance of another bundle's
// copy of this class. The brand lives in the global symbol registry, so `instanceof` holds
// across copies (the order page crashed instead of saying "Stripe is busy").
const BRAND = Symbol.for('brisk.StripeUnavailableError');

export class StripeUnavailableError extends Error {
  readonly [BRAND] = true;
  constructor(
    message: string,
    public readonly reason: 'timeout' | 'connection' | 'server_error' | 'rate_limited' | 'circuit_open' | 'busy',
    public readonly retryAfterMs = 5_000,
  ) {
    super(message);
    this.name = 'StripeUnavailableError';
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** Our own per-attempt deadline passed before Stripe answered. */
export class StripeAttemptTimeoutError extends Error {
  readonly type = 'StripeAttemptTimeout';
  constructor(public readonly timeoutMs: number) {
    super(`Stripe did not answer within ${timeoutMs} ms`);
    this.name = 'StripeAttemptTimeoutError';
  }
}

export type Outcome =
  | 'ok'
  | 'card_error'
  | 'invalid'
  | 'auth_error'
  | 'rate_limited'
  | 'conflict'
  | 'server_error'
  | 'timeout'
  | 'connection'
  | 'rejected'
  | 'error';

interface StripeLikeError {
  type?: string;
  statusCode?: number;
  code?: string;
  message?: string;
  requestId?: string;
  headers?: Record<string, string | undefined>;
}

export interface Classified {
  outcome: Outcome;
  /** Safe to send again (with the same idempotency key): Stripe or the network said "transient". */
  retryable: boolean;
  /** Evidence that Stripe or the path to it is failing (opens the breaker). */
  breakerFailure: boolean;
  /** Stripe-Should-Retry, when Stripe sent it. */
  shouldRetry?: boolean;
}

export function classify(err: unknown): Classified {
  if (err instanceof StripeUnavailableError) return { outcome: 'rejected', retryable: false, breakerFailure: false };
  if (err instanceof StripeAttemptTimeoutError) return { outcome: 'timeout', retryable: true, breakerFailure: true };
  const e = (err ?? {}) as StripeLikeError;
  const header = e.headers?.['stripe-should-retry'];
  const shouldRetry = header === 'true' ? true : header === 'false' ? false : undefined;
  let outcome: Outcome;
  if (e.type === 'StripeConnectionError') outcome = /timed? ?out|timeout/i.test(e.message ?? '') ? 'timeout' : 'connection';
  else if (e.type === 'StripeCardError') outcome = 'card_error';
  else if (e.statusCode === 429 || e.code === 'rate_limit' || e.type === 'StripeRateLimitError') outcome = 'rate_limited';
  else if (e.statusCode === 409 || e.code === 'lock_timeout') outcome = 'conflict';
  else if (e.type === 'StripeAuthenticationError' || e.type === 'StripePermissionError' || e.statusCode === 401 || e.statusCode === 403) outcome = 'auth_error';
  else if ((e.statusCode ?? 0) >= 500) outcome = 'server_error';
  else if (e.type === 'StripeInvalidRequestError' || e.type === 'StripeIdempotencyError' || (e.statusCode ?? 0) >= 400) outcome = 'invalid';
  else outcome = 'error';
  const transient = outcome === 'timeout' || outcome === 'connection' || outcome === 'rate_limited' || outcome === 'conflict' || outcome === 'server_error';
  return {
    outcome,
    // Stripe's own verdict wins over our guess, both ways.
    retryable: shouldRetry ?? transient,
    breakerFailure: outcome === 'timeout' || outcome === 'connection' || outcome === 'server_error',
    shouldRetry,
  };
}

export function toUnavailable(err: unknown, retryAfterMs = 5_000): StripeUnavailableError {
  if (err instanceof StripeUnavailableError) return err;
  const { outcome } = classify(err);
  const reason: StripeUnavailableError['reason'] =
    outcome === 'timeout' ? 'timeout' : outcome === 'connection' ? 'connection' : outcome === 'rate_limited' ? 'rate_limited' : 'server_error';
  return new StripeUnavailableError(`Stripe is not answering right now (${reason})`, reason, retryAfterMs);
}

/** Stripe's Request-Id from a response or an error, for logs and spans. */
export function stripeRequestId(resultOrError: unknown): string | undefined {
  const r = resultOrError as { lastResponse?: { requestId?: string }; requestId?: string } | null;
  return r?.lastResponse?.requestId ?? r?.requestId ?? undefined;
}
