// One Prometheus registry for the whole process. The gateway records its calls here; other
// parts of the app (job queues, webhook worker, route handlers) set their gauges through the
// exported setters so nobody needs to know prom-client's API. Kept on globalThis so Next.js
// hot reloads and duplicated module instances never register a metric twice.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

function build() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'brisk_process_' });
  const m = {
    registry,
    stripeCallDuration: new Histogram({
      name: 'brisk_stripe_call_duration_seconds',
      help: 'Duration of each HTTP attempt to Stripe, by operation and outcome',
      labelNames: ['operation', 'outcome'] as const,
      // Stripe answers in ~100-500 ms normally; the tail buckets catch spikes and timeouts.
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16],
      registers: [registry],
    }),
    stripeOperations: new Counter({
      name: 'brisk_stripe_operations_total',
      help: 'Logical gateway operations (one per caller request, however many attempts), by result',
      labelNames: ['operation', 'result'] as const,
      registers: [registry],
    }),
    stripeRetries: new Counter({
      name: 'brisk_stripe_retries_total',
      help: 'Attempts repeated after a retryable failure',
      labelNames: ['operation', 'reason'] as const,
      registers: [registry],
    }),
    stripeRateLimited: new Counter({
      name: 'brisk_stripe_rate_limited_total',
      help: '429 rate_limit answers received from Stripe',
      labelNames: ['operation'] as const,
      registers: [registry],
    }),
    stripeBreakerTransitions: new Counter({
      name: 'brisk_stripe_breaker_transitions_total',
      help: 'Circuit breaker state changes, by the state entered',
      labelNames: ['to'] as const,
      registers: [registry],
    }),
    stripeBreakerState: new Gauge({
      name: 'brisk_stripe_breaker_state',
      help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open',
      registers: [registry],
    }),
    stripeRejections: new Counter({
      name: 'brisk_stripe_rejections_total',
      help: 'Calls refused by the gateway without reaching Stripe, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    stripeConcurrencyLimit: new Gauge({ name: 'brisk_stripe_concurrency_limit', help: 'Current adaptive concurrency limit', registers: [registry] }),
    stripeInFlight: new Gauge({ name: 'brisk_stripe_in_flight', help: 'Calls to Stripe in flight', registers: [registry] }),
    stripeQueued: new Gauge({ name: 'brisk_stripe_queued', help: 'Calls waiting for a concurrency slot', registers: [registry] }),
    stripeAlertLevel: new Gauge({ name: 'brisk_stripe_alert_level', help: 'Anomaly detector: 0 ok, 1 elevated, 2 critical', registers: [registry] }),
    stripeBudgetPerSecond: new Gauge({ name: 'brisk_stripe_budget_per_second', help: 'Outbound Stripe requests per second this deployment allows itself', registers: [registry] }),
    queueDepth: new Gauge({ name: 'brisk_job_queue_depth', help: 'Jobs waiting, by queue', labelNames: ['queue'] as const, registers: [registry] }),
    retryBacklog: new Gauge({ name: 'brisk_job_retry_backlog', help: 'Jobs waiting for a retry after a failure, by queue', labelNames: ['queue'] as const, registers: [registry] }),
    deadLetters: new Gauge({ name: 'brisk_job_dead_letters', help: 'Jobs in the dead-letter list, by queue', labelNames: ['queue'] as const, registers: [registry] }),
    webhookLag: new Gauge({ name: 'brisk_webhook_lag_seconds', help: 'Age of the oldest received but unprocessed Stripe event', registers: [registry] }),
    httpShed: new Counter({
      name: 'brisk_http_shed_total',
      help: 'Requests answered 503 busy by admission control (scripts/serve.ts), by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    httpResponses: new Counter({
      name: 'brisk_http_responses_total',
      help: 'HTTP responses by route and status class',
      labelNames: ['route', 'status'] as const,
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof build>;

// One registry per process, on globalThis: scripts/serve.ts counts admission (loaded by tsx,
// outside Next.js), the gateway and the jobs count from their bundles, and /api/metrics
// exports from its own; each has its own copy of this module.
const g = globalThis as unknown as { __briskMetrics?: Metrics };

/** The process-wide metrics. */
export function metrics(): Metrics {
  g.__briskMetrics ??= build();
  return g.__briskMetrics;
}

/** Prometheus text exposition of every metric. */
export async function metricsText(): Promise<{ contentType: string; body: string }> {
  const m = metrics();
  return { contentType: m.registry.contentType, body: await m.registry.metrics() };
}

// ---- setters for other parts of the app ----

/** Jobs waiting in a pg-boss queue (set it from a periodic sampler). */
export function setQueueDepth(queue: string, depth: number): void {
  metrics().queueDepth.set({ queue }, depth);
}

/** Jobs waiting for a retry after failing (the "growing retry backlog" alert watches this). */
export function setRetryBacklog(queue: string, count: number): void {
  metrics().retryBacklog.set({ queue }, count);
}

export function setDeadLetters(queue: string, count: number): void {
  metrics().deadLetters.set({ queue }, count);
}

/** Age in seconds of the oldest received-but-unapplied Stripe event (0 when none). */
export function setWebhookLagSeconds(seconds: number): void {
  metrics().webhookLag.set(Math.max(0, seconds));
}

/** Count one HTTP response of a route handler (status folded to its class, e.g. 5xx). */
export function recordHttpResponse(route: string, status: number): void {
  metrics().httpResponses.inc({ route, status: `${Math.floor(status / 100)}xx` });
}
