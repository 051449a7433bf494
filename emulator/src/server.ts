// The Stripe emulator's HTTP server: routes /v1 (the API), /_emulator (control), POST /3ds/…
// (finishing a 3-D Secure challenge) and hands everything else to the Stripe.js handler.
//
// A /v1 request passes, in order: fault rules (a failing proxy in front of Stripe), the rate
// limiter, authentication, parameter parsing, the idempotency check, injected latency, the
// endpoint itself, and `after` fault rules (the request ran, then the response is lost).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { Api, type KeyKind } from './api';
import { Clock } from './clock';
import { handleControl, type ControlContext } from './control';
import { ApiError, errors } from './errors';
import { API_VERSION, API_VERSIONS, EventLog } from './events';
import { type FaultRule, Faults, faultResponse, RateLimiter, ruleFails } from './faults';
import { canonicalForm, type FormObject, emptyForm, parseForm, parseJsonObject } from './form';
import { apiKeyFrom, CORS_HEADERS, delay, originOf, readBody, sendJson } from './http';
import { Idempotency } from './idempotency';
import { newRequestId, randomString } from './ids';
import { Customers } from './customers';
import { Payments } from './payments';
import { Store } from './store';
import { handleStripeJsRequest } from './stripejs';
import type { IdempotencyEntry, RequestInfo } from './types';
import { Webhooks } from './webhooks';

export interface EmulatorOptions {
  /** 0 picks a free port. Default 12111. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Keys default to random test keys (kept in `dataFile` when there is one). */
  secretKey?: string;
  publishableKey?: string;
  /** Signing secret for endpoints registered without their own. Default: random `whsec_…`. */
  webhookSecret?: string;
  webhookEndpoints?: { url: string; secret?: string; enabled_events?: string[] }[];
  /** Persist state here (JSON snapshot plus `<dataFile>.log` journal). */
  dataFile?: string;
  /** Default { attempts: 4, baseDelayMs: 1000 }: retries 1 s, 2 s and 4 s after a failure. */
  webhookRetry?: { attempts: number; baseDelayMs: number };
  /** Default 10 000. */
  webhookTimeoutMs?: number;
  /** Stripe's rate limiter, requests per second. Default 0 (off). */
  rateLimitPerSecond?: number;
  /** One line per request on stdout. */
  log?: boolean;
}

export interface RunningEmulator {
  url: string;
  port: number;
  secretKey: string;
  publishableKey: string;
  webhookSecret: string;
  close(): Promise<void>;
}

/** Constant-time comparison of two keys (hashed first, so lengths do not leak either). */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

const THREE_DS_PATH = /^\/3ds\/([A-Za-z0-9_]+)\/(complete|fail)\/?$/;

class Emulator {
  readonly store: Store;
  readonly clock = new Clock();
  readonly events: EventLog;
  readonly webhooks: Webhooks;
  readonly payments: Payments;
  readonly customers: Customers;
  readonly api: Api;
  readonly idempotency: Idempotency;
  readonly faults = new Faults();
  readonly rateLimiter: RateLimiter;
  readonly secretKey: string;
  readonly publishableKey: string;
  readonly webhookSecret: string;
  readonly startedAt = Date.now();
  url = '';
  private readonly log: boolean;
  private readonly initialRateLimit: number;

  constructor(opts: EmulatorOptions) {
    this.store = new Store(opts.dataFile ?? null);
    this.store.load();
    this.clock.restoreOffset(this.store.meta.clockOffsetMs);
    const meta = this.store.meta;
    this.secretKey = opts.secretKey ?? meta.secretKey ?? `sk_test_${randomString(48)}`;
    this.publishableKey = opts.publishableKey ?? meta.publishableKey ?? `pk_test_${randomString(48)}`;
    this.webhookSecret = opts.webhookSecret ?? meta.webhookSecret ?? `whsec_${randomString(32)}`;
    this.store.saveMeta({ secretKey: this.secretKey, publishableKey: this.publishableKey, webhookSecret: this.webhookSecret });
    this.log = opts.log ?? false;
    this.events = new EventLog(this.store, this.clock);
    this.webhooks = new Webhooks(this.store, this.clock, {
      attempts: Math.max(1, opts.webhookRetry?.attempts ?? 4),
      baseDelayMs: Math.max(0, opts.webhookRetry?.baseDelayMs ?? 1000),
      timeoutMs: opts.webhookTimeoutMs ?? 10_000,
      defaultSecret: this.webhookSecret,
      log: this.log,
    });
    this.events.onEvent((event) => this.webhooks.dispatch(event));
    for (const endpoint of opts.webhookEndpoints ?? []) this.webhooks.registerEndpoint(endpoint);
    this.payments = new Payments(this.store, this.events, this.clock);
    this.customers = new Customers(this.store, this.events, this.clock);
    this.api = new Api(this.store, this.payments, this.customers, this.webhooks);
    this.idempotency = new Idempotency(this.store, this.clock);
    this.initialRateLimit = opts.rateLimitPerSecond ?? 0;
    this.rateLimiter = new RateLimiter(this.initialRateLimit);
  }

