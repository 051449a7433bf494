// Shared by the conformance suite: an emulator per test file, SDK clients, a webhook receiver.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { type EmulatorOptions, type RunningEmulator, startEmulator } from '../src/server';

export interface Harness {
  emu: RunningEmulator;
  /** An SDK client; pass maxNetworkRetries explicitly. */
  stripe(maxNetworkRetries: number, extra?: Partial<Stripe.StripeConfig>): Stripe;
  /** A client using the publishable key (what Stripe.js in the browser may do). */
  browser(): Stripe;
  control<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  raw(method: string, path: string, init?: { body?: string; headers?: Record<string, string>; key?: string | null }): Promise<RawResponse>;
  close(): Promise<void>;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: { error?: Record<string, unknown> } & Record<string, unknown>;
}

export async function startHarness(opts: EmulatorOptions = {}): Promise<Harness> {
  const emu = await startEmulator({ port: 0, ...opts });
  const clients: Stripe[] = [];
  const make = (key: string, maxNetworkRetries: number, extra?: Partial<Stripe.StripeConfig>) => {
    const client = new Stripe(key, { host: '127.0.0.1', port: emu.port, protocol: 'http', maxNetworkRetries, telemetry: false, ...extra });
    clients.push(client);
    return client;
  };
  return {
    emu,
    stripe: (retries, extra) => make(emu.secretKey, retries, extra),
    browser: () => make(emu.publishableKey, 0),
    async control<T>(method: string, path: string, body?: unknown) {
      const res = await fetch(`${emu.url}/_emulator${path}`, {
        method,
        headers: { authorization: `Bearer ${emu.secretKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as T };
    },
    async raw(method, path, init = {}) {
      const key = init.key === undefined ? emu.secretKey : init.key;
      const headers: Record<string, string> = { ...(init.headers ?? {}) };
      if (key) headers.authorization = `Bearer ${key}`;
      if (init.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(`${emu.url}${path}`, { method, headers, body: init.body });
      const text = await res.text();
      let json: RawResponse['json'] = {};
      try {
        json = JSON.parse(text) as RawResponse['json'];
      } catch {
        // not JSON
      }
      return { status: res.status, headers: res.headers, text, json };
    },
    close: () => emu.close(),
  };
}

export interface Received {
  body: string;
  signature: string;
  event: Stripe.Event;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Status to answer each request with; `hang` never answers. */
  respond: (request: number, event: Stripe.Event) => number | 'hang';
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = { url: '', received: [], respond: () => 200, close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const event = JSON.parse(body) as Stripe.Event;
      receiver.received.push({ body, signature: String(req.headers['stripe-signature'] ?? ''), event, at: Date.now() });
      const answer = receiver.respond(receiver.received.length, event);
      if (answer === 'hang') return;
      res.writeHead(answer, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return receiver;
}

export async function waitFor<T>(check: () => T | undefined | null | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Types of the events about one PaymentIntent (or its charges and refunds), oldest first. */
export async function eventTypesFor(stripe: Stripe, paymentIntentId: string): Promise<string[]> {
  const events = await stripe.events.list({ limit: 100 });
  return events.data
    .filter((e) => {
      const o = e.data.object as { id?: string; payment_intent?: string };
      return o.id === paymentIntentId || o.payment_intent === paymentIntentId;
    })
    .reverse()
    .map((e) => e.type);
}

export async function expectStripeError(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Stripe.errors.StripeError) return err;
    throw err;
  }
  throw new Error('expected a Stripe error, the call succeeded');
}

export function futureYear(): number {
  return new Date().getUTCFullYear() + 3;
}

export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
