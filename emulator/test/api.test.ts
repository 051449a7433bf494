// Wire format, errors, keys, lists and expand.
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectStripeError, futureYear, type Harness, startHarness } from './helpers';

let h: Harness;
let stripe: Stripe;

beforeAll(async () => {
  h = await startHarness();
  stripe = h.stripe(0);
});
afterAll(() => h.close());

describe('request ids, routes and CORS', () => {
  test('every response carries Request-Id: success, errors, control, unknown routes', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    expect(pi.lastResponse.requestId).toMatch(/^req_\w{14}$/);
    const err = await expectStripeError(stripe.paymentIntents.retrieve('pi_missing'));
    expect(err.requestId).toMatch(/^req_/);
    for (const path of ['/v1/nothing_here', '/_emulator/health', '/nope', '/v1/payment_intents']) {
      const res = await h.raw('GET', path);
      expect(res.headers.get('request-id'), path).toMatch(/^req_/);
    }
    const bad = await h.raw('GET', '/v1/payment_intents', { key: 'sk_test_wrong' });
    expect(bad.headers.get('request-id')).toMatch(/^req_/);
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await h.raw('GET', '/_emulator/health')).headers.get('request-id') as string);
    expect(ids.size).toBe(5);
  });

  test('unknown /v1 route → 404 invalid_request_error', async () => {
    const res = await h.raw('POST', '/v1/invoices', { body: 'customer=cus_x' });
    expect(res.status).toBe(404);
    expect(res.json.error).toMatchObject({ type: 'invalid_request_error' });
    expect(String(res.json.error?.message)).toContain('Unrecognized request URL (POST: /v1/invoices)');
    expect((await h.raw('DELETE', '/v1/payment_intents')).status).toBe(404);
    const outside = await h.raw('GET', '/definitely/not/here');
    expect(outside.status).toBe(404);
  });

  test('CORS preflight and headers on /v1 for browser code on another origin', async () => {
    const pre = await fetch(`${h.emu.url}/v1/payment_intents/pi_x/confirm`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    expect(pre.headers.get('access-control-allow-methods')).toMatch(/POST/);
    const res = await h.raw('GET', '/v1/payment_intents', { headers: { origin: 'http://localhost:3000' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toMatch(/Request-Id/);
  });
});

describe('errors', () => {
  test('unknown id → 404 resource_missing with param', async () => {
    const err = await expectStripeError(stripe.paymentIntents.retrieve('pi_nope'));
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('resource_missing');
    expect(err.param).toBe('intent');
    expect(err.message).toBe("No such payment_intent: 'pi_nope'");
    for (const call of [() => stripe.charges.retrieve('ch_nope'), () => stripe.refunds.retrieve('re_nope'), () => stripe.events.retrieve('evt_nope'), () => stripe.paymentMethods.retrieve('pm_nope')]) {
      const e = await expectStripeError(call());
      expect(e.statusCode).toBe(404);
      expect(e.code).toBe('resource_missing');
    }
    const pmMissing = await expectStripeError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_nope' }));
    expect(pmMissing.statusCode).toBe(404);
    expect(pmMissing.param).toBe('payment_method');
  });

  test('unknown parameter → 400 parameter_unknown with param, nested too', async () => {
    const err = await expectStripeError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd', colour: 'red' } as Stripe.PaymentIntentCreateParams));
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('parameter_unknown');
    expect(err.param).toBe('colour');
    expect(err.message).toBe('Received unknown parameter: colour');
    const nested = await expectStripeError(
      stripe.paymentIntents.create({ amount: 1000, currency: 'usd', automatic_payment_methods: { enabled: true, shade: 'x' } } as unknown as Stripe.PaymentIntentCreateParams),
    );
    expect(nested.param).toBe('automatic_payment_methods[shade]');
    const onGet = await h.raw('GET', '/v1/payment_intents?bogus=1');
    expect(onGet.status).toBe(400);
    expect(onGet.json.error).toMatchObject({ code: 'parameter_unknown', param: 'bogus' });
  });

  test.each([
    ['amount=49&currency=usd', 'amount_too_small', 'amount'],
    ['amount=100000000&currency=usd', 'amount_too_large', 'amount'],
    ['amount=10.5&currency=usd', 'parameter_invalid_integer', 'amount'],
    ['amount=abc&currency=usd', 'parameter_invalid_integer', 'amount'],
    ['currency=usd', 'parameter_missing', 'amount'],
    ['amount=1000', 'parameter_missing', 'currency'],
    ['amount=1000&currency=usd&confirm=maybe', undefined, 'confirm'],
    ['amount=1000&currency=zzz', undefined, 'currency'],
    ['amount=1000&currency=usd&capture_method=later', undefined, 'capture_method'],
  ])('bad create params %s → 400 %s', async (body, code, param) => {
    const res = await h.raw('POST', '/v1/payment_intents', { body });
    expect(res.status).toBe(400);
    expect(res.json.error?.type).toBe('invalid_request_error');
    expect(res.json.error?.param).toBe(param);
    if (code) expect(res.json.error?.code).toBe(code);
  });

  test('minimum amounts follow the currency', async () => {
    expect((await stripe.paymentIntents.create({ amount: 30, currency: 'gbp' })).amount).toBe(30);
    const err = await expectStripeError(stripe.paymentIntents.create({ amount: 29, currency: 'gbp' }));
    expect(err.code).toBe('amount_too_small');
    expect(err.message).toBe('Amount must be at least £0.30 gbp');
    expect((await expectStripeError(stripe.paymentIntents.create({ amount: 49, currency: 'usd' }))).message).toBe('Amount must be at least $0.50 usd');
  });

  test('wrong or missing key → 401 StripeAuthenticationError', async () => {
    const wrong = new Stripe('sk_test_not_this_one', { host: '127.0.0.1', port: h.emu.port, protocol: 'http', maxNetworkRetries: 0 });
    const err = await expectStripeError(wrong.paymentIntents.list());
    expect(err).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(err.statusCode).toBe(401);
    expect(err.message).toMatch(/^Invalid API Key provided: sk_test_\*+_one$/);
    const none = await h.raw('GET', '/v1/payment_intents', { key: null });
    expect(none.status).toBe(401);
    expect(none.json.error?.type).toBe('invalid_request_error');
    const basic = await h.raw('GET', '/v1/payment_intents', { key: null, headers: { authorization: `Basic ${Buffer.from(`${h.emu.secretKey}:`).toString('base64')}` } });
    expect(basic.status).toBe(200);
  });
});

describe('publishable key', () => {
  test('may create PaymentMethods, retrieve and confirm a PaymentIntent with its client_secret, nothing else', async () => {
    const browser = h.browser();
    const pm = await browser.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 12, exp_year: futureYear(), cvc: '123' } });
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', metadata: { order_id: 'o_9' } });
    const secret = pi.client_secret as string;

    const seen = await browser.paymentIntents.retrieve(pi.id, { client_secret: secret });
    expect(seen.id).toBe(pi.id);
    expect(seen.metadata).toBeUndefined();

    const missing = await expectStripeError(browser.paymentIntents.retrieve(pi.id));
    expect(missing.statusCode).toBe(400);
    expect(missing.param).toBe('client_secret');
    const mismatch = await expectStripeError(browser.paymentIntents.retrieve(pi.id, { client_secret: `${pi.id}_secret_wrong` }));
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.param).toBe('client_secret');
    const badConfirm = await expectStripeError(browser.paymentIntents.confirm(pi.id, { client_secret: 'nope', payment_method: pm.id } as Stripe.PaymentIntentConfirmParams));
    expect(badConfirm.param).toBe('client_secret');

    const declined = await expectStripeError(browser.paymentIntents.confirm(pi.id, { client_secret: secret, payment_method: 'pm_card_chargeDeclined' } as Stripe.PaymentIntentConfirmParams));
    expect(declined).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(declined.payment_intent?.id).toBe(pi.id);
    expect(declined.payment_intent?.metadata).toBeUndefined();
    const confirmed = await browser.paymentIntents.confirm(pi.id, { client_secret: secret, payment_method: pm.id, expand: ['payment_method'] } as Stripe.PaymentIntentConfirmParams);
    expect(confirmed.status).toBe('succeeded');
    expect((confirmed.payment_method as Stripe.PaymentMethod).card?.last4).toBe('4242');

    for (const call of [
      () => browser.paymentIntents.create({ amount: 1000, currency: 'usd' }),
      () => browser.paymentIntents.list(),
      () => browser.paymentIntents.update(pi.id, { amount: 2000 }),
      () => browser.paymentIntents.cancel(pi.id),
      () => browser.refunds.create({ payment_intent: pi.id }),
      () => browser.events.list(),
      () => browser.charges.list(),
      () => browser.paymentMethods.retrieve(pm.id),
    ]) {
      const err = await expectStripeError(call());
      expect(err).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    }
  });

  test('Stripe.js style: key as a form parameter plus its extra fields', async () => {
    const res = await h.raw('POST', '/v1/payment_methods', {
      key: null,
      body: `type=card&card[number]=4242424242424242&card[exp_month]=12&card[exp_year]=${futureYear()}&card[cvc]=123&key=${h.emu.publishableKey}&guid=x&muid=y&sid=z&payment_user_agent=stripe.js%2Fabc&time_on_page=1234`,
    });
    expect(res.status).toBe(200);
    expect(res.json.id).toMatch(/^pm_/);
    const withSecret = await h.raw('POST', '/v1/payment_methods', { body: `type=card&card[number]=4242424242424242&card[exp_month]=12&card[exp_year]=${futureYear()}&_stripe_version=2025-01-01` });
    expect(withSecret.status).toBe(400);
    expect(withSecret.json.error?.param).toBe('_stripe_version');
  });
});

