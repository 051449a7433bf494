// Conformance: everything the emulator answers, checked field by field against Stripe's own
// contract (the type declarations stripe-node ships for the pinned API version, read by
// contract.ts). Objects come from driving the emulator through the official SDK along the paths
// Brisk takes: succeeded, declined, 3-D Secure, captured, canceled, refunded payments, the
// confirmation-token checkout, lists, search, balance transactions, customers, setup intents,
// webhook endpoints and error bodies.
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Contract, loadContract } from './contract';
import { expectStripeError, type Harness, startHarness } from './helpers';

let h: Harness;
let stripe: Stripe;
let contract: Contract;

beforeAll(async () => {
  contract = loadContract();
  h = await startHarness();
  stripe = h.stripe(0);
});
afterAll(() => h.close());

/** The JSON the emulator sent (the SDK adds `lastResponse` to what it returns). */
function wire(value: unknown): unknown {
  const { lastResponse: _lastResponse, ...rest } = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
  return rest;
}

/** Soft, so one run lists every difference of every object in the test. */
function expectConforms(value: unknown): void {
  expect.soft(contract.check(wire(value))).toEqual([]);
}

async function complete3ds(pi: Stripe.PaymentIntent): Promise<void> {
  const res = await fetch(`${h.emu.url}/3ds/${pi.id}/complete`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_secret: pi.client_secret }),
  });
  expect(res.status).toBe(200);
}

/**
 * The one exception: Stripe shows a publishable key a subset of a PaymentIntent (its API reference
 * marks which fields), while the declared type is the secret key's full object.
 */
const PUBLISHABLE_VIEW_EXCEPTION = 'payment_intent.metadata: missing (declared Metadata)';

const SHIPPING = { name: 'Ada Lovelace', address: { line1: '1 Main St', city: 'Springfield', postal_code: '10001', country: 'US' } };

describe('the contract checker', () => {
  // What makes the rest of this file worth running: a planted difference is caught and named.
  test('names a missing field, an undeclared field, a wrong null and an unlisted enum value', async () => {
    const pi = wire(await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true })) as Record<string, unknown>;
    expect(contract.check(pi)).toEqual([]);
    const { currency: _currency, ...withoutCurrency } = pi;
    expect.soft(contract.check(withoutCurrency)).toEqual(['payment_intent.currency: missing (declared string)']);
    expect.soft(contract.check({ ...pi, return_url: 'https://shop.test' })).toEqual(['payment_intent.return_url: not a declared field']);
    expect.soft(contract.check({ ...pi, amount: null })).toEqual(['payment_intent.amount: null, declared non-nullable number']);
    expect.soft(contract.check({ ...pi, status: 'paid' })[0]).toMatch(/^payment_intent\.status: 'paid' is not one of the declared values \(canceled, processing, /);
    const charge = wire(await stripe.charges.retrieve(pi.latest_charge as string)) as Record<string, unknown>;
    expect(contract.check({ ...charge, status: 'paid' })).toEqual(["charge.status: 'paid' is not one of the declared values (succeeded, failed, pending)"]);
  });
});

