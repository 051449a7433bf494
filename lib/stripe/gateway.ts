// The one gate to Stripe. Every outbound call passes here: per-call timeout, retries with
// full jitter for idempotent requests only (honouring Stripe-Should-Retry), and a record of
// each call. Issue #6 grows this into the full resilience layer (breaker, bulkhead, adaptive limit).
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { createStripeClient, stripeSettingsFromEnv, type StripeSettings } from './client';

export type Operation =
  | 'payment_intents.create'
  | 'payment_intents.retrieve'
  | 'payment_intents.update'
  | 'payment_intents.cancel'
  | 'payment_intents.list'
  | 'refunds.create'
  | 'refunds.list'
  | 'charges.retrieve'
  | 'events.list';

/** Stripe could not be reached or is shedding load: the caller shows a calm "try again". */
export class StripeUnavailableError extends Error {
  constructor(
    message: string,
    public readonly reason: 'timeout' | 'connection' | 'server_error' | 'rate_limited' | 'circuit_open' | 'busy',
    public readonly retryAfterMs = 5_000,
  ) {
    super(message);
    this.name = 'StripeUnavailableError';
  }
}

export interface CallRecord {
  operation: Operation;
  outcome: 'ok' | 'card_error' | 'invalid' | 'retryable' | 'error';
  durationMs: number;
  attempt: number;
  requestId?: string;
}

export interface GatewayOptions {
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  onCall?: (record: CallRecord) => void;
}

interface CallOptions {
  idempotencyKey?: string;
}

function isRetryable(err: unknown): boolean {
  const e = err as { type?: string; statusCode?: number; code?: string; headers?: Record<string, string> };
  const should = e.headers?.['stripe-should-retry'];
  if (should === 'false') return false;
  if (should === 'true') return true;
  if (e.type === 'StripeConnectionError') return true;
  if (e.statusCode === 409) return true;
  if (e.statusCode === 429 || e.code === 'rate_limit' || e.code === 'lock_timeout') return true;
  return (e.statusCode ?? 0) >= 500;
}

function outcomeOf(err: unknown): CallRecord['outcome'] {
  const e = err as { type?: string };
  if (e.type === 'StripeCardError') return 'card_error';
  if (e.type === 'StripeInvalidRequestError' || e.type === 'StripeIdempotencyError') return 'invalid';
  return isRetryable(err) ? 'retryable' : 'error';
}

function toUnavailable(err: unknown): StripeUnavailableError {
  const e = err as { type?: string; statusCode?: number; code?: string; message?: string };
  const reason: StripeUnavailableError['reason'] =
    e.type === 'StripeConnectionError' ? (/timed? ?out/i.test(e.message ?? '') ? 'timeout' : 'connection') : e.statusCode === 429 || e.code === 'rate_limit' ? 'rate_limited' : 'server_error';
  return new StripeUnavailableError(`Stripe is not answering right now (${reason})`, reason);
}

export class StripeGateway {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly stripe: Stripe,
    private readonly opts: GatewayOptions = {},
  ) {
    this.maxAttempts = opts.maxAttempts ?? 3;
    this.baseDelayMs = opts.baseDelayMs ?? 250;
    this.maxDelayMs = opts.maxDelayMs ?? 2_000;
  }

  private async call<T>(operation: Operation, fn: (requestOptions: Stripe.RequestOptions) => Promise<T>, options: CallOptions & { safe: boolean }): Promise<T> {
    // Writes are retried only under an idempotency key; reads are always safe to repeat.
    const canRetry = options.safe || Boolean(options.idempotencyKey);
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        const result = await fn(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {});
        this.opts.onCall?.({ operation, outcome: 'ok', durationMs: performance.now() - started, attempt, requestId: (result as { lastResponse?: { requestId?: string } })?.lastResponse?.requestId });
        return result;
      } catch (err) {
        const outcome = outcomeOf(err);
        this.opts.onCall?.({ operation, outcome, durationMs: performance.now() - started, attempt, requestId: (err as { requestId?: string }).requestId });
        if (outcome !== 'retryable') throw err;
        if (!canRetry || attempt >= this.maxAttempts) throw toUnavailable(err);
        // Full jitter: a random delay up to the exponential cap spreads retries of many shoppers.
        const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
        await new Promise((r) => setTimeout(r, Math.random() * cap));
      }
    }
  }

  createPaymentIntent(params: Stripe.PaymentIntentCreateParams, o: { idempotencyKey: string }): Promise<Stripe.PaymentIntent> {
    return this.call('payment_intents.create', (ro) => this.stripe.paymentIntents.create(params, ro), { ...o, safe: false });
  }

  retrievePaymentIntent(id: string): Promise<Stripe.PaymentIntent> {
    return this.call('payment_intents.retrieve', () => this.stripe.paymentIntents.retrieve(id, { expand: ['latest_charge'] }), { safe: true });
  }

  cancelPaymentIntent(id: string, o: { idempotencyKey: string }): Promise<Stripe.PaymentIntent> {
    return this.call('payment_intents.cancel', (ro) => this.stripe.paymentIntents.cancel(id, {}, ro), { ...o, safe: false });
  }

  createRefund(params: Stripe.RefundCreateParams, o: { idempotencyKey: string }): Promise<Stripe.Refund> {
    return this.call('refunds.create', (ro) => this.stripe.refunds.create(params, ro), { ...o, safe: false });
  }

  retrieveCharge(id: string): Promise<Stripe.Charge> {
    return this.call('charges.retrieve', () => this.stripe.charges.retrieve(id), { safe: true });
  }

  listPaymentIntents(params: Stripe.PaymentIntentListParams): Promise<Stripe.ApiList<Stripe.PaymentIntent>> {
    return this.call('payment_intents.list', () => this.stripe.paymentIntents.list(params), { safe: true });
  }

  listRefunds(params: Stripe.RefundListParams): Promise<Stripe.ApiList<Stripe.Refund>> {
    return this.call('refunds.list', () => this.stripe.refunds.list(params), { safe: true });
  }

  /** Verifies a webhook payload's signature against any of the given secrets (rotation overlap). */
  constructEvent(payload: string, signature: string, secrets: string[], toleranceSeconds = 300): Stripe.Event {
    let lastError: unknown;
    for (const secret of secrets) {
      try {
        return this.stripe.webhooks.constructEvent(payload, signature, secret, toleranceSeconds);
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError ?? new Error('No webhook secret configured');
  }
}

const globalForGateway = globalThis as unknown as { __briskGateway?: StripeGateway };

/** The process-wide gateway, built once from the environment. */
export function stripeGateway(settings?: StripeSettings): StripeGateway {
  globalForGateway.__briskGateway ??= new StripeGateway(createStripeClient(settings ?? stripeSettingsFromEnv()));
  return globalForGateway.__briskGateway;
}

export function newRequestId(): string {
  return randomUUID();
}
