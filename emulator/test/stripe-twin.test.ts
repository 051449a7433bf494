// Behaviour Stripe documents and the emulator must share, through the official SDK: the test
// cards, test PaymentMethods and test tokens with their documented outcomes
// (docs.stripe.com/testing), search, balance transactions, setup intents with 3-D Secure,
// webhook endpoints made through the API, and Stripe-Version.
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectStripeError, futureYear, type Harness, startHarness, startReceiver, waitFor } from './helpers';

let h: Harness;
let stripe: Stripe;

beforeAll(async () => {
  h = await startHarness();
  stripe = h.stripe(0);
});
afterAll(() => h.close());

type Outcome =
  | { succeeds: true; brand?: string; funding?: string; country?: string; checks?: Partial<Record<'cvc_check' | 'address_line1_check' | 'address_postal_code_check', string>>; risk?: string }
  | { declines: string; code?: string }
  | { threeDSecure: true; thenDeclines?: string };

/** Stripe's documented test cards and what each one does (docs.stripe.com/testing). */
const CARDS: [number: string, outcome: Outcome][] = [
  ['4242424242424242', { succeeds: true, brand: 'visa', funding: 'credit' }],
  ['4000056655665556', { succeeds: true, brand: 'visa', funding: 'debit' }],
  ['5555555555554444', { succeeds: true, brand: 'mastercard' }],
  ['2223003122003222', { succeeds: true, brand: 'mastercard' }],
  ['5200828282828210', { succeeds: true, brand: 'mastercard', funding: 'debit' }],
  ['5105105105105100', { succeeds: true, brand: 'mastercard', funding: 'prepaid' }],
  ['378282246310005', { succeeds: true, brand: 'amex' }],
  ['371449635398431', { succeeds: true, brand: 'amex' }],
  ['6011111111111117', { succeeds: true, brand: 'discover' }],
  ['6011000990139424', { succeeds: true, brand: 'discover' }],
  ['6011981111111113', { succeeds: true, brand: 'discover', funding: 'debit' }],
  ['3056930009020004', { succeeds: true, brand: 'diners' }],
  ['36227206271667', { succeeds: true, brand: 'diners' }],
  ['6555900000604105', { succeeds: true, brand: 'discover' }],
  ['3566002020360505', { succeeds: true, brand: 'jcb' }],
  ['6200000000000005', { succeeds: true, brand: 'unionpay' }],
  ['6200000000000047', { succeeds: true, brand: 'unionpay', funding: 'debit' }],
  ['6205500000000000004', { succeeds: true, brand: 'unionpay' }],
  ['4000000760000002', { succeeds: true, country: 'BR' }],
  ['4000001240000000', { succeeds: true, country: 'CA' }],
  ['4000004840008001', { succeeds: true, country: 'MX' }],
  ['4000002500000003', { succeeds: true, country: 'FR' }],
  ['4000002760000016', { succeeds: true, country: 'DE' }],
  ['4000008260000000', { succeeds: true, country: 'GB' }],
  ['4000000360000006', { succeeds: true, country: 'AU' }],
  ['4000003920000003', { succeeds: true, country: 'JP' }],
  ['4000000000000002', { declines: 'generic_decline' }],
  ['4000000000009995', { declines: 'insufficient_funds' }],
  ['4000000000009987', { declines: 'lost_card' }],
  ['4000000000009979', { declines: 'stolen_card' }],
  ['4000000000006975', { declines: 'card_velocity_exceeded' }],
  ['4000000000000069', { declines: 'expired_card', code: 'expired_card' }],
  ['4000000000000127', { declines: 'incorrect_cvc', code: 'incorrect_cvc' }],
  ['4000000000000119', { declines: 'processing_error', code: 'processing_error' }],
  ['4000000000000341', { declines: 'generic_decline' }],
  ['4100000000000019', { declines: 'fraudulent' }],
  ['4000000000004954', { declines: 'fraudulent' }],
  ['4000000000009235', { succeeds: true, risk: 'elevated' }],
  ['4000000000000101', { succeeds: true, checks: { cvc_check: 'fail' } }],
  ['4000000000000036', { succeeds: true, checks: { address_postal_code_check: 'fail', address_line1_check: 'pass' } }],
  ['4000000000000028', { succeeds: true, checks: { address_line1_check: 'fail', address_postal_code_check: 'pass' } }],
  ['4000000000000010', { succeeds: true, checks: { address_line1_check: 'fail', address_postal_code_check: 'fail' } }],
  ['4000000000000044', { succeeds: true, checks: { address_line1_check: 'unavailable', address_postal_code_check: 'unavailable' } }],
  ['4000002500003155', { threeDSecure: true }],
  ['4000002760003184', { threeDSecure: true }],
  ['4000000000003220', { threeDSecure: true }],
  ['4000000000003063', { threeDSecure: true }],
  ['4000008260003178', { threeDSecure: true, thenDeclines: 'insufficient_funds' }],
  ['4000008400001629', { threeDSecure: true, thenDeclines: 'generic_decline' }],
  ['4000000000003055', { succeeds: true }],
];

