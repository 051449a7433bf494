// The one gate to Stripe (DESIGN principle 6). Every outbound call passes, per attempt:
//   circuit breaker → concurrency cap (adaptive, bounded queue) → rate budget → timeout → SDK
// and, around all attempts, retries with exponential backoff and full jitter for requests that
// are safe to repeat (reads, or writes under an idempotency key), honouring Stripe-Should-Retry.
// Each attempt feeds the adaptive limit, the anomaly detector, metrics, a span and a log line.
// Failures that are Stripe's or the network's become StripeUnavailableError, which checkout
// turns into a calm "payments are busy" (principle 7); card and request errors pass through.
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import {
  BrokenCircuitError,
  CircuitBreakerPolicy,
  ConstantBackoff,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  IsolatedCircuitError,
  SamplingBreaker,
  TaskCancelledError,
  TimeoutStrategy,
  circuitBreaker,
  fullJitterGenerator,
  handleWhen,
  retry,
  timeout,
  type IBackoffFactory,
  type IBreaker,
} from 'cockatiel';
import type { Logger } from 'pino';
import type Stripe from 'stripe';
import { metrics } from '@/lib/observability/metrics';
import { logger as appLogger } from '@/lib/observability/logger';
import { currentRequestId, withRequestContext } from '@/lib/observability/request-context';
import { tracer } from '@/lib/observability/tracing';
import { AdaptiveLimit, type AdaptiveLimitOptions } from './adaptive-limit';
import { AnomalyDetector, type AlertLevel, type AnomalyOptions } from './anomaly';
import { AdaptiveBulkhead, StaticBulkhead, type Bulkhead } from './bulkhead';
import type { CallStatsRecorder } from './call-stats';
import { classify, StripeAttemptTimeoutError, StripeUnavailableError, stripeRequestId, toUnavailable, type Outcome } from './errors';
import { BUDGET_HEADER, createRateBudget, unlimitedBudget, type BudgetGrant, type RateBudget } from './rate-budget';

/** Each request names the budget grant it was paced by, so a counter in front of Stripe can check the budget on its own clock and windows. */
function grantHeader(grant: BudgetGrant | void): { headers?: Record<string, string> } {
  return grant ? { headers: { [BUDGET_HEADER]: `${grant.grantedAt}/${grant.windowEndsAt}` } } : {};
}

export { StripeUnavailableError } from './errors';
export type { Outcome } from './errors';

export type Operation =
  | 'payment_intents.create'
  | 'payment_intents.retrieve'
  | 'payment_intents.confirm'
  | 'payment_intents.update'
  | 'payment_intents.cancel'
  | 'payment_intents.list'
  | 'refunds.create'
  | 'refunds.list'
  | 'charges.retrieve'
  | 'events.list'
  | 'probe';

export interface CallRecord {
  operation: Operation;
  outcome: Outcome;
  durationMs: number;
  attempt: number;
  requestId?: string;
  statusCode?: number;
}

export interface BreakerOptions {
  /** Opens after this many failures in a row. */
  consecutiveFailures?: number;
  /** …or when this share of calls fail within `windowMs` (with at least `minimumRps`). */
  failureRatio?: number;
  windowMs?: number;
  minimumRps?: number;
  /** First probe this long after opening; doubling per failed probe up to halfOpenMaxMs. */
  halfOpenAfterMs?: number;
  halfOpenMaxMs?: number;
}

export type ConcurrencyOptions =
  | ({
      mode?: 'adaptive';
      queueCapacity?: number;
      /**
       * A shopper's patience: the longest a call waits in line for a slot (default 8 s). A call is
       * refused up front only when the line cannot drain within it at the observed latency.
       */
      patienceMs?: number;
      /** @deprecated the old name of patienceMs. */
      maxQueueWaitMs?: number;
    } & AdaptiveLimitOptions)
  | { mode: 'static'; limit: number; queueCapacity?: number };

