// Webhook delivery: asynchronous, signed afresh on every attempt (Stripe-Signature with the wall
// clock's time, so a retry hours later still verifies), retried with exponential backoff on the
// emulator's clock, and reorderable/duplicable/holdable for testing (see /_emulator/webhooks).
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { CancelTimer, Clock } from './clock';
import { newId, randomString } from './ids';
import type { Store } from './store';
import type { JsonObject, Metadata, StripeEvent, WebhookEndpoint } from './types';

export type WebhookMode = 'normal' | 'duplicate' | 'shuffle' | 'hold';
export const WEBHOOK_MODES: readonly WebhookMode[] = ['normal', 'duplicate', 'shuffle', 'hold'];

export interface WebhookOptions {
  /** Attempts per delivery, the first included. */
  attempts: number;
  /** Delay before the first retry; each later retry waits twice as long. */
  baseDelayMs: number;
  timeoutMs: number;
  /** Secret for endpoints registered without one. */
  defaultSecret: string;
  log: boolean;
}

export interface Delivery {
  id: string;
  event: string;
  type: string;
  endpoint: string;
  url: string;
  attempt: number;
  status: number | null;
  ok: boolean;
  error: string | null;
  duration_ms: number;
  /** Emulator time (unix seconds) of the attempt. */
  created: number;
  /** The `t=` of the Stripe-Signature sent (wall clock). */
  signature_timestamp: number;
  /** True for copies made by duplicate mode and by resend. */
  redelivery: boolean;
}

interface Job {
  event: StripeEvent;
  endpoint: WebhookEndpoint;
  attempt: number;
  /** Whether success lowers the event's pending_webhooks (only the original delivery does). */
  countsForPending: boolean;
  redelivery: boolean;
}

const MAX_DELIVERY_RECORDS = 20_000;
const DEFAULT_SHUFFLE_WINDOW_MS = 200;

export function signPayload(payload: string, secret: string, timestamp: number): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

export function endpointWants(endpoint: WebhookEndpoint, type: string): boolean {
  if (endpoint.status === 'disabled') return false;
  return endpoint.enabled_events.some(
    (pattern) => pattern === '*' || pattern === type || (pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1))),
  );
}