  get control(): ControlContext {
    return {
      url: this.url,
      startedAt: this.startedAt,
      store: this.store,
      clock: this.clock,
      webhooks: this.webhooks,
      faults: this.faults,
      rateLimiter: this.rateLimiter,
      reset: () => {
        this.store.reset();
        this.webhooks.reset();
        this.faults.clear();
        this.faults.latency = { mean_ms: 0, jitter_ms: 0 };
        this.rateLimiter.perSecond = this.initialRateLimit;
      },
      advanceClock: (seconds) => {
        this.clock.advance(seconds);
        this.store.saveMeta({ clockOffsetMs: this.clock.offset });
      },
    };
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const requestId = newRequestId();
    const started = this.log ? performance.now() : 0;
    if (this.log) {
      res.on('finish', () => console.log(`[emulator] ${req.method} ${req.url} → ${res.statusCode} ${(performance.now() - started).toFixed(1)}ms ${requestId}`));
    }
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = q === -1 ? '' : rawUrl.slice(q + 1);
    const task =
      path === '/v1' || path.startsWith('/v1/')
        ? this.handleApi(req, res, requestId, path, query)
        : path === '/_emulator' || path.startsWith('/_emulator/')
          ? this.handleControl(req, res, requestId, path, query)
          : THREE_DS_PATH.test(path)
            ? this.handleThreeDS(req, res, requestId, path, query)
            : this.handleOther(req, res, requestId, rawUrl);
    task.catch((err: unknown) => {
      console.error('[emulator] request failed', err);
      sendJson(res, 500, JSON.stringify(errors.internal().toJson()), { 'Request-Id': requestId });
    });
  }

  // ---- /v1 ----

  private async handleApi(req: IncomingMessage, res: ServerResponse, requestId: string, path: string, query: string): Promise<void> {
    const headers: Record<string, string> = { 'Request-Id': requestId, 'Stripe-Version': API_VERSION, ...CORS_HEADERS };
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.writeHead(204, headers);
      res.end();
      return;
    }
    const fail = (err: ApiError) => sendJson(res, err.status, JSON.stringify(err.toJson()), { ...headers, ...err.headers });

    let body: string;
    try {
      body = await readBody(req);
    } catch (err) {
      if (err instanceof ApiError) fail(err);
      else res.destroy();
      return;
    }

    const front = this.faults.match(method, path, false);
    if (front && (await this.applyFault(front, res, headers))) return;

    if (!this.rateLimiter.take()) return fail(errors.rateLimited());

    let params: FormObject;
    try {
      params = method === 'POST' ? parseForm(body) : query ? parseForm(query) : emptyForm();
    } catch (err) {
      if (err instanceof ApiError) return fail(err);
      throw err;
    }

    // Stripe.js sends its key as a `key` parameter rather than a header.
    let apiKey = apiKeyFrom(req);
    if (apiKey === null && typeof params.key === 'string' && params.key !== '') apiKey = params.key;
    if (apiKey === null || apiKey === '') return fail(errors.noApiKey());
    let keyKind: KeyKind;
    if (apiKey === this.secretKey) keyKind = 'secret';
    else if (apiKey === this.publishableKey) keyKind = 'publishable';
    else return fail(errors.invalidApiKey(apiKey));

    // Objects are rendered in the pinned version only: a request pinning another one is refused
    // by name rather than answered in a shape it did not ask for.
    const version = req.headers['stripe-version'];
    if (typeof version === 'string' && version !== '' && !API_VERSIONS.includes(version)) return fail(errors.unsupportedVersion(version, API_VERSIONS));