export interface GatewayOptions {
  /** Attempts per logical call (first try included) when it is safe to repeat. */
  maxAttempts?: number;
  attemptsByOperation?: Partial<Record<Operation, number>>;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Plain fixed-delay retries instead of exponential full jitter (benchmark baseline only). */
  retryBackoff?: 'full_jitter' | 'constant';
  /** Per-attempt timeout. */
  timeoutMs?: number;
  /** Whole logical call, retries included: no retry starts after it. */
  deadlineMs?: number;
  /** false: no breaker (benchmark baseline). */
  breaker?: BreakerOptions | false;
  concurrency?: ConcurrencyOptions;
  /** The outbound rate budget; false: none. Default: in-memory, 80% of the test-mode limit. */
  budget?: RateBudget | false;
  budgetMaxWaitMs?: number;
  anomaly?: AnomalyOptions;
  onCall?: (record: CallRecord) => void;
  stats?: CallStatsRecorder;
  logger?: Logger;
  /** Record into the process metrics registry (the app's gateway does; test gateways may not). */
  recordMetrics?: boolean;
}

interface CallOptions {
  idempotencyKey?: string;
}

export interface GatewayState {
  breaker: 'closed' | 'open' | 'half_open';
  /** Current concurrency limit (adaptive, or the fixed cap). */
  limit: number;
  inFlight: number;
  queued: number;
  alert: AlertLevel;
  alertReasons: string[];
  budgetPerSecond: number;
  budgetStore: 'memory' | 'postgres' | 'none';
  concurrency: 'adaptive' | 'static';
  latency: { baselineMs: number; recentMs: number; deviationMs: number };
  errorRate: { recent: number; baseline: number };
  /** When the breaker last opened (ISO), and when it probes next. */
  breakerOpenedAt: string | null;
  nextProbeInMs: number | null;
  updatedAt: string;
}

const BREAKER_STATE: Record<CircuitState, GatewayState['breaker']> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half_open',
  [CircuitState.Isolated]: 'open',
};

/** Opens on a run of consecutive failures or on a failure ratio, whichever comes first. */
class EitherBreaker implements IBreaker {
  constructor(
    private readonly a: IBreaker,
    private readonly b: IBreaker,
  ) {}
  get state(): unknown {
    return [this.a.state, this.b.state];
  }
  set state(v: unknown) {
    const [a, b] = v as [unknown, unknown];
    this.a.state = a;
    this.b.state = b;
  }
  success(s: CircuitState): void {
    this.a.success(s);
    this.b.success(s);
  }
  failure(s: CircuitState): boolean {
    const a = this.a.failure(s);
    const b = this.b.failure(s);
    return a || b;
  }
}

/**
 * The SDK hangs the raw HTTP response (`lastResponse`: Node's IncomingMessage, and through it the
 * socket) on every object it returns, as a property that cannot be deleted. Its request id is
 * logged above; past the gateway nobody needs it, and an object kept for a while (a shared
 * PaymentIntent creation, a cached read) would keep the whole response alive. A shallow copy
 * leaves the non-enumerable property behind.
 */
export function withoutRawResponse<T>(result: T): T {
  return result !== null && typeof result === 'object' && 'lastResponse' in result && !Array.isArray(result) ? ({ ...result } as T) : result;
}

const NOT_RETRIED_ERROR_OUTCOMES = new Set<Outcome>(['card_error', 'invalid', 'auth_error', 'error']);

export class StripeGateway {
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private readonly deadlineMs: number;
  private readonly budgetMaxWaitMs: number;
  private readonly backoff: IBackoffFactory<unknown>;
  private readonly breaker: CircuitBreakerPolicy | null;
  private readonly breakerOpts: Required<BreakerOptions>;
  private readonly limiter: AdaptiveLimit | null;
  private readonly bulkhead: Bulkhead;
  private readonly budget: RateBudget;
  private readonly anomaly: AnomalyDetector;
  private readonly log: Logger;
  private readonly recordMetrics: boolean;
  private probeTimer: NodeJS.Timeout | null = null;
  private probeAt: number | null = null;
  private openedAt: number | null = null;
  private failedProbes = 0;
  private closed = false;