describe('form encoding and bad bodies', () => {
  test('bracket nesting: metadata[k], expand[0], expand[]', async () => {
    const created = await h.raw('POST', '/v1/payment_intents', {
      body: 'amount=1000&currency=usd&metadata[order_id]=o%201&metadata[note]=a%2Bb+c&payment_method=pm_card_visa&confirm=true&expand[]=latest_charge&expand[]=payment_method',
    });
    expect(created.status).toBe(200);
    expect(created.json.metadata).toEqual({ order_id: 'o 1', note: 'a+b c' });
    expect((created.json.latest_charge as { object: string }).object).toBe('charge');
    expect((created.json.payment_method as { object: string }).object).toBe('payment_method');
    const got = await h.raw('GET', `/v1/payment_intents/${String(created.json.id)}?expand[0]=latest_charge`);
    expect((got.json.latest_charge as { id: string }).id).toMatch(/^ch_/);
  });

  test.each([
    ['amount=1000&currency=usd&metadata=x&metadata[a]=b', 400],
    ['amount=1000&currency=usd&metadata[a][b]=c', 400],
    ['amount=%zz&currency=usd', 400],
    ['%%%&&&===', 400],
    ['amount[]=1&amount[x]=2&currency=usd', 400],
    ['expand[a]=latest_charge&amount=1000&currency=usd', 400],
    ['{"amount":1000,"currency":"usd"}', 400],
    ['\u0000\u0001\u0002binary', 400],
    ['a[[[[[[[[[[[[[]]]]]]]]]]]]=1', 400],
    ['a[b][c][d][e][f][g][h][i][j][k]=1&amount=1000&currency=usd', 400],
  ])('malformed body %j → %i, never a crash', async (body, status) => {
    const res = await h.raw('POST', '/v1/payment_intents', { body });
    expect(res.status).toBe(status);
    expect(res.json.error?.type).toBe('invalid_request_error');
  });

  test('oversized body → 413; the emulator still answers afterwards', async () => {
    const res = await h.raw('POST', '/v1/payment_intents', { body: `amount=1000&currency=usd&description=${'x'.repeat(1_100_000)}` });
    expect(res.status).toBe(413);
    expect((await h.raw('GET', '/_emulator/health')).status).toBe(200);
  });

  test('a request that stops mid-body does not hang the server', async () => {
    const net = await import('node:net');
    const socket = net.connect(h.emu.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(`POST /v1/payment_intents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.emu.secretKey}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\namount=10`);
    socket.destroy();
    const garbage = net.connect(h.emu.port, '127.0.0.1');
    await new Promise((r) => garbage.once('connect', r));
    const reply = new Promise<string>((resolve) => garbage.once('data', (d) => resolve(d.toString())));
    garbage.write('NOT HTTP AT ALL\r\n\r\n');
    expect(await reply).toMatch(/^HTTP\/1.1 400/);
    garbage.destroy();
    expect((await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' })).status).toBe('requires_payment_method');
  });
});

describe('random bodies', () => {
  test('never produce a 5xx, a hang or a non-Stripe error shape', async () => {
    let seed = 20261121;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T,>(items: T[]) => items[Math.floor(rand() * items.length)];
    const atoms = ['amount', 'currency', 'metadata', 'expand', 'confirm', 'payment_method', 'card', 'number', '[', ']', '[]', '[0]', '=', '&', '%', '%2', '%zz', '+', 'usd', '1000', '-1', '1e3', 'true', '', '__proto__', 'constructor', '\u00e9', '\u0000'];
    const paths = ['/v1/payment_intents', '/v1/payment_methods', '/v1/refunds', '/v1/payment_intents/pi_x/confirm', '/v1/payment_intents?x'];
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    paths.push(`/v1/payment_intents/${pi.id}`, `/v1/payment_intents/${pi.id}/confirm`, `/v1/payment_intents/${pi.id}/capture`);
    for (let i = 0; i < 300; i++) {
      const body = Array.from({ length: 1 + Math.floor(rand() * 12) }, () => pick(atoms)).join('');
      // A request with no body at all: it must be answered too (a thrown error is a failure).
      const res = await h.raw(rand() < 0.8 ? 'POST' : 'GET', pick(paths), { body: undefined, headers: {} });
      const post = await h.raw('POST', pick(paths), { body });
      expect(res.status, body).toBeLessThan(500);
      expect(post.status, body).toBeLessThan(500);
      if (post.status >= 400) expect(typeof post.json.error?.message, body).toBe('string');
    }
    expect((await h.raw('GET', '/_emulator/health')).status).toBe(200);
  });
});

describe('lists', () => {
  test('cursor pagination newest first, has_more, ending_before, and auto-pagination', async () => {
    const marker = `batch-${Date.now()}`;
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push((await stripe.paymentIntents.create({ amount: 1000 + i, currency: 'usd', metadata: { marker } })).id);
    const newestFirst = [...ids].reverse();

    const first = await stripe.paymentIntents.list({ limit: 10 });
    expect(first.object).toBe('list');
    expect(first.url).toBe('/v1/payment_intents');
    expect(first.has_more).toBe(true);
    expect(first.data.map((p) => p.id)).toEqual(newestFirst.slice(0, 10));
    const second = await stripe.paymentIntents.list({ limit: 10, starting_after: first.data[9].id });
    expect(second.data.map((p) => p.id)).toEqual(newestFirst.slice(10, 20));
    const back = await stripe.paymentIntents.list({ limit: 5, ending_before: second.data[0].id });
    expect(back.data.map((p) => p.id)).toEqual(newestFirst.slice(5, 10));
    expect(back.has_more).toBe(true);

    const defaultLimit = await stripe.paymentIntents.list();
    expect(defaultLimit.data).toHaveLength(10);

    const all = await stripe.paymentIntents.list({ limit: 7 }).autoPagingToArray({ limit: 1000 });
    const ours = all.filter((p) => p.metadata.marker === marker).map((p) => p.id);
    expect(ours).toEqual(newestFirst);
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length);

    const reversed: string[] = [];
    for await (const pi of stripe.paymentIntents.list({ limit: 4, ending_before: ids[10] })) reversed.push(pi.id);
    expect(reversed.slice(-14)).toEqual(ids.slice(11, 25));

    for (const limit of [0, 101]) {
      const err = await expectStripeError(stripe.paymentIntents.list({ limit }));
      expect(err.param).toBe('limit');
    }
    expect((await expectStripeError(stripe.paymentIntents.list({ starting_after: 'pi_unknown' }))).statusCode).toBe(404);
  });

  test('created filters (gte, lte, gt, lt) on the emulator clock', async () => {
    const early = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    await h.control('POST', '/clock/advance', { seconds: 1000 });
    const late = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    expect(late.created - early.created).toBeGreaterThanOrEqual(1000);
    const since = await stripe.paymentIntents.list({ created: { gte: late.created } });
    expect(since.data.map((p) => p.id)).toEqual([late.id]);
    const before = await stripe.paymentIntents.list({ created: { lte: early.created }, limit: 100 });
    expect(before.data.map((p) => p.id)).toContain(early.id);
    expect(before.data.map((p) => p.id)).not.toContain(late.id);
    expect((await stripe.paymentIntents.list({ created: { gt: late.created } })).data).toHaveLength(0);
    expect((await stripe.paymentIntents.list({ created: { lt: late.created }, limit: 100 })).data.map((p) => p.id)).not.toContain(late.id);
    const exact = await stripe.events.list({ created: late.created, type: 'payment_intent.created' });
    expect(exact.data.map((e) => (e.data.object as Stripe.PaymentIntent).id)).toContain(late.id);
  });

  test('events: type, types[], wildcard, retrieve; charges by payment_intent', async () => {
    const ok = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    await expectStripeError(stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true }));
    const succeeded = await stripe.events.list({ type: 'payment_intent.succeeded', limit: 100 });
    expect(succeeded.data.every((e) => e.type === 'payment_intent.succeeded')).toBe(true);
    expect(succeeded.data[0].data.object).toMatchObject({ id: ok.id, status: 'succeeded' });
    const charges = await stripe.events.list({ types: ['charge.succeeded', 'charge.failed'], limit: 100 });
    expect(new Set(charges.data.map((e) => e.type))).toEqual(new Set(['charge.succeeded', 'charge.failed']));
    const wildcard = await stripe.events.list({ type: 'charge.*', limit: 100 });
    expect(wildcard.data.every((e) => e.type.startsWith('charge.'))).toBe(true);
    const event = await stripe.events.retrieve(succeeded.data[0].id);
    expect(event).toMatchObject({ object: 'event', livemode: false, api_version: expect.any(String), pending_webhooks: 0, type: 'payment_intent.succeeded' });
    expect(event.request).toEqual({ id: ok.lastResponse.requestId, idempotency_key: expect.stringMatching(/^stripe-node-retry-/) });
    const byPi = await stripe.charges.list({ payment_intent: ok.id });
    expect(byPi.data.map((c) => c.id)).toEqual([ok.latest_charge]);
  });

  test('expand on lists (data.latest_charge) and rejected expansions', async () => {
    await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const page = await stripe.paymentIntents.list({ limit: 3, expand: ['data.latest_charge', 'data.payment_method'] });
    const first = page.data[0];
    expect((first.latest_charge as Stripe.Charge).object).toBe('charge');
    expect((first.payment_method as Stripe.PaymentMethod).object).toBe('payment_method');
    const nested = await stripe.refunds.create({ payment_intent: first.id, amount: 100, expand: ['charge', 'payment_intent'] });
    expect((nested.charge as Stripe.Charge).object).toBe('charge');
    const deep = await stripe.paymentIntents.retrieve(first.id, { expand: ['latest_charge.payment_intent'] });
    expect(((deep.latest_charge as Stripe.Charge).payment_intent as Stripe.PaymentIntent).id).toBe(first.id);
    expect((await expectStripeError(stripe.paymentIntents.retrieve(first.id, { expand: ['amount'] }))).param).toBe('expand');
    expect((await expectStripeError(stripe.paymentIntents.list({ expand: ['latest_charge'] }))).statusCode).toBe(400);
    const stored = await stripe.paymentIntents.retrieve(first.id);
    expect(typeof stored.latest_charge).toBe('string');
  });
});

describe('control API', () => {
  test('health, state, reset and bad input', async () => {
    expect((await h.control('GET', '/health')).body).toMatchObject({ status: 'ok' });
    const state = await h.control<{ counts: { payment_intents: number } }>('GET', '/state');
    expect(state.body.counts.payment_intents).toBeGreaterThan(0);
    expect((await h.control('POST', '/clock/advance', { seconds: -5 })).status).toBe(400);
    expect((await h.control('POST', '/webhooks', { mode: 'sideways' })).status).toBe(400);
    expect((await h.control('POST', '/faults', { status: 'x' })).status).toBe(400);
    expect((await h.control('POST', '/faults', { bogus: 1 })).status).toBe(400);
    expect((await h.control('GET', '/nothing')).status).toBe(404);
    const res = await fetch(`${h.emu.url}/_emulator/faults`, { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json', authorization: `Bearer ${h.emu.secretKey}` } });
    expect(res.status).toBe(400);
  });
});
