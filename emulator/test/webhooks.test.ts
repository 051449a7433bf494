// Webhook delivery: signatures stripe-node accepts, retries on the emulator clock, filters,
// duplicate / shuffle / hold / delay modes, resend, and the deliveries log.
import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { eventually, type Harness, type Receiver, startHarness, startReceiver, waitFor } from './helpers';

let h: Harness;
let stripe: Stripe;
let receiver: Receiver;
let endpointId: string | null = null;
const SECRET = 'whsec_test_conformance_secret';

interface Delivery {
  event: string;
  type: string;
  attempt: number;
  status: number | null;
  ok: boolean;
  error: string | null;
  duration_ms: number;
  url: string;
  signature_timestamp: number;
}

beforeAll(async () => {
  h = await startHarness({ webhookRetry: { attempts: 4, baseDelayMs: 1000 }, webhookTimeoutMs: 300 });
  stripe = h.stripe(0);
});
afterEach(async () => {
  if (endpointId) await h.control('DELETE', `/webhook_endpoints/${endpointId}`);
  endpointId = null;
  await h.control('POST', '/webhooks', { mode: 'normal' });
  await receiver?.close();
});
afterAll(() => h.close());

async function listen(body: { secret?: string; enabled_events?: string[] } = {}): Promise<Receiver> {
  receiver = await startReceiver();
  const res = await h.control<{ id: string; secret: string; url: string }>('POST', '/webhook_endpoints', { url: receiver.url, secret: SECRET, ...body });
  expect(res.status).toBe(200);
  expect(res.body.url).toBe(receiver.url);
  endpointId = res.body.id;
  return receiver;
}

function verify(r: { body: string; signature: string }, secret = SECRET): Stripe.Event {
  return stripe.webhooks.constructEvent(r.body, r.signature, secret);
}

async function deliveries(query: string): Promise<Delivery[]> {
  return (await h.control<{ data: Delivery[] }>('GET', `/deliveries?${query}`)).body.data;
}

async function payOnce(card = 'pm_card_visa'): Promise<Stripe.Response<Stripe.PaymentIntent>> {
  return stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: card, confirm: true });
}

