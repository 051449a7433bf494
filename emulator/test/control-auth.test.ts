// The control API is for tools holding the emulator's secret key, never for a web page:
// a key on every call, no CORS at all under /_emulator, and no GET hands out a secret.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Harness, startHarness } from './helpers';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ webhookEndpoints: [{ url: 'http://127.0.0.1:9/from-env' }] });
});
afterAll(() => h.close());

const EVIL = 'https://evil.example';

// Every route of the contract, so a new one cannot skip the check unnoticed.
const ROUTES: [string, string, unknown?][] = [
  ['GET', '/health'],
  ['GET', '/state'],
  ['POST', '/reset', {}],
  ['GET', '/webhook_endpoints'],
  ['POST', '/webhook_endpoints', { url: 'http://127.0.0.1:9/evil' }],
  ['DELETE', '/webhook_endpoints/we_x'],
  ['GET', '/deliveries'],
  ['POST', '/events/evt_x/resend', {}],
  ['GET', '/webhooks'],
  ['POST', '/webhooks', { mode: 'hold' }],
  ['POST', '/webhooks/release', {}],
  ['GET', '/clock'],
  ['POST', '/clock/advance', { seconds: 60 }],
  ['GET', '/faults'],
  ['POST', '/faults', { path: '/v1', status: 503 }],
  ['DELETE', '/faults'],
  ['GET', '/latency'],
  ['POST', '/latency', { mean_ms: 1000, jitter_ms: 0 }],
  ['GET', '/rate_limit'],
  ['POST', '/rate_limit', { per_second: 1 }],
];