/** Stripe's test PaymentMethods and the card each stands for. Each has a `tok_` twin of the same name. */
const PAYMENT_METHODS: [name: string, number: string][] = [
  ['visa', '4242424242424242'],
  ['us', '4242424242424242'],
  ['visa_debit', '4000056655665556'],
  ['mastercard', '5555555555554444'],
  ['mastercard_debit', '5200828282828210'],
  ['mastercard_prepaid', '5105105105105100'],
  ['amex', '378282246310005'],
  ['discover', '6011111111111117'],
  ['diners', '3056930009020004'],
  ['jcb', '3566002020360505'],
  ['unionpay', '6200000000000005'],
  ['br', '4000000760000002'],
  ['ca', '4000001240000000'],
  ['gb', '4000008260000000'],
  ['chargeDeclined', '4000000000000002'],
  ['visa_chargeDeclined', '4000000000000002'],
  ['chargeDeclinedInsufficientFunds', '4000000000009995'],
  ['visa_chargeDeclinedInsufficientFunds', '4000000000009995'],
  ['visa_chargeDeclinedLostCard', '4000000000009987'],
  ['visa_chargeDeclinedStolenCard', '4000000000009979'],
  ['visa_chargeDeclinedVelocityLimitExceeded', '4000000000006975'],
  ['chargeDeclinedExpiredCard', '4000000000000069'],
  ['chargeDeclinedIncorrectCvc', '4000000000000127'],
  ['chargeDeclinedProcessingError', '4000000000000119'],
  ['chargeCustomerFail', '4000000000000341'],
  ['radarBlock', '4100000000000019'],
  ['riskLevelHighest', '4000000000004954'],
  ['riskLevelElevated', '4000000000009235'],
  ['cvcCheckFail', '4000000000000101'],
  ['avsFail', '4000000000000010'],
  ['authenticationRequired', '4000002760003184'],
  ['authenticationRequiredOnSetup', '4000002500003155'],
  ['authenticationRequiredChargeDeclinedInsufficientFunds', '4000008260003178'],
  ['threeDSecure2Required', '4000000000003220'],
  ['threeDSecureRequired', '4000000000003063'],
  ['threeDSecureOptional', '4000000000003055'],
];

const outcomeOf = (number: string) => (CARDS.find(([n]) => n === number) as [string, Outcome])[1];

/** Pays with a PaymentMethod and checks the documented outcome. */
async function expectOutcome(paymentMethod: string, outcome: Outcome, last4: string): Promise<void> {
  const params = { amount: 2000, currency: 'usd', payment_method: paymentMethod, confirm: true, expand: ['latest_charge', 'payment_method'] };
  if ('declines' in outcome) {
    const err = await expectStripeError(stripe.paymentIntents.create(params));
    expect(err.type).toBe('StripeCardError');
    expect(err.code).toBe(outcome.code ?? 'card_declined');
    expect(err.decline_code ?? err.code).toBe(outcome.declines);
    expect((err.raw as { payment_method?: { card?: { last4?: string } } }).payment_method?.card?.last4).toBe(last4);
    return;
  }
  const pi = await stripe.paymentIntents.create(params);
  expect((pi.payment_method as Stripe.PaymentMethod).card?.last4).toBe(last4);
  if ('threeDSecure' in outcome) {
    expect(pi.status).toBe('requires_action');
    const res = await fetch(`${h.emu.url}/3ds/${pi.id}/complete`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_secret: pi.client_secret }) });
    expect(res.status).toBe(200);
    const after = await stripe.paymentIntents.retrieve(pi.id);
    if (outcome.thenDeclines) expect(after.last_payment_error?.decline_code).toBe(outcome.thenDeclines);
    else expect(after.status).toBe('succeeded');
    return;
  }
  expect(pi.status).toBe('succeeded');
  const card = (pi.payment_method as Stripe.PaymentMethod).card as Stripe.PaymentMethod.Card;
  if (outcome.brand) expect(card.brand).toBe(outcome.brand);
  if (outcome.funding) expect(card.funding).toBe(outcome.funding);
  if (outcome.country) expect(card.country).toBe(outcome.country);
  const charge = pi.latest_charge as Stripe.Charge;
  if (outcome.risk) expect(charge.outcome?.risk_level).toBe(outcome.risk);
  if (outcome.checks) expect(charge.payment_method_details?.card?.checks).toMatchObject(outcome.checks);
}