  constructor(
    private readonly stripe: Stripe,
    private readonly opts: GatewayOptions = {},
  ) {
    this.maxAttempts = opts.maxAttempts ?? 3;
    this.timeoutMs = opts.timeoutMs ?? 8_000;
    this.deadlineMs = opts.deadlineMs ?? 15_000;
    this.budgetMaxWaitMs = opts.budgetMaxWaitMs ?? 1_500;
    const base = opts.baseDelayMs ?? 250;
    const maxDelay = opts.maxDelayMs ?? 2_000;
    this.backoff = opts.retryBackoff === 'constant' ? new ConstantBackoff(base) : new ExponentialBackoff({ generator: fullJitterGenerator, initialDelay: base, maxDelay });
    this.log = (opts.logger ?? appLogger()).child({ component: 'stripe-gateway' });
    this.recordMetrics = opts.recordMetrics ?? true;
    this.anomaly = new AnomalyDetector(opts.anomaly);
    this.budget = opts.budget === false ? unlimitedBudget : (opts.budget ?? createRateBudget({ mode: 'test', secretKey: 'default' }));

    const c = opts.concurrency ?? {};
    if (c.mode === 'static') {
      this.limiter = null;
      this.bulkhead = new StaticBulkhead(c.limit, c.queueCapacity ?? 1_000);
    } else {
      const limiter = new AdaptiveLimit(c);
      this.limiter = limiter;
      const bulkhead = new AdaptiveBulkhead(() => limiter.limit, {
        queueCapacity: c.queueCapacity ?? 400,
        patienceMs: c.patienceMs ?? c.maxQueueWaitMs ?? 8_000,
        recentLatencyMs: () => limiter.rtt.recentMs,
        // Shed only when waiting cannot succeed: Stripe failing, or the line too long to drain.
        failing: () => this.breaker !== null && this.breaker.state !== CircuitState.Closed,
        onQueued: () => limiter.demand(),
        onReject: (why) => this.metric((m) => m.stripeRejections.inc({ reason: why })),
      });
      limiter.onChange((limit) => {
        bulkhead.pump();
        this.metric((m) => m.stripeConcurrencyLimit.set(limit));
      });
      this.bulkhead = bulkhead;
    }

    this.breakerOpts = {
      consecutiveFailures: 5,
      failureRatio: 0.5,
      windowMs: 10_000,
      minimumRps: 2,
      halfOpenAfterMs: 500,
      // A probe is one cheap read; probing often keeps recovery within ~2 s of Stripe's return.
      halfOpenMaxMs: 2_000,
      ...(opts.breaker || {}),
    };
    if (opts.breaker === false) {
      this.breaker = null;
    } else {
      const b = this.breakerOpts;
      this.breaker = circuitBreaker(
        handleWhen((err) => classify(err).breakerFailure),
        {
          // Only the gateway's own probe enters once open (shoppers fail fast), so cockatiel may
          // half-open as soon as the probe asks.
          halfOpenAfter: 0,
          breaker: new EitherBreaker(
            new ConsecutiveBreaker(b.consecutiveFailures),
            new SamplingBreaker({ threshold: b.failureRatio, duration: b.windowMs, minimumRps: b.minimumRps }),
          ),
        },
      );
      let previous = CircuitState.Closed;
      this.breaker.onStateChange((state) => {
        const to = BREAKER_STATE[state];
        // Re-opened from half-open: the probe failed, so the next one waits longer.
        if (state === CircuitState.Open && previous === CircuitState.HalfOpen) this.failedProbes++;
        previous = state;
        this.metric((m) => {
          m.stripeBreakerTransitions.inc({ to });
          m.stripeBreakerState.set(state === CircuitState.Closed ? 0 : state === CircuitState.HalfOpen ? 1 : 2);
        });
        if (state === CircuitState.Open) {
          this.openedAt ??= Date.now();
          // Those waiting in line would only reach an open breaker: tell them now.
          if (this.bulkhead instanceof AdaptiveBulkhead) this.bulkhead.shed();
          this.log.warn({ breaker: to, failedProbes: this.failedProbes }, 'Stripe circuit breaker opened: failing fast');
          this.scheduleProbe();
        } else if (state === CircuitState.Closed) {
          this.log.info({ breaker: to, openForMs: this.openedAt ? Date.now() - this.openedAt : 0 }, 'Stripe circuit breaker closed');
          this.openedAt = null;
          this.failedProbes = 0;
        }
      });
    }
  }