describe('delivery and signatures', () => {
  test('each event arrives signed; stripe.webhooks.constructEvent accepts it', async () => {
    const rx = await listen();
    const pi = await payOnce();
    await waitFor(() => rx.received.length >= 3, 5000, 'three deliveries');
    const events = rx.received.map((r) => verify(r));
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']));
    const succeeded = events.find((e) => e.type === 'payment_intent.succeeded') as Stripe.Event;
    expect((succeeded.data.object as Stripe.PaymentIntent).id).toBe(pi.id);
    expect(succeeded).toMatchObject({ object: 'event', livemode: false, api_version: expect.any(String), request: { id: pi.lastResponse.requestId } });
    expect(rx.received[0].signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(() => verify(rx.received[0], 'whsec_wrong')).toThrow(Stripe.errors.StripeSignatureVerificationError);
    // pending_webhooks drops to zero once the endpoint answered 2xx.
    await eventually(async () => (await stripe.events.retrieve(succeeded.id)).pending_webhooks === 0, 5000, 'pending_webhooks 0');
  });

  test('endpoints registered without a secret use the emulator webhook secret', async () => {
    receiver = await startReceiver();
    const res = await h.control<{ id: string; secret: string }>('POST', '/webhook_endpoints', { url: receiver.url });
    endpointId = res.body.id;
    expect(res.body.secret).toBe(h.emu.webhookSecret);
    expect(h.emu.webhookSecret).toMatch(/^whsec_/);
    await payOnce();
    await waitFor(() => receiver.received.length >= 1);
    expect(verify(receiver.received[0], h.emu.webhookSecret).id).toMatch(/^evt_/);
  });

  test('enabled_events filters what an endpoint receives', async () => {
    const rx = await listen({ enabled_events: ['payment_intent.succeeded', 'charge.*'] });
    await payOnce();
    await waitFor(() => rx.received.length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.received.map((r) => r.event.type).sort()).toEqual(['charge.succeeded', 'payment_intent.succeeded']);
  });
});

describe('retries', () => {
  test('failed attempts are retried with backoff on the emulator clock, each signed afresh', async () => {
    const rx = await listen({ enabled_events: ['payment_intent.succeeded'] });
    rx.respond = (n) => (n <= 2 ? 500 : 200);
    const pi = await payOnce();
    await waitFor(() => rx.received.length >= 1);
    const eventId = rx.received[0].event.id;
    // The first retry is 1 s away on the emulator clock: advancing skips the wait.
    await h.control('POST', '/clock/advance', { seconds: 1 });
    await waitFor(() => rx.received.length >= 2);
    await h.control('POST', '/clock/advance', { seconds: 1 });
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.received.length).toBe(2); // second retry is 2 s after the second attempt
    await h.control('POST', '/clock/advance', { seconds: 1 });
    await waitFor(() => rx.received.length >= 3);
    for (const r of rx.received) {
      expect(verify(r).id).toBe(eventId);
      expect((r.event.data.object as Stripe.PaymentIntent).id).toBe(pi.id);
    }
    const log = await deliveries(`event=${eventId}`);
    expect(log.map((d) => [d.attempt, d.status, d.ok])).toEqual([
      [1, 500, false],
      [2, 500, false],
      [3, 200, true],
    ]);
    expect(log.every((d) => d.url === rx.url && d.duration_ms >= 0 && d.type === 'payment_intent.succeeded')).toBe(true);
    await eventually(async () => (await stripe.events.retrieve(eventId)).pending_webhooks === 0, 5000, 'pending_webhooks 0');
  });

  test('a retry hours later (emulator time) still verifies: the signature uses the time of sending', async () => {
    const rx = await listen({ enabled_events: ['payment_intent.created'] });
    rx.respond = (n) => (n === 1 ? 503 : 200);
    await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    await waitFor(() => rx.received.length >= 1);
    await h.control('POST', '/clock/advance', { seconds: 6 * 3600 });
    await waitFor(() => rx.received.length >= 2);
    const event = verify(rx.received[1]);
    const t = Number(/t=(\d+)/.exec(rx.received[1].signature)?.[1]);
    expect(Math.abs(t - Date.now() / 1000)).toBeLessThan(5);
    expect(event.id).toBe(rx.received[0].event.id);
  });

  test('gives up after the configured attempts; timeouts and refused connections count as failures', async () => {
    const rx = await listen({ enabled_events: ['payment_intent.canceled'] });
    rx.respond = (n) => (n === 1 ? 'hang' : 500);
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    await stripe.paymentIntents.cancel(pi.id);
    const eventId = (await stripe.events.list({ type: 'payment_intent.canceled', limit: 1 })).data[0].id;
    // The first attempt times out after 300 ms; then each retry is due within 10 s of emulator time.
    await eventually(async () => (await deliveries(`event=${eventId}`)).length === 1, 5000, 'the timed-out attempt');
    for (let attempt = 2; attempt <= 4; attempt++) {
      await h.control('POST', '/clock/advance', { seconds: 10 });
      await eventually(async () => (await deliveries(`event=${eventId}`)).length === attempt, 5000, `attempt ${attempt}`);
    }
    await h.control('POST', '/clock/advance', { seconds: 3600 });
    await new Promise((r) => setTimeout(r, 100));
    const log = await deliveries(`event=${eventId}`);
    expect(log.map((d) => d.attempt)).toEqual([1, 2, 3, 4]);
    expect(log[0]).toMatchObject({ status: null, error: 'timeout', ok: false });
    expect(log.slice(1).every((d) => d.status === 500)).toBe(true);
    expect((await stripe.events.retrieve(eventId)).pending_webhooks).toBe(1);

    const dead = await h.control<{ id: string }>('POST', '/webhook_endpoints', { url: 'http://127.0.0.1:9/unreachable', enabled_events: ['payment_intent.created'] });
    await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    const refused = await eventually(async () => {
      const found = (await deliveries('type=payment_intent.created')).filter((d) => d.url.includes(':9/'));
      return found.length > 0 && found;
    }, 5000, 'a refused delivery');
    expect(refused[0]).toMatchObject({ status: null, ok: false, error: 'ECONNREFUSED' });
    await h.control('DELETE', `/webhook_endpoints/${dead.body.id}`);
  });
});