export class Webhooks {
  mode: WebhookMode = 'normal';
  delayMs = 0;
  private held: Job[] = [];
  private shuffleBuffer: Job[] = [];
  private shuffleTimer: CancelTimer | null = null;
  private deliveries: Delivery[] = [];
  private readonly active = new Set<http.ClientRequest>();
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly options: WebhookOptions,
  ) {}

  /** Stripe's view of an endpoint (the secret only where the caller asks for it: on creation). */
  static view(endpoint: WebhookEndpoint, withSecret = false): JsonObject {
    const { secret, ...rest } = endpoint;
    return {
      ...rest,
      api_version: endpoint.api_version ?? null,
      application: null,
      description: endpoint.description ?? null,
      livemode: false,
      metadata: endpoint.metadata ?? {},
      ...(withSecret ? { secret } : {}),
    };
  }

  /** POST /v1/webhook_endpoints: a new endpoint with its own fresh signing secret, as on Stripe. */
  createEndpoint(input: { url: string; enabled_events: string[]; description: string | null; metadata: Metadata; api_version: string | null }): WebhookEndpoint {
    const endpoint: WebhookEndpoint = {
      id: newId('we'),
      object: 'webhook_endpoint',
      url: input.url,
      secret: `whsec_${randomString(32)}`,
      enabled_events: input.enabled_events,
      status: 'enabled',
      created: this.clock.nowSeconds(),
      api_version: input.api_version,
      description: input.description,
      metadata: input.metadata,
    };
    this.store.saveEndpoint(endpoint);
    return endpoint;
  }

  registerEndpoint(input: { url: string; secret?: string; enabled_events?: string[] }): WebhookEndpoint {
    const secret = input.secret ?? this.options.defaultSecret;
    const enabled = input.enabled_events && input.enabled_events.length > 0 ? input.enabled_events : ['*'];
    // Registering the same endpoint again (e.g. from the environment after a restart) is a no-op.
    for (const existing of this.store.endpoints.values()) {
      if (existing.url === input.url && existing.secret === secret && existing.enabled_events.join() === enabled.join()) return existing;
    }
    const endpoint: WebhookEndpoint = {
      id: newId('we'),
      object: 'webhook_endpoint',
      url: input.url,
      secret,
      enabled_events: enabled,
      status: 'enabled',
      created: this.clock.nowSeconds(),
    };
    this.store.saveEndpoint(endpoint);
    return endpoint;
  }

  endpoints(): WebhookEndpoint[] {
    return [...this.store.endpoints.values()];
  }

  setMode(mode: WebhookMode, delayMs: number): void {
    this.mode = mode;
    this.delayMs = delayMs;
  }

  /** Called for every new event. */
  dispatch(event: StripeEvent): void {
    const targets = this.endpoints().filter((e) => endpointWants(e, event.type));
    if (targets.length === 0) return;
    event.pending_webhooks = targets.length;
    this.store.events.save(event);
    for (const endpoint of targets) {
      this.enqueue({ event, endpoint, attempt: 1, countsForPending: true, redelivery: false });
      if (this.mode === 'duplicate') this.enqueue({ event, endpoint, attempt: 1, countsForPending: false, redelivery: true });
    }
  }

  /** Delivers an event again now, to one endpoint or to every endpoint that wants its type. */
  resend(event: StripeEvent, endpointId?: string): number {
    const targets = endpointId
      ? this.endpoints().filter((e) => e.id === endpointId)
      : this.endpoints().filter((e) => endpointWants(e, event.type));
    for (const endpoint of targets) this.start({ event, endpoint, attempt: 1, countsForPending: false, redelivery: true }, 0);
    return targets.length;
  }

  release(): number {
    const jobs = this.held;
    this.held = [];
    for (const job of jobs) this.start(job, this.delayMs);
    return jobs.length;
  }

  get heldCount(): number {
    return this.held.length;
  }

  list(filter: { event?: string; type?: string; endpoint?: string }): Delivery[] {
    return this.deliveries.filter(
      (d) =>
        (!filter.event || d.event === filter.event) &&
        (!filter.type || d.type === filter.type) &&
        (!filter.endpoint || d.endpoint === filter.endpoint || d.url === filter.endpoint),
    );
  }

  /** Forgets deliveries, held and buffered jobs, and returns to normal mode. */
  reset(): void {
    this.deliveries = [];
    this.held = [];
    this.shuffleBuffer = [];
    this.shuffleTimer?.();
    this.shuffleTimer = null;
    this.mode = 'normal';
    this.delayMs = 0;
  }

  close(): void {
    this.closed = true;
    for (const req of this.active) req.destroy();
    this.active.clear();
  }

  private enqueue(job: Job): void {
    if (this.mode === 'hold') {
      this.held.push(job);
      return;
    }
    if (this.mode === 'shuffle') {
      this.shuffleBuffer.push(job);
      if (!this.shuffleTimer) {
        this.shuffleTimer = this.clock.schedule(this.delayMs || DEFAULT_SHUFFLE_WINDOW_MS, () => {
          this.shuffleTimer = null;
          void this.flushShuffled();
        });
      }
      return;
    }
    this.start(job, this.delayMs);
  }

  private start(job: Job, delayMs: number): void {
    if (this.closed) return;
    if (delayMs > 0) this.clock.schedule(delayMs, () => void this.attempt(job));
    else setImmediate(() => void this.attempt(job));
  }

  /** Sends the buffered window one at a time in an order that differs from arrival order. */
  private async flushShuffled(): Promise<void> {
    const jobs = this.shuffleBuffer;
    this.shuffleBuffer = [];
    const order = jobs.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    if (order.length > 1 && order.every((v, i) => v === i)) order.reverse();
    for (const i of order) await this.attempt(jobs[i]);
  }

  private async attempt(job: Job): Promise<void> {
    if (this.closed) return;
    const { event, endpoint } = job;
    const payload = JSON.stringify(event, null, 2);
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'Content-Type': 'application/json; charset=utf-8',
      'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      'Stripe-Signature': signPayload(payload, endpoint.secret, timestamp),
    };
    const started = performance.now();
    const result = await this.post(endpoint.url, payload, headers);
    if (this.closed) return;
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    const delivery: Delivery = {
      id: newId('wd'),
      event: event.id,
      type: event.type,
      endpoint: endpoint.id,
      url: endpoint.url,
      attempt: job.attempt,
      status: result.status,
      ok,
      error: result.error,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      created: this.clock.nowSeconds(),
      signature_timestamp: timestamp,
      redelivery: job.redelivery,
    };
    this.deliveries.push(delivery);
    if (this.deliveries.length > MAX_DELIVERY_RECORDS) this.deliveries.splice(0, this.deliveries.length - MAX_DELIVERY_RECORDS);
    if (this.options.log) {
      console.log(`[emulator] webhook ${event.type} ${event.id} → ${endpoint.url} attempt ${job.attempt}: ${result.status ?? result.error}`);
    }
    if (ok) {
      if (job.countsForPending && event.pending_webhooks > 0) {
        event.pending_webhooks -= 1;
        this.store.events.save(event);
      }
      return;
    }
    if (job.attempt < this.options.attempts) {
      const wait = this.options.baseDelayMs * 2 ** (job.attempt - 1);
      this.clock.schedule(wait, () => void this.attempt({ ...job, attempt: job.attempt + 1 }));
    }
  }

  private post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number | null; error: string | null }> {
    return new Promise((resolve) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        resolve({ status: null, error: 'invalid_url' });
        return;
      }
      const client = target.protocol === 'https:' ? https : http;
      let settled = false;
      const finish = (status: number | null, error: string | null) => {
        if (settled) return;
        settled = true;
        this.active.delete(req);
        resolve({ status, error });
      };
      const req = client.request(
        target,
        { method: 'POST', headers: { ...headers, 'Content-Length': Buffer.byteLength(body) }, agent: false, timeout: this.options.timeoutMs },
        (res) => {
          res.resume();
          res.on('error', () => {});
          finish(res.statusCode ?? null, null);
        },
      );
      this.active.add(req);
      req.on('timeout', () => {
        req.destroy();
        finish(null, 'timeout');
      });
      req.on('error', (err: NodeJS.ErrnoException) => finish(null, err.code ?? err.message));
      req.end(body);
    });
  }
}