  private metric(fn: (m: ReturnType<typeof metrics>) => void): void {
    if (this.recordMetrics) fn(metrics());
  }

  // ---- breaker probing ----

  private scheduleProbe(): void {
    if (this.closed || this.probeTimer) return;
    const b = this.breakerOpts;
    const delay = Math.min(b.halfOpenMaxMs, b.halfOpenAfterMs * 2 ** this.failedProbes);
    this.probeAt = Date.now() + delay;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      void this.probe();
    }, delay);
    this.probeTimer.unref();
  }

  /** One cheap, safe read decides whether Stripe is back; shoppers are never the test call. */
  private async probe(): Promise<void> {
    if (!this.breaker || this.closed) return;
    const started = performance.now();
    try {
      const grant = await this.budget.take(this.timeoutMs);
      await this.breaker.execute(() =>
        this.withTimeout(
          () => this.stripe.paymentIntents.list({ limit: 1 }, { timeout: this.probeTimeout() + 500, ...grantHeader(grant) }),
          this.probeTimeout(),
        ),
      );
      this.recordAttempt('probe', 1, started, null, undefined, 1);
    } catch (err) {
      this.recordAttempt('probe', 1, started, err, undefined, 1);
      // Still open (the failed probe re-opened it, or it never got to run): try again later.
      if (this.breaker.state === CircuitState.Open) this.scheduleProbe();
    }
  }

  private probeTimeout(): number {
    return Math.min(this.timeoutMs, 3_000);
  }

  // ---- the pipeline ----

  private withTimeout<T>(fn: () => Promise<T>, ms: number): Promise<T> {
    return timeout(ms, TimeoutStrategy.Aggressive)
      .execute(() => fn())
      .catch((err: unknown) => {
        throw err instanceof TaskCancelledError ? new StripeAttemptTimeoutError(ms) : err;
      });
  }

  private circuitOpenError(): StripeUnavailableError {
    const wait = this.probeAt ? Math.max(1_000, this.probeAt - Date.now() + 500) : 2_000;
    return new StripeUnavailableError('Stripe is failing; not sending more requests for a moment', 'circuit_open', wait);
  }

  private attemptsFor(operation: Operation): number {
    return Math.max(1, this.opts.attemptsByOperation?.[operation] ?? this.maxAttempts);
  }

  private async call<T>(operation: Operation, fn: (requestOptions: Stripe.RequestOptions) => Promise<T>, options: CallOptions & { safe: boolean }): Promise<T> {
    return withRequestContext(() => this.run(operation, fn, options));
  }

  private async run<T>(operation: Operation, fn: (requestOptions: Stripe.RequestOptions) => Promise<T>, options: CallOptions & { safe: boolean }): Promise<T> {
    const started = performance.now();
    // Writes are repeated only under an idempotency key; reads are always safe to repeat.
    const canRetry = options.safe || Boolean(options.idempotencyKey);
    const maxAttempts = canRetry ? this.attemptsFor(operation) : 1;
    const span = tracer().startSpan(`stripe ${operation}`, {
      kind: SpanKind.CLIENT,
      attributes: { 'stripe.operation': operation, 'stripe.idempotent': Boolean(options.idempotencyKey), 'brisk.request_id': currentRequestId() ?? '' },
    });
    let attempts = 0;
    const policy = retry(
      handleWhen((err) => classify(err).retryable && performance.now() - started < this.deadlineMs),
      { maxAttempts: maxAttempts - 1, backoff: this.backoff },
    );
    policy.onRetry(({ delay, ...reason }) => {
      const outcome = 'error' in reason ? classify(reason.error).outcome : 'error';
      this.metric((m) => m.stripeRetries.inc({ operation, reason: outcome }));
      this.log.info({ operation, attempt: attempts, outcome, delayMs: Math.round(delay) }, 'retrying Stripe call');
    });
    try {
      const result = await policy.execute(() => {
        attempts++;
        return this.attempt(operation, fn, options, attempts, span, started);
      });
      const stripeId = stripeRequestId(result);
      span.setAttributes({ 'stripe.outcome': 'ok', 'stripe.attempts': attempts, ...(stripeId ? { 'stripe.request_id': stripeId } : {}) });
      this.metric((m) => m.stripeOperations.inc({ operation, result: 'ok' }));
      this.log.info({ operation, outcome: 'ok', attempts, durationMs: Math.round(performance.now() - started), stripeRequestId: stripeId }, 'Stripe call');
      return withoutRawResponse(result);
    } catch (err) {
      const c = classify(err);
      const stripeId = stripeRequestId(err);
      span.setAttributes({ 'stripe.outcome': c.outcome, 'stripe.attempts': attempts, ...(stripeId ? { 'stripe.request_id': stripeId } : {}) });
      this.metric((m) => m.stripeOperations.inc({ operation, result: c.outcome }));
      const fields = { operation, outcome: c.outcome, attempts, durationMs: Math.round(performance.now() - started), stripeRequestId: stripeId, code: (err as { code?: string }).code };
      if (NOT_RETRIED_ERROR_OUTCOMES.has(c.outcome)) {
        // The shopper's card or our request: an answer, not an incident.
        this.log.info(fields, 'Stripe call refused');
        span.setStatus({ code: SpanStatusCode.OK });
        throw err;
      }
      span.setStatus({ code: SpanStatusCode.ERROR, message: c.outcome });
      this.log.warn({ ...fields, reason: err instanceof StripeUnavailableError ? err.reason : undefined }, 'Stripe unavailable');
      throw toUnavailable(err, this.retryAfterFor(c.outcome));
    } finally {
      span.end();
    }
  }

  private retryAfterFor(outcome: Outcome): number {
    if (this.breaker && this.breaker.state !== CircuitState.Closed) return this.circuitOpenError().retryAfterMs;
    return outcome === 'rate_limited' ? 2_000 : 5_000;
  }

  private attempt<T>(
    operation: Operation,
    fn: (requestOptions: Stripe.RequestOptions) => Promise<T>,
    options: CallOptions,
    attempt: number,
    parent: Span,
    callStarted: number,
  ): Promise<T> {
    const send = () =>
      this.bulkhead.execute(async () => {
        const grant = await this.budget.take(this.budgetMaxWaitMs);
        const inFlight = this.bulkhead.active;
        const remaining = this.deadlineMs - (performance.now() - callStarted);
        const ms = Math.max(250, Math.min(this.timeoutMs, remaining));
        const started = performance.now();
        const span = tracer().startSpan(
          `stripe ${operation} attempt`,
          { kind: SpanKind.CLIENT, attributes: { 'stripe.operation': operation, 'stripe.attempt': attempt } },
          trace.setSpan(context.active(), parent),
        );
        try {
          // The SDK's own timeout, a little later, closes the socket ours gave up on.
          const requestOptions: Stripe.RequestOptions = { timeout: ms + 500, ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}), ...grantHeader(grant) };
          const result = await this.withTimeout(() => fn(requestOptions), ms);
          this.recordAttempt(operation, attempt, started, null, result, inFlight, span);
          return result;
        } catch (err) {
          this.recordAttempt(operation, attempt, started, err, undefined, inFlight, span);
          throw err;
        } finally {
          span.end();
        }
      });
    if (!this.breaker) return send();
    // Fail fast while open or while the probe decides; cockatiel would otherwise queue callers
    // behind a half-open probe.
    if (this.breaker.state !== CircuitState.Closed) return Promise.reject(this.rejectOpen());
    return this.breaker.execute(send).catch((err: unknown) => {
      if (err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError) throw this.rejectOpen();
      throw err;
    });
  }

  private rejectOpen(): StripeUnavailableError {
    this.metric((m) => m.stripeRejections.inc({ reason: 'circuit_open' }));
    return this.circuitOpenError();
  }

  private recordAttempt(operation: Operation, attempt: number, started: number, err: unknown, result: unknown, inFlight: number, span?: Span): void {
    const durationMs = performance.now() - started;
    const c = err ? classify(err) : null;
    const outcome: Outcome = c ? c.outcome : 'ok';
    if (outcome === 'rejected') {
      // Refused before it left (budget or queue): not a Stripe call at all.
      if (err instanceof StripeUnavailableError) this.metric((m) => m.stripeRejections.inc({ reason: 'budget' }));
      return;
    }
    const requestId = stripeRequestId(err ?? result);
    const statusCode = (err as { statusCode?: number } | null)?.statusCode;
    this.metric((m) => {
      m.stripeCallDuration.observe({ operation, outcome }, durationMs / 1000);
      if (outcome === 'rate_limited') m.stripeRateLimited.inc({ operation });
    });
    if (outcome === 'rate_limited') void this.budget.penalize();
    // Latency is a signal only when Stripe actually answered (a reset or a fast 503 says nothing).
    const answered = outcome !== 'connection' && outcome !== 'server_error' && outcome !== 'conflict';
    this.limiter?.record({ rttMs: answered ? durationMs : NaN, inFlight, dropped: outcome === 'rate_limited' || outcome === 'timeout' });
    this.anomaly.record({ latencyMs: answered && outcome !== 'rate_limited' ? durationMs : undefined, failed: Boolean(c?.breakerFailure) || outcome === 'rate_limited' });
    this.metric((m) => m.stripeAlertLevel.set(levelNumber(this.state().alert)));
    this.opts.stats?.record(operation, outcome, durationMs);
    this.opts.onCall?.({ operation, outcome, durationMs, attempt, requestId, statusCode });
    span?.setAttributes({ 'stripe.outcome': outcome, ...(requestId ? { 'stripe.request_id': requestId } : {}), ...(statusCode ? { 'http.response.status_code': statusCode } : {}) });
    if (err && outcome !== 'card_error' && outcome !== 'invalid') {
      this.log.warn({ operation, attempt, outcome, statusCode, durationMs: Math.round(durationMs), stripeRequestId: requestId }, 'Stripe attempt failed');
    }
  }

  /**
   * Non-null while the gateway would refuse a call without trying (breaker open or probing),
   * so callers can answer "busy" before doing work that needs Stripe at the end.
   */
  unavailable(): StripeUnavailableError | null {
    return this.breaker && this.breaker.state !== CircuitState.Closed ? this.circuitOpenError() : null;
  }

  /** What the ops panel and /api/health show. */
  state(): GatewayState {
    const a = this.anomaly.snapshot();
    const breaker = this.breaker ? BREAKER_STATE[this.breaker.state] : 'closed';
    let alert = a.level;
    const reasons = [...a.reasons];
    if (breaker !== 'closed') {
      alert = 'critical';
      reasons.unshift('circuit breaker open: failing fast');
    }
    const rtt = this.limiter?.rtt;
    return {
      breaker,
      limit: this.bulkhead.limit,
      inFlight: this.bulkhead.active,
      queued: this.bulkhead.queued,
      alert,
      alertReasons: reasons,
      budgetPerSecond: Number.isFinite(this.budget.perSecond) ? this.budget.perSecond : 0,
      budgetStore: Number.isFinite(this.budget.perSecond) ? this.budget.store : 'none',
      concurrency: this.limiter ? 'adaptive' : 'static',
      latency: { baselineMs: a.latency.baselineMs || rtt?.baselineMs || 0, recentMs: a.latency.recentMs || rtt?.recentMs || 0, deviationMs: a.latency.deviationMs },
      errorRate: a.errorRate,
      breakerOpenedAt: this.openedAt ? new Date(this.openedAt).toISOString() : null,
      nextProbeInMs: this.probeAt && breaker !== 'closed' ? Math.max(0, this.probeAt - Date.now()) : null,
      updatedAt: new Date().toISOString(),
    };
  }

  /** Stops probing and flushes call statistics (tests, shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    await this.opts.stats?.close();
    await this.budget.close();
  }

  // ---- Stripe operations ----

  createPaymentIntent(params: Stripe.PaymentIntentCreateParams, o: { idempotencyKey: string }): Promise<Stripe.PaymentIntent> {
    return this.call('payment_intents.create', (ro) => this.stripe.paymentIntents.create(params, ro), { ...o, safe: false });
  }

  /** Confirms an existing PaymentIntent (with a ConfirmationToken); repeated only under its key. */
  confirmPaymentIntent(id: string, params: Stripe.PaymentIntentConfirmParams, o: { idempotencyKey: string }): Promise<Stripe.PaymentIntent> {
    return this.call('payment_intents.confirm', (ro) => this.stripe.paymentIntents.confirm(id, params, ro), { ...o, safe: false });
  }

  retrievePaymentIntent(id: string): Promise<Stripe.PaymentIntent> {
    return this.call('payment_intents.retrieve', (ro) => this.stripe.paymentIntents.retrieve(id, { expand: ['latest_charge'] }, ro), { safe: true });
  }

  cancelPaymentIntent(id: string, o: { idempotencyKey: string }): Promise<Stripe.PaymentIntent> {
    return this.call('payment_intents.cancel', (ro) => this.stripe.paymentIntents.cancel(id, {}, ro), { ...o, safe: false });
  }

  createRefund(params: Stripe.RefundCreateParams, o: { idempotencyKey: string }): Promise<Stripe.Refund> {
    return this.call('refunds.create', (ro) => this.stripe.refunds.create(params, ro), { ...o, safe: false });
  }

  retrieveCharge(id: string): Promise<Stripe.Charge> {
    return this.call('charges.retrieve', (ro) => this.stripe.charges.retrieve(id, {}, ro), { safe: true });
  }

  listPaymentIntents(params: Stripe.PaymentIntentListParams): Promise<Stripe.ApiList<Stripe.PaymentIntent>> {
    return this.call('payment_intents.list', (ro) => this.stripe.paymentIntents.list(params, ro), { safe: true });
  }

  listRefunds(params: Stripe.RefundListParams): Promise<Stripe.ApiList<Stripe.Refund>> {
    return this.call('refunds.list', (ro) => this.stripe.refunds.list(params, ro), { safe: true });
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

function levelNumber(level: AlertLevel): number {
  return level === 'ok' ? 0 : level === 'elevated' ? 1 : 2;
}

/** The state shown for a gateway that cannot be built: Stripe is not configured. */
export function unconfiguredGatewayState(): GatewayState {
  return {
    breaker: 'closed',
    limit: 0,
    inFlight: 0,
    queued: 0,
    alert: 'ok',
    alertReasons: ['Stripe is not configured'],
    budgetPerSecond: 0,
    budgetStore: 'none',
    concurrency: 'adaptive',
    latency: { baselineMs: 0, recentMs: 0, deviationMs: 0 },
    errorRate: { recent: 0, baseline: 0 },
    breakerOpenedAt: null,
    nextProbeInMs: null,
    updatedAt: new Date().toISOString(),
  };
}