describe('modes', () => {
  test('duplicate: every event is delivered twice', async () => {
    const rx = await listen({ enabled_events: ['payment_intent.created'] });
    await h.control('POST', '/webhooks', { mode: 'duplicate' });
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    await waitFor(() => rx.received.length >= 2);
    expect(rx.received.map((r) => verify(r).id)).toEqual([rx.received[0].event.id, rx.received[0].event.id]);
    expect((rx.received[0].event.data.object as Stripe.PaymentIntent).id).toBe(pi.id);
  });

  test('hold, then release delivers everything held', async () => {
    const rx = await listen({ enabled_events: ['payment_intent.created'] });
    const hold = await h.control<{ mode: string }>('POST', '/webhooks', { mode: 'hold' });
    expect(hold.body.mode).toBe('hold');
    for (let i = 0; i < 3; i++) await stripe.paymentIntents.create({ amount: 1000 + i, currency: 'usd' });
    await new Promise((r) => setTimeout(r, 150));
    expect(rx.received).toHaveLength(0);
    expect((await h.control<{ held: number }>('GET', '/webhooks')).body.held).toBe(3);
    const released = await h.control<{ released: number }>('POST', '/webhooks/release');
    expect(released.body.released).toBe(3);
    await waitFor(() => rx.received.length >= 3);
    rx.received.forEach((r) => verify(r));
  });

  test('shuffle: a window of events arrives out of order', async () => {
    const rx = await listen({ enabled_events: ['payment_intent.created'] });
    await h.control('POST', '/webhooks', { mode: 'shuffle', delay_ms: 5000 });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await stripe.paymentIntents.create({ amount: 1000 + i, currency: 'usd' })).id);
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.received).toHaveLength(0); // still inside the window
    await h.control('POST', '/clock/advance', { seconds: 5 });
    await waitFor(() => rx.received.length >= 6);
    const arrived = rx.received.map((r) => (verify(r).data.object as Stripe.PaymentIntent).id);
    expect(new Set(arrived)).toEqual(new Set(ids));
    expect(arrived).not.toEqual(ids);
  });

  test('delay_ms: deliveries are late (emulator clock)', async () => {
    const rx = await listen({ enabled_events: ['payment_intent.created'] });
    await h.control('POST', '/webhooks', { mode: 'normal', delay_ms: 60_000 });
    await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    await new Promise((r) => setTimeout(r, 150));
    expect(rx.received).toHaveLength(0);
    await h.control('POST', '/clock/advance', { seconds: 60 });
    await waitFor(() => rx.received.length >= 1);
    verify(rx.received[0]);
  });
});

describe('resend and the deliveries log', () => {
  test('resend delivers the event again with a fresh signature', async () => {
    const rx = await listen({ enabled_events: ['payment_intent.succeeded'] });
    await payOnce();
    await waitFor(() => rx.received.length >= 1);
    const eventId = rx.received[0].event.id;
    const res = await h.control<{ deliveries: number }>('POST', `/events/${eventId}/resend`);
    expect(res.body.deliveries).toBe(1);
    await waitFor(() => rx.received.length >= 2);
    expect(verify(rx.received[1]).id).toBe(eventId);
    expect((await h.control('POST', '/events/evt_missing/resend')).status).toBe(404);
    const log = await deliveries(`event=${eventId}`);
    expect(log).toHaveLength(2);
    const byType = await deliveries('type=payment_intent.succeeded');
    expect(byType.every((d) => d.type === 'payment_intent.succeeded')).toBe(true);
  });
});
