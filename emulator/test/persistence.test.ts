// State survives a restart through dataFile: keys, objects, events, idempotency keys, endpoints.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { afterAll, expect, test } from 'vitest';
import { startEmulator } from '../src/server';
import { sleep } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'stripe-emulator-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sdk(key: string, port: number): Stripe {
  return new Stripe(key, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 });
}

test('a restart with the same dataFile keeps keys, objects, events and idempotency keys', async () => {
  const dataFile = join(dir, 'restart', 'stripe.json');
  const first = await startEmulator({ port: 0, dataFile, webhookEndpoints: [{ url: 'http://127.0.0.1:9/hook' }] });
  let stripe = sdk(first.secretKey, first.port);
  const pi = await stripe.paymentIntents.create({ amount: 2500, currency: 'usd', metadata: { order_id: 'o_1' }, payment_method: 'pm_card_visa', confirm: true }, { idempotencyKey: 'order-o_1-1' });
  const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 500 });
  await stripe.paymentIntents.create({ amount: 900, currency: 'usd', payment_method: 'pm_card_authenticationRequired', confirm: true });
  await fetch(`${first.url}/_emulator/clock/advance`, { method: 'POST', body: JSON.stringify({ seconds: 120 }), headers: { authorization: `Bearer ${first.secretKey}` } });
  await first.close();
  const snapshot = JSON.parse(readFileSync(dataFile, 'utf8')) as { payment_intents: unknown[]; card_numbers: Record<string, string> };
  expect(snapshot.payment_intents).toHaveLength(2);

  const second = await startEmulator({ port: 0, dataFile, webhookEndpoints: [{ url: 'http://127.0.0.1:9/hook' }] });
  expect(second.secretKey).toBe(first.secretKey);
  expect(second.publishableKey).toBe(first.publishableKey);
  expect(second.webhookSecret).toBe(first.webhookSecret);
  stripe = sdk(second.secretKey, second.port);
  const again = await stripe.paymentIntents.retrieve(pi.id);
  expect(again).toMatchObject({ status: 'succeeded', metadata: { order_id: 'o_1' }, amount_received: 2500 });
  expect((await stripe.refunds.retrieve(refund.id)).amount).toBe(500);
  expect((await stripe.charges.retrieve(pi.latest_charge as string)).amount_refunded).toBe(500);
  const replay = await stripe.paymentIntents.create({ amount: 2500, currency: 'usd', metadata: { order_id: 'o_1' }, payment_method: 'pm_card_visa', confirm: true }, { idempotencyKey: 'order-o_1-1' });
  expect(replay.id).toBe(pi.id);
  expect(replay.lastResponse.headers['idempotent-replayed']).toBe('true');
  const events = await stripe.events.list({ limit: 100 });
  expect(events.data.length).toBeGreaterThanOrEqual(8);
  const endpoints = await (await fetch(`${second.url}/_emulator/webhook_endpoints`, { headers: { authorization: `Bearer ${second.secretKey}` } })).json() as { data: unknown[] };
  expect(endpoints.data).toHaveLength(1); // the environment's endpoint is not registered twice
  const clock = await (await fetch(`${second.url}/_emulator/clock`, { headers: { authorization: `Bearer ${second.secretKey}` } })).json() as { offset_seconds: number };
  expect(clock.offset_seconds).toBe(120);
  // A PaymentMethod's test-card behaviour survives too: 3-D Secure still completes.
  const pending = (await stripe.paymentIntents.list({ limit: 100 })).data.find((p) => p.status === 'requires_action') as Stripe.PaymentIntent;
  const done = await fetch(`${second.url}/3ds/${pending.id}/complete`, { method: 'POST', body: JSON.stringify({ client_secret: pending.client_secret }), headers: { 'content-type': 'application/json' } });
  expect(((await done.json()) as { status: string }).status).toBe('succeeded');
  await second.close();
});

test('changes reach the journal without a clean shutdown', async () => {
  const dataFile = join(dir, 'crash', 'stripe.json');
  const live = await startEmulator({ port: 0, dataFile });
  const stripe = sdk(live.secretKey, live.port);
  const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
  await sleep(400); // the journal is appended every 200 ms
  // A second process reading the same file sees the change (as a restart after a crash would).
  const reader = await startEmulator({ port: 0, dataFile });
  expect(reader.secretKey).toBe(live.secretKey);
  const seen = await sdk(reader.secretKey, reader.port).paymentIntents.retrieve(pi.id);
  expect(seen.amount).toBe(1000);
  await reader.close();
  await live.close();
});