    const headerKey = req.headers['idempotency-key'];
    const idempotencyKey = method === 'POST' && typeof headerKey === 'string' ? headerKey : null;
    let entry: IdempotencyEntry | null = null;
    if (idempotencyKey !== null) {
      headers['Idempotency-Key'] = idempotencyKey;
      let outcome;
      try {
        outcome = this.idempotency.begin(apiKey, idempotencyKey, method, path, canonicalForm(params));
      } catch (err) {
        if (err instanceof ApiError) return fail(err);
        throw err;
      }
      if (outcome.kind === 'replay') {
        const saved = outcome.entry;
        const after = this.faults.match(method, path, true);
        if (after && (await this.applyFault(after, res, headers))) return;
        sendJson(res, saved.status, saved.body, { ...headers, ...saved.headers, 'Idempotent-Replayed': 'true' });
        return;
      }
      entry = outcome.entry;
    }

    const latency = this.faults.sampleLatencyMs();
    if (latency > 0) await delay(latency);

    const request: RequestInfo = { id: requestId, idempotencyKey, origin: originOf(req, this.url) };
    let executing = false;
    let status: number;
    let payload: string;
    let extra: Record<string, string> = {};
    try {
      const result = this.api.handle({
        method,
        segments: path.split('/').slice(2).filter((s, i, all) => s !== '' || i < all.length - 1),
        path,
        params,
        keyKind,
        request,
        begin: () => {
          executing = true;
        },
      });
      status = result.status;
      payload = JSON.stringify(result.body);
    } catch (err) {
      if (err instanceof ApiError) {
        status = err.status;
        payload = JSON.stringify(err.toJson());
        extra = err.headers;
      } else {
        console.error('[emulator] unexpected error in', method, path, err);
        status = 500;
        payload = JSON.stringify(errors.internal().toJson());
      }
    }
    if (entry) {
      if (executing) this.idempotency.complete(entry, status, payload, extra);
      else this.idempotency.release(entry);
    }
    const after = this.faults.match(method, path, true);
    if (after && (await this.applyFault(after, res, headers))) return;
    sendJson(res, status, payload, { ...headers, ...extra });
  }

  /** Applies a fault rule; returns true when it answered (or dropped) the request. */
  private async applyFault(rule: FaultRule, res: ServerResponse, headers: Record<string, string>): Promise<boolean> {
    if (rule.delay_ms > 0) await delay(rule.delay_ms);
    if (rule.reset_connection) {
      const socket = res.socket as (Socket & { resetAndDestroy?: () => void }) | null;
      if (socket?.resetAndDestroy) socket.resetAndDestroy();
      else socket?.destroy();
      return true;
    }
    if (!ruleFails(rule)) return false;
    const fault = faultResponse(rule);
    sendJson(res, fault.status, JSON.stringify(fault.body), { ...headers, ...fault.headers });
    return true;
  }

  // ---- /_emulator ----

  /**
   * The control API steers and reads the whole emulator (faults, clock, webhook endpoints), so
   * it is for tools holding the secret key, never for a web page: every call needs
   * `Authorization: Bearer <secret key>` (the publishable key is refused), and no answer
   * carries CORS headers, so a page on another origin cannot read one — nor send a
   * preflighted request (JSON, Authorization) at all.
   */
  private async handleControl(req: IncomingMessage, res: ServerResponse, requestId: string, path: string, query: string): Promise<void> {
    const headers: Record<string, string> = { 'Request-Id': requestId };
    const method = req.method ?? 'GET';
    const denied = this.controlAuthError(req);
    if (denied) {
      // Drain the body so a keep-alive connection stays usable, then refuse.
      req.resume();
      sendJson(res, denied.status, JSON.stringify(denied.toJson()), headers);
      return;
    }
    try {
      const body = parseJsonObject(await readBody(req));
      const segments = path.split('/').slice(2).filter((s) => s !== '');
      const result = handleControl(this.control, method, segments, new URLSearchParams(query), body);
      sendJson(res, result.status, JSON.stringify(result.body), headers);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      sendJson(res, err.status, JSON.stringify(err.toJson()), headers);
    }
  }

  /** Null when the request carries the emulator's secret key; else the Stripe-shaped 401. */
  private controlAuthError(req: IncomingMessage): ApiError | null {
    const key = apiKeyFrom(req);
    if (key === null || key === '') return errors.noApiKey();
    if (sameSecret(key, this.secretKey)) return null;
    if (sameSecret(key, this.publishableKey)) return errors.publishableKeyNotAllowed();
    return errors.invalidApiKey(key, 'api_key_invalid');
  }

  // ---- POST /3ds/:pi/complete|fail ----

  private async handleThreeDS(req: IncomingMessage, res: ServerResponse, requestId: string, path: string, query: string): Promise<void> {
    const headers: Record<string, string> = { 'Request-Id': requestId, ...CORS_HEADERS };
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.writeHead(204, headers);
      res.end();
      return;
    }
    if (method !== 'POST') {
      // GET /3ds/... belongs to the Stripe.js side (the challenge page).
      await this.handleOther(req, res, requestId, req.url ?? path);
      return;
    }
    try {
      const [, id, action] = THREE_DS_PATH.exec(path) as RegExpExecArray;
      const raw = await readBody(req);
      const contentType = req.headers['content-type'] ?? '';
      const body = contentType.includes('json') ? parseJsonObject(raw) : parseForm(raw);
      const fromQuery = new URLSearchParams(query).get('client_secret');
      const secret = typeof body.client_secret === 'string' ? body.client_secret : fromQuery;
      const request: RequestInfo = { id: requestId, idempotencyKey: null, origin: originOf(req, this.url) };
      const si = id.startsWith('seti_') ? this.store.setupIntents.get(id) : undefined;
      if (si) {
        // A SetupIntent's challenge (saving a 3-D Secure card).
        if (secret !== si.client_secret) {
          throw errors.invalid('The client_secret provided does not match the client_secret associated with the SetupIntent.', 'client_secret', 'setup_intent_invalid_parameter');
        }
        this.customers.authenticate(si, action === 'complete', request);
        const { metadata: _hiddenSetup, ...setupView } = si;
        sendJson(res, 200, JSON.stringify(setupView), headers);
        return;
      }
      const pi = this.store.paymentIntents.get(id);
      if (!pi) throw errors.resourceMissing('payment_intent', id, 'intent');
      if (!secret) throw errors.missingParam('client_secret');
      if (secret !== pi.client_secret) {
        throw errors.invalid('The client_secret provided does not match the client_secret associated with the PaymentIntent.', 'client_secret', 'payment_intent_invalid_parameter');
      }
      if (action === 'complete') this.payments.completeAuthentication(pi, request);
      else this.payments.failAuthentication(pi, request);
      // A decline after authentication is recorded on the PaymentIntent (last_payment_error), as Stripe.js reports it.
      const { metadata: _hidden, ...view } = pi;
      sendJson(res, 200, JSON.stringify(view), headers);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      sendJson(res, err.status, JSON.stringify(err.toJson()), headers);
    }
  }

  // ---- Stripe.js and everything else ----

  private async handleOther(req: IncomingMessage, res: ServerResponse, requestId: string, rawUrl: string): Promise<void> {
    const origin = originOf(req, this.url);
    res.setHeader('Request-Id', requestId);
    const url = new URL(rawUrl, origin);
    if (handleStripeJsRequest(req, res, url, { origin })) return;
    sendJson(res, 404, JSON.stringify(errors.unrecognizedUrl(req.method ?? 'GET', url.pathname).toJson()), { 'Request-Id': requestId });
  }
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  const emulator = new Emulator(opts);
  const server = http.createServer({ keepAliveTimeout: 30_000, requestTimeout: 60_000, headersTimeout: 30_000 }, (req, res) => emulator.handle(req, res));
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 12111, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  emulator.url = `http://${urlHost}:${port}`;
  await emulator.store.compact();

  let closing: Promise<void> | null = null;
  return {
    url: emulator.url,
    port,
    secretKey: emulator.secretKey,
    publishableKey: emulator.publishableKey,
    webhookSecret: emulator.webhookSecret,
    close() {
      closing ??= (async () => {
        emulator.webhooks.close();
        emulator.clock.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await emulator.store.close();
      })();
      return closing;
    },
  };
}