describe('objects the emulator returns conform to Stripe’s declared types', () => {
  test('a succeeded payment with shipping, its charge, payment method and events', async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 2500,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      shipping: SHIPPING,
      metadata: { order_id: 'o_1' },
      receipt_email: 'ada@example.com',
    });
    expectConforms(pi);
    expectConforms(await stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge', 'payment_method'] }));
    const charge = await stripe.charges.retrieve(pi.latest_charge as string, { expand: ['balance_transaction'] });
    expectConforms(charge);
    expectConforms(await stripe.paymentMethods.retrieve(pi.payment_method as string));
    expectConforms(await stripe.paymentIntents.list({ limit: 3 }));
    expectConforms(await stripe.charges.list({ payment_intent: pi.id }));
  });

  test('a declined payment: the 402 body, the PaymentIntent and the failed charge', async () => {
    const r = await h.raw('POST', '/v1/payment_intents', { body: 'amount=2500&currency=usd&payment_method=pm_card_chargeDeclinedInsufficientFunds&confirm=true' });
    expect(r.status).toBe(402);
    expect.soft(contract.check(r.json)).toEqual([]);
    const pi = await stripe.paymentIntents.retrieve((r.json.error?.payment_intent as { id: string }).id, { expand: ['latest_charge', 'last_payment_error.payment_method'] });
    expect(pi.status).toBe('requires_payment_method');
    expectConforms(pi);
  });

  test('3-D Secure: requires_action (redirect and use_stripe_sdk), then succeeded; a failed challenge', async () => {
    const redirect = await stripe.paymentIntents.create({
      amount: 3000,
      currency: 'eur',
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
      return_url: 'https://shop.test/return',
    });
    expect(redirect.next_action?.type).toBe('redirect_to_url');
    expectConforms(redirect);
    const sdk = await stripe.paymentIntents.create({ amount: 3000, currency: 'eur', payment_method: 'pm_card_threeDSecure2Required', confirm: true, use_stripe_sdk: true, return_url: 'https://shop.test/return' });
    expect(sdk.next_action?.type).toBe('use_stripe_sdk');
    expectConforms(sdk);
    await complete3ds(redirect);
    const done = await stripe.paymentIntents.retrieve(redirect.id, { expand: ['latest_charge'] });
    expect(done.status).toBe('succeeded');
    expectConforms(done);
    const failed = await fetch(`${h.emu.url}/3ds/${sdk.id}/fail`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_secret: sdk.client_secret }) });
    // The challenge page reads it with the client secret: the publishable key's view (below).
    expect(contract.check(await failed.json())).toEqual([PUBLISHABLE_VIEW_EXCEPTION]);
  });

  test('the browser’s view of a PaymentIntent (publishable key, client secret)', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd', automatic_payment_methods: { enabled: true } });
    const r = await h.raw('GET', `/v1/payment_intents/${pi.id}?client_secret=${pi.client_secret}`, { key: h.emu.publishableKey });
    expect(contract.check(r.json)).toEqual([PUBLISHABLE_VIEW_EXCEPTION]);
  });

  test('manual capture, cancel, refunds and their lists', async () => {
    const held = await stripe.paymentIntents.create({ amount: 5000, currency: 'usd', payment_method: 'pm_card_mastercard', confirm: true, capture_method: 'manual' });
    expectConforms(held);
    expectConforms(await stripe.paymentIntents.capture(held.id, { amount_to_capture: 4000 }));
    const other = await stripe.paymentIntents.create({ amount: 5000, currency: 'usd', payment_method: 'pm_card_amex', confirm: true, capture_method: 'manual' });
    expectConforms(await stripe.paymentIntents.cancel(other.id, { cancellation_reason: 'requested_by_customer' }));
    const partial = await stripe.refunds.create({ payment_intent: held.id, amount: 1000, reason: 'requested_by_customer' });
    expectConforms(partial);
    expectConforms(await stripe.refunds.retrieve(partial.id, { expand: ['charge', 'balance_transaction'] }));
    expectConforms(await stripe.refunds.create({ payment_intent: held.id }));
    expectConforms(await stripe.refunds.list({ payment_intent: held.id }));
    expectConforms(await stripe.charges.retrieve(held.latest_charge as string));
  });

  test('every card brand and funding the test cards have', async () => {
    for (const pm of ['pm_card_visa_debit', 'pm_card_mastercard_prepaid', 'pm_card_discover', 'pm_card_diners', 'pm_card_jcb', 'pm_card_unionpay', 'pm_card_amex']) {
      const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: pm, confirm: true, expand: ['latest_charge', 'payment_method'] });
      expectConforms(pi);
    }
  });

  test('confirmation tokens: the test helper, retrieve, and the checkout that uses one', async () => {
    const token = await stripe.testHelpers.confirmationTokens.create({ payment_method: 'pm_card_visa', shipping: SHIPPING, return_url: 'https://shop.test/r' });
    expectConforms(token);
    const pi = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', confirm: true, confirmation_token: token.id });
    expectConforms(pi);
    expectConforms(await stripe.confirmationTokens.retrieve(token.id));
  });

  test('search results and balance transactions with their fees', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 4200, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, metadata: { order_id: 'conf-1' } });
    const found = await stripe.paymentIntents.search({ query: "metadata['order_id']:'conf-1' AND status:'succeeded'", expand: ['data.latest_charge'] });
    expect(found.data.map((p) => p.id)).toEqual([pi.id]);
    expectConforms(found);
    expectConforms(await stripe.charges.search({ query: `amount>=4200 AND metadata['order_id']:'conf-1'` }));
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    const txn = await stripe.balanceTransactions.retrieve(charge.balance_transaction as string, { expand: ['source'] });
    expectConforms(txn);
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 200 });
    expectConforms(await stripe.balanceTransactions.retrieve(refund.balance_transaction as string));
    expectConforms(await stripe.balanceTransactions.list({ limit: 5 }));
  });

  test('customers and setup intents: create, update, list, confirm (succeeded, 3-D Secure, declined), cancel', async () => {
    const customer = await stripe.customers.create({ email: 'ada@example.com', name: 'Ada', metadata: { user: 'u1' }, shipping: SHIPPING });
    expectConforms(customer);
    expectConforms(await stripe.customers.update(customer.id, { phone: '+15555550100', metadata: { tier: 'gold' } }));
    expectConforms(await stripe.customers.retrieve(customer.id));
    expectConforms(await stripe.customers.list({ email: 'ada@example.com' }));
    const saved = await stripe.setupIntents.create({ customer: customer.id, payment_method: 'pm_card_visa', confirm: true, usage: 'off_session' });
    expect(saved.status).toBe('succeeded');
    expectConforms(saved);
    expectConforms(await stripe.paymentMethods.retrieve(saved.payment_method as string));
    const challenged = await stripe.setupIntents.create({ customer: customer.id, payment_method: 'pm_card_authenticationRequiredOnSetup', confirm: true, return_url: 'https://shop.test/saved' });
    expect(challenged.status).toBe('requires_action');
    expectConforms(challenged);
    const declined = await h.raw('POST', '/v1/setup_intents', { body: `customer=${customer.id}&payment_method=pm_card_chargeDeclined&confirm=true` });
    expect(declined.status).toBe(402);
    expect.soft(contract.check(declined.json)).toEqual([]);
    const open = await stripe.setupIntents.create({ customer: customer.id });
    expectConforms(await stripe.setupIntents.update(open.id, { metadata: { k: 'v' } }));
    expectConforms(await stripe.setupIntents.cancel(open.id, { cancellation_reason: 'abandoned' }));
    expectConforms(await stripe.setupIntents.list({ customer: customer.id, expand: ['data.payment_method'] }));
  });

  test('webhook endpoints: create (with its secret), retrieve, update, list, delete', async () => {
    const endpoint = await stripe.webhookEndpoints.create({ url: 'https://shop.test/hooks', enabled_events: ['payment_intent.succeeded'], description: 'shop' });
    expect(endpoint.secret).toMatch(/^whsec_/);
    expectConforms(endpoint);
    expectConforms(await stripe.webhookEndpoints.update(endpoint.id, { disabled: true, metadata: { env: 'test' } }));
    expectConforms(await stripe.webhookEndpoints.retrieve(endpoint.id));
    expectConforms(await stripe.webhookEndpoints.list());
    expect(wire(await stripe.webhookEndpoints.del(endpoint.id))).toEqual({ id: endpoint.id, object: 'webhook_endpoint', deleted: true });
  });

  test('events of every type the payments above emitted', async () => {
    const events = await stripe.events.list({ limit: 100 });
    expect(new Set(events.data.map((e) => e.type)).size).toBeGreaterThan(8);
    expectConforms(events);
    expectConforms(await stripe.events.retrieve(events.data[0].id));
  });

  test('error bodies: bad key, unknown id, unknown parameter, illegal transition', async () => {
    expect.soft(contract.check((await h.raw('GET', '/v1/payment_intents', { key: 'sk_test_not_the_key_at_all' })).json)).toEqual([]);
    expect.soft(contract.check((await h.raw('GET', '/v1/payment_intents/pi_nope')).json)).toEqual([]);
    expect.soft(contract.check((await h.raw('POST', '/v1/payment_intents', { body: 'amount=1&currency=usd&colour=red' })).json)).toEqual([]);
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const err = await expectStripeError(stripe.paymentIntents.cancel(pi.id));
    expect(err.code).toBe('payment_intent_unexpected_state');
    expect.soft(contract.check((await h.raw('POST', `/v1/payment_intents/${pi.id}/cancel`, { body: '' })).json)).toEqual([]);
  });
});