async function call(method: string, path: string, o: { key?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { origin: EVIL, ...(o.headers ?? {}) };
  if (o.key !== undefined) headers.authorization = `Bearer ${o.key}`;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${h.emu.url}/_emulator${path}`, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text || '{}') as { error?: { type?: string; code?: string; message?: string } } };
}

describe('control API authentication', () => {
  test.each(ROUTES)('%s %s without a key → 401, nothing changes', async (method, path, body) => {
    const res = await call(method, path, { body });
    expect(res.status).toBe(401);
    expect(res.json.error?.type).toBe('invalid_request_error');
    expect(res.json.error?.message).toMatch(/You did not provide an API key/);
    expect(res.headers.get('request-id')).toMatch(/^req_/);
  });

  test.each(ROUTES)('%s %s with a wrong key → 401 api_key_invalid', async (method, path, body) => {
    const res = await call(method, path, { key: 'sk_test_not_the_emulators_key', body });
    expect(res.status).toBe(401);
    expect(res.json.error).toMatchObject({ type: 'invalid_request_error', code: 'api_key_invalid' });
    // The key it was given is not echoed whole.
    expect(res.text).not.toContain('sk_test_not_the_emulators_key');
  });

  test.each(ROUTES)('%s %s with the publishable key → 401 secret_key_required', async (method, path, body) => {
    const res = await call(method, path, { key: h.emu.publishableKey, body });
    expect(res.status).toBe(401);
    expect(res.json.error).toMatchObject({ type: 'invalid_request_error', code: 'secret_key_required' });
  });

  test('a refused call changed nothing: no fault, no latency, no endpoint, no hold', async () => {
    for (const [method, path, body] of ROUTES) await call(method, path, { body });
    const state = await h.control<{ faults: unknown[]; latency: { mean_ms: number }; webhooks: { mode: string; endpoints: { url: string }[] }; rate_limit: { per_second: number } }>('GET', '/state');
    expect(state.status).toBe(200);
    expect(state.body.faults).toEqual([]);
    expect(state.body.latency.mean_ms).toBe(0);
    expect(state.body.rate_limit.per_second).toBe(0);
    expect(state.body.webhooks.mode).toBe('normal');
    expect(state.body.webhooks.endpoints.map((e) => e.url)).toEqual(['http://127.0.0.1:9/from-env']);
  });

  test('Basic auth with the secret key (as curl -u sk_…: sends it) is accepted; Bearer too', async () => {
    const basic = Buffer.from(`${h.emu.secretKey}:`).toString('base64');
    expect((await call('GET', '/health', { headers: { authorization: `Basic ${basic}` } })).status).toBe(200);
    expect((await call('GET', '/health', { key: h.emu.secretKey })).status).toBe(200);
  });

  test('a key in the query string or the body is not enough', async () => {
    expect((await fetch(`${h.emu.url}/_emulator/health?key=${h.emu.secretKey}`)).status).toBe(401);
    expect((await call('POST', '/reset', { body: { key: h.emu.secretKey } })).status).toBe(401);
  });
});

describe('control API and browsers', () => {
  test('no CORS headers at all, with or without a key, whatever the Origin', async () => {
    for (const [method, path, body] of ROUTES.filter(([m]) => m === 'GET')) {
      for (const key of [undefined, h.emu.secretKey]) {
        const res = await call(method, path, { key, body });
        expect(res.headers.get('access-control-allow-origin'), `${method} ${path}`).toBeNull();
        expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      }
    }
  });

  test('an OPTIONS preflight from an evil origin is not granted', async () => {
    for (const path of ['/webhook_endpoints', '/reset', '/faults', '/health']) {
      const res = await fetch(`${h.emu.url}/_emulator${path}`, {
        method: 'OPTIONS',
        headers: { origin: EVIL, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      expect(res.headers.get('access-control-allow-origin'), path).toBeNull();
      expect(res.headers.get('access-control-allow-headers'), path).toBeNull();
      expect(res.headers.get('access-control-allow-methods'), path).toBeNull();
      expect(res.status).not.toBe(204);
      expect(res.status).toBeLessThan(500);
    }
  });

  test('a "simple" cross-site POST (text/plain, no preflight) cannot reset or reconfigure it', async () => {
    const res = await fetch(`${h.emu.url}/_emulator/webhooks`, { method: 'POST', headers: { origin: EVIL, 'content-type': 'text/plain' }, body: JSON.stringify({ mode: 'hold' }) });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect((await h.control<{ mode: string }>('GET', '/webhooks')).body.mode).toBe('normal');
  });

  test('/v1 keeps the CORS that Stripe.js needs (the browser calls it with the publishable key)', async () => {
    const pre = await fetch(`${h.emu.url}/v1/payment_methods`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('secrets', () => {
  test('GET /webhook_endpoints lists endpoints without their secrets; only the POST that registers one answers with it', async () => {
    const created = await h.control<{ id: string; url: string; secret: string }>('POST', '/webhook_endpoints', { url: 'http://127.0.0.1:9/mine', secret: 'whsec_only_once_123' });
    expect(created.status).toBe(200);
    expect(created.body.secret).toBe('whsec_only_once_123');
    const list = await h.control<{ data: Record<string, unknown>[] }>('GET', '/webhook_endpoints');
    expect(list.body.data.map((e) => e.url)).toEqual(expect.arrayContaining(['http://127.0.0.1:9/from-env', 'http://127.0.0.1:9/mine']));
    for (const endpoint of list.body.data) expect(Object.keys(endpoint)).not.toContain('secret');
    await h.control('DELETE', `/webhook_endpoints/${created.body.id}`);
  });

  test('no GET of the control API carries a secret, a signing secret or the secret key', async () => {
    // Something in every list: an event, a delivery attempt, a fault.
    const stripe = h.stripe(0);
    await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    await h.control('POST', '/faults', { path: '/v1/nothing', status: 500 });
    for (const [method, path] of ROUTES.filter(([m]) => m === 'GET')) {
      const res = await call(method, path, { key: h.emu.secretKey });
      expect(res.status, path).toBe(200);
      expect(res.text, path).not.toContain(h.emu.webhookSecret);
      expect(res.text, path).not.toContain(h.emu.secretKey);
      expect(res.text, path).not.toMatch(/whsec_/);
    }
    await h.control('DELETE', '/faults');
  });
});