describe('Stripe’s documented test cards', () => {
  test.each(CARDS)('%s', async (number, outcome) => {
    const pm = await stripe.paymentMethods.create({
      type: 'card',
      card: { number, exp_month: 12, exp_year: futureYear(), cvc: '123' },
      billing_details: { address: { line1: '1 Main St', postal_code: '10001', country: 'US' } },
    });
    await expectOutcome(pm.id, outcome, number.slice(-4));
  });

  test.each(PAYMENT_METHODS)('pm_card_%s (card %s) and its tok_ twin', async (name, number) => {
    // A shortcut has no billing address, so address checks do not run on it.
    const { checks: _checks, ...outcome } = outcomeOf(number) as Outcome & { checks?: unknown };
    await expectOutcome(`pm_card_${name}`, outcome as Outcome, number.slice(-4));
    const fromToken = await stripe.paymentMethods.create({ type: 'card', card: { token: `tok_${name}` } });
    expect(fromToken.card?.last4).toBe(number.slice(-4));
  });

  test('display_brand uses Stripe’s documented names', async () => {
    const brands = await Promise.all(['amex', 'diners', 'unionpay', 'visa'].map((name) => stripe.paymentMethods.create({ type: 'card', card: { token: `tok_${name}` } })));
    expect(brands.map((pm) => pm.card?.display_brand)).toEqual(['american_express', 'diners_club', 'union_pay', 'visa']);
  });

  test('an unknown test token is refused by name', async () => {
    const err = await expectStripeError(stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_nope' } }));
    expect(err.statusCode).toBe(404);
    expect(err.param).toBe('card[token]');
  });
});

describe('search', () => {
  test("field:'value' AND metadata['key']:'value', OR, negation, comparisons and paging", async () => {
    const paid = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, metadata: { order_id: 'search-1' } });
    const open = await stripe.paymentIntents.create({ amount: 2500, currency: 'usd', metadata: { order_id: 'search-1' } });
    const other = await stripe.paymentIntents.create({ amount: 3500, currency: 'eur', metadata: { order_id: 'search-2' } });
    const ids = async (query: string, limit?: number) => (await stripe.paymentIntents.search({ query, limit })).data.map((p) => p.id);
    expect(await ids("metadata['order_id']:'search-1'")).toEqual([open.id, paid.id]);
    expect(await ids("metadata['order_id']:'search-1' AND status:'succeeded'")).toEqual([paid.id]);
    expect(await ids("metadata['order_id']:'search-1' AND -status:'succeeded'")).toEqual([open.id]);
    expect(await ids("metadata['order_id']:'search-2' OR amount:1500")).toEqual([other.id, paid.id]);
    expect(await ids("amount>=2500 AND currency:'usd' AND metadata['order_id']:'search-1'")).toEqual([open.id]);
    const first = await stripe.paymentIntents.search({ query: "metadata['order_id']~'search'", limit: 2 });
    expect(first.has_more).toBe(true);
    const second = await stripe.paymentIntents.search({ query: "metadata['order_id']~'search'", limit: 2, page: first.next_page as string });
    expect([...first.data, ...second.data].map((p) => p.id)).toEqual([other.id, open.id, paid.id]);
    expect((await stripe.charges.search({ query: "metadata['order_id']:'search-1' AND status:'succeeded'" })).data.map((c) => c.payment_intent)).toEqual([paid.id]);
    const mixed = await expectStripeError(stripe.paymentIntents.search({ query: "status:'succeeded' AND amount:1 OR currency:'usd'" }));
    expect(mixed.param).toBe('query');
    const unknown = await expectStripeError(stripe.paymentIntents.search({ query: "colour:'red'" }));
    expect(unknown.message).toContain('colour');
  });
});

