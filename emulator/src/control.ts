// The control API under /_emulator: a public JSON contract (see STRIPE-EMULATOR.md and README).
import type { Clock } from './clock';
import { errors } from './errors';
import { type Faults, parseFaultRule, type RateLimiter } from './faults';
import type { Store } from './store';
import { WEBHOOK_MODES, type WebhookMode, type Webhooks } from './webhooks';

export interface ControlContext {
  url: string;
  startedAt: number;
  store: Store;
  clock: Clock;
  webhooks: Webhooks;
  faults: Faults;
  rateLimiter: RateLimiter;
  reset(): void;
  advanceClock(seconds: number): void;
}

export interface ControlResponse {
  status: number;
  body: unknown;
}

function num(body: Record<string, unknown>, key: string, { min = 0, max = Number.MAX_SAFE_INTEGER, required = false } = {}): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) {
    if (required) throw errors.missingParam(key);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw errors.invalid(`${key} must be a number between ${min} and ${max}`, key);
  return v;
}

function only(body: Record<string, unknown>, allowed: string[]): void {
  for (const key of Object.keys(body)) if (!allowed.includes(key)) throw errors.unknownParam(key);
}

export function handleControl(
  ctx: ControlContext,
  method: string,
  segments: string[],
  query: URLSearchParams,
  body: Record<string, unknown>,
): ControlResponse {
  const route = `${method} /${segments.join('/')}`;
  const [first, second, third] = segments;
  const ok = (payload: unknown, status = 200): ControlResponse => ({ status, body: payload });

  switch (route) {
    case 'GET /health':
      return ok({ status: 'ok', url: ctx.url, livemode: false, uptime_seconds: Math.round((Date.now() - ctx.startedAt) / 1000) });
    case 'GET /state':
      return ok({
        url: ctx.url,
        clock: { now: ctx.clock.nowSeconds(), offset_seconds: ctx.clock.offset / 1000 },
        counts: {
          payment_intents: ctx.store.paymentIntents.size,
          payment_methods: ctx.store.paymentMethods.size,
          confirmation_tokens: ctx.store.confirmationTokens.size,
          charges: ctx.store.charges.size,
          refunds: ctx.store.refunds.size,
          balance_transactions: ctx.store.balanceTransactions.size,
          customers: ctx.store.customers.size,
          setup_intents: ctx.store.setupIntents.size,
          events: ctx.store.events.size,
          idempotency_keys: ctx.store.idempotency.size,
        },
        webhooks: { mode: ctx.webhooks.mode, delay_ms: ctx.webhooks.delayMs, held: ctx.webhooks.heldCount, endpoints: ctx.webhooks.endpoints().map(({ secret: _s, ...e }) => e) },
        faults: ctx.faults.list(),
        latency: ctx.faults.latency,
        rate_limit: { per_second: ctx.rateLimiter.perSecond },
        persistent: ctx.store.persistent,
      });
    case 'POST /reset':
      ctx.reset();
      return ok({ reset: true });
    case 'GET /webhook_endpoints':
      // A signing secret is handed out once, by the POST that registers its endpoint (as Stripe
      // does); a list never repeats it.
      return ok({ object: 'list', data: ctx.webhooks.endpoints().map(({ secret: _secret, ...endpoint }) => endpoint) });
    case 'POST /webhook_endpoints': {
      only(body, ['url', 'secret', 'enabled_events']);
      const url = body.url;
      if (typeof url !== 'string' || !/^https?:\/\//.test(url)) throw errors.invalid('url must be an http(s) URL', 'url');
      const secret = body.secret;
      if (secret !== undefined && (typeof secret !== 'string' || secret === '')) throw errors.invalid('secret must be a non-empty string', 'secret');
      const enabled = body.enabled_events;
      if (enabled !== undefined && (!Array.isArray(enabled) || !enabled.every((e) => typeof e === 'string'))) {
        throw errors.invalid('enabled_events must be an array of event types', 'enabled_events');
      }
      return ok(ctx.webhooks.registerEndpoint({ url, secret: secret as string | undefined, enabled_events: enabled as string[] | undefined }));
    }
    case 'GET /deliveries': {
      const data = ctx.webhooks.list({
        event: query.get('event') ?? undefined,
        type: query.get('type') ?? undefined,
        endpoint: query.get('endpoint') ?? undefined,
      });
      return ok({ object: 'list', data });
    }
    case 'GET /webhooks':
      return ok({ mode: ctx.webhooks.mode, delay_ms: ctx.webhooks.delayMs, held: ctx.webhooks.heldCount });
    case 'POST /webhooks': {
      only(body, ['mode', 'delay_ms']);
      const mode = body.mode ?? 'normal';
      if (typeof mode !== 'string' || !WEBHOOK_MODES.includes(mode as WebhookMode)) {
        throw errors.invalid(`mode must be one of ${WEBHOOK_MODES.join(', ')}`, 'mode');
      }
      const delayMs = num(body, 'delay_ms', { max: 3_600_000 }) ?? 0;
      ctx.webhooks.setMode(mode as WebhookMode, delayMs);
      return ok({ mode, delay_ms: delayMs, held: ctx.webhooks.heldCount });
    }
    case 'POST /webhooks/release':
      return ok({ released: ctx.webhooks.release() });
    case 'GET /clock':
      return ok({ now: ctx.clock.nowSeconds(), offset_seconds: ctx.clock.offset / 1000 });
    case 'POST /clock/advance': {
      only(body, ['seconds']);
      const seconds = num(body, 'seconds', { required: true, max: 10 * 365 * 86400 }) as number;
      ctx.advanceClock(seconds);
      return ok({ now: ctx.clock.nowSeconds(), offset_seconds: ctx.clock.offset / 1000 });
    }
    case 'GET /faults':
      return ok({ object: 'list', data: ctx.faults.list() });
    case 'POST /faults':
      return ok(ctx.faults.add(parseFaultRule(body)));
    case 'DELETE /faults':
      ctx.faults.clear();
      return ok({ deleted: true });
    case 'GET /latency':
      return ok(ctx.faults.latency);
    case 'POST /latency': {
      only(body, ['mean_ms', 'jitter_ms']);
      ctx.faults.latency = { mean_ms: num(body, 'mean_ms', { max: 600_000 }) ?? 0, jitter_ms: num(body, 'jitter_ms', { max: 600_000 }) ?? 0 };
      return ok(ctx.faults.latency);
    }
    case 'GET /rate_limit':
      return ok({ per_second: ctx.rateLimiter.perSecond });
    case 'POST /rate_limit': {
      only(body, ['per_second']);
      ctx.rateLimiter.perSecond = num(body, 'per_second', { required: true, max: 1_000_000 }) as number;
      return ok({ per_second: ctx.rateLimiter.perSecond });
    }
  }

  if (first === 'webhook_endpoints' && second && !third && method === 'DELETE') {
    if (!ctx.store.deleteEndpoint(second)) throw errors.resourceMissing('webhook_endpoint', second, 'id');
    return ok({ id: second, object: 'webhook_endpoint', deleted: true });
  }
  if (first === 'faults' && second && !third && method === 'DELETE') {
    if (!ctx.faults.remove(second)) throw errors.resourceMissing('fault_rule', second, 'id');
    return ok({ id: second, object: 'fault_rule', deleted: true });
  }
  if (first === 'events' && second && third === 'resend' && segments.length === 3 && method === 'POST') {
    only(body, ['endpoint']);
    const event = ctx.store.events.get(second);
    if (!event) throw errors.resourceMissing('event', second, 'id');
    const endpoint = typeof body.endpoint === 'string' ? body.endpoint : undefined;
    const count = ctx.webhooks.resend(event, endpoint);
    if (endpoint && count === 0) throw errors.resourceMissing('webhook_endpoint', endpoint, 'endpoint');
    return ok({ event: event.id, deliveries: count });
  }
  throw errors.invalid(`Unrecognized emulator control URL (${method}: /_emulator/${segments.join('/')}).`, undefined, undefined, 404);
}