describe('balance transactions', () => {
  test('a captured charge’s transaction carries Stripe’s fee; a refund’s is negative with no fee returned', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 10_000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, expand: ['latest_charge.balance_transaction'] });
    const txn = (pi.latest_charge as Stripe.Charge).balance_transaction as Stripe.BalanceTransaction;
    expect(txn).toMatchObject({ object: 'balance_transaction', amount: 10_000, fee: 320, net: 9680, type: 'charge', status: 'pending', source: (pi.latest_charge as Stripe.Charge).id });
    expect(txn.fee_details).toEqual([{ amount: 320, application: null, currency: 'usd', description: 'Stripe processing fees', type: 'stripe_fee' }]);
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 4000 });
    expect(await stripe.balanceTransactions.retrieve(refund.balance_transaction as string)).toMatchObject({ amount: -4000, fee: 0, net: -4000, type: 'refund', source: refund.id });
    await h.control('POST', '/clock/advance', { seconds: 2 * 86400 });
    expect((await stripe.balanceTransactions.retrieve(txn.id)).status).toBe('available');
    const held = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, capture_method: 'manual', expand: ['latest_charge'] });
    expect((held.latest_charge as Stripe.Charge).balance_transaction).toBeNull();
    const captured = await stripe.paymentIntents.capture(held.id, { expand: ['latest_charge.balance_transaction'] });
    expect(((captured.latest_charge as Stripe.Charge).balance_transaction as Stripe.BalanceTransaction).fee).toBe(59);
  });
});

describe('setup intents', () => {
  test('a 3-D Secure card is saved after the challenge and attached to the customer', async () => {
    const customer = await stripe.customers.create({ email: 'grace@example.com' });
    const si = await stripe.setupIntents.create({ customer: customer.id, payment_method: 'pm_card_authenticationRequiredOnSetup', confirm: true, use_stripe_sdk: true });
    expect(si.status).toBe('requires_action');
    expect(si.next_action?.type).toBe('use_stripe_sdk');
    const res = await fetch(`${h.emu.url}/3ds/${si.id}/complete`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_secret: si.client_secret }) });
    expect(res.status).toBe(200);
    const done = await stripe.setupIntents.retrieve(si.id);
    expect(done.status).toBe('succeeded');
    expect((await stripe.paymentMethods.retrieve(done.payment_method as string)).customer).toBe(customer.id);
    const declined = await expectStripeError(stripe.setupIntents.create({ customer: customer.id, payment_method: 'pm_card_visa_chargeDeclined', confirm: true }));
    expect(declined.code).toBe('card_declined');
    expect((declined.raw as { setup_intent?: { status?: string } }).setup_intent?.status).toBe('requires_payment_method');
  });
});

describe('webhook endpoints made through the API', () => {
  test('receive signed events with their own secret; a disabled or deleted one receives nothing', async () => {
    const receiver = await startReceiver();
    try {
      const endpoint = await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ['payment_intent.succeeded'] });
      const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
      const got = await waitFor(() => receiver.received.find((r) => (r.event.data.object as { id: string }).id === pi.id), 5000, 'the event');
      expect(got.event.type).toBe('payment_intent.succeeded');
      expect(stripe.webhooks.constructEvent(got.body, got.signature, endpoint.secret as string).id).toBe(got.event.id);
      await stripe.webhookEndpoints.update(endpoint.id, { disabled: true });
      const quiet = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
      await stripe.webhookEndpoints.del(endpoint.id);
      const gone = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
      await new Promise((r) => setTimeout(r, 300));
      const seen = receiver.received.map((r) => (r.event.data.object as { id: string }).id);
      expect(seen).not.toContain(quiet.id);
      expect(seen).not.toContain(gone.id);
      // The control API sees the same endpoints.
      expect((await h.control<{ data: { id: string }[] }>('GET', '/webhook_endpoints')).body.data.map((e) => e.id)).not.toContain(endpoint.id);
    } finally {
      await receiver.close();
    }
  });
});

describe('Stripe-Version', () => {
  test('the pinned version is served; another one is refused naming the versions spoken', async () => {
    const pinned = await h.raw('GET', '/v1/payment_intents', { headers: { 'stripe-version': Stripe.API_VERSION } });
    expect(pinned.status).toBe(200);
    expect(pinned.headers.get('stripe-version')).toBe(Stripe.API_VERSION);
    const other = h.stripe(0, { apiVersion: '2020-08-27' as Stripe.LatestApiVersion });
    const err = await expectStripeError(other.paymentIntents.list());
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain('2020-08-27');
    expect(err.message).toContain(Stripe.API_VERSION);
  });
});
