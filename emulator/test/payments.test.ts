// Test cards, the PaymentIntent state machine, 3-D Secure, capture, cancel, update and refunds.
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eventTypesFor, expectStripeError, futureYear, type Harness, startHarness } from './helpers';

let h: Harness;
let stripe: Stripe;

beforeAll(async () => {
  h = await startHarness();
  stripe = h.stripe(0);
});
afterAll(() => h.close());

async function cardPaymentMethod(number: string, extra: Partial<Stripe.PaymentMethodCreateParams> = {}) {
  return stripe.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: futureYear(), cvc: '123' }, ...extra });
}

async function threeDSecure(piId: string, action: 'complete' | 'fail', clientSecret: string, json = true) {
  const res = await fetch(`${h.emu.url}/3ds/${piId}/${action}`, {
    method: 'POST',
    headers: { 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded' },
    body: json ? JSON.stringify({ client_secret: clientSecret }) : `client_secret=${encodeURIComponent(clientSecret)}`,
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Stripe.PaymentIntent & { error?: { code: string } } };
}

describe('cards that succeed', () => {
  test('4242424242424242: succeeded with an authorized charge, card details and outcome', async () => {
    const pm = await cardPaymentMethod('4242424242424242', { billing_details: { name: 'Ada', address: { postal_code: '94103' } } });
    expect(pm.id).toMatch(/^pm_/);
    expect(pm.card).toMatchObject({ brand: 'visa', last4: '4242', exp_month: 12, exp_year: futureYear(), funding: 'credit' });
    expect(pm.billing_details.name).toBe('Ada');
    const pi = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: pm.id, confirm: true, expand: ['latest_charge'] });
    expect(pi.status).toBe('succeeded');
    expect(pi.amount_received).toBe(2000);
    expect(pi.client_secret).toMatch(new RegExp(`^${pi.id}_secret_\\w+$`));
    const charge = pi.latest_charge as Stripe.Charge;
    expect(charge.id).toMatch(/^ch_/);
    expect(charge).toMatchObject({ status: 'succeeded', paid: true, captured: true, amount: 2000, amount_captured: 2000, payment_intent: pi.id, payment_method: pm.id });
    expect(charge.outcome).toMatchObject({ network_status: 'approved_by_network', risk_level: 'normal', seller_message: 'Payment complete.', type: 'authorized' });
    expect(typeof charge.outcome?.risk_score).toBe('number');
    expect(charge.payment_method_details?.card).toMatchObject({ brand: 'visa', last4: '4242', exp_month: 12, exp_year: futureYear(), funding: 'credit' });
    expect(charge.payment_method_details?.card?.checks?.address_postal_code_check).toBe('pass');
    expect(await eventTypesFor(stripe, pi.id)).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
  });

  test.each([
    ['5555555555554444', 'mastercard', 'credit'],
    ['378282246310005', 'amex', 'credit'],
    ['4000056655665556', 'visa', 'debit'],
  ])('%s is a %s %s card', async (number, brand, funding) => {
    const pm = await cardPaymentMethod(number);
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: pm.id, confirm: true, expand: ['latest_charge'] });
    expect(pi.status).toBe('succeeded');
    expect((pi.latest_charge as Stripe.Charge).payment_method_details?.card).toMatchObject({ brand, funding, last4: number.slice(-4) });
  });

  test('4000000000009235 succeeds with elevated risk', async () => {
    const pm = await cardPaymentMethod('4000000000009235');
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: pm.id, confirm: true, expand: ['latest_charge'] });
    expect(pi.status).toBe('succeeded');
    expect((pi.latest_charge as Stripe.Charge).outcome).toMatchObject({ risk_level: 'elevated', risk_score: 65 });
  });

  test('pm_card_visa creates a fresh PaymentMethod each time', async () => {
    const a = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const b = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    expect(a.status).toBe('succeeded');
    expect(a.payment_method).toMatch(/^pm_/);
    expect(a.payment_method).not.toBe('pm_card_visa');
    expect(a.payment_method).not.toBe(b.payment_method);
    const pm = await stripe.paymentMethods.retrieve(a.payment_method as string);
    expect(pm.card?.last4).toBe('4242');
  });
});

describe('cards that decline', () => {
  const declines: [string, string, string, string][] = [
    ['4000000000000002', 'card_declined', 'generic_decline', 'Your card was declined.'],
    ['4000000000009995', 'card_declined', 'insufficient_funds', 'Your card has insufficient funds.'],
    ['4000000000009987', 'card_declined', 'lost_card', 'Your card was declined.'],
    ['4000000000009979', 'card_declined', 'stolen_card', 'Your card was declined.'],
    ['4000000000000069', 'expired_card', 'expired_card', 'Your card has expired.'],
    ['4000000000000127', 'incorrect_cvc', 'incorrect_cvc', "Your card's security code is incorrect."],
    ['4000000000000119', 'processing_error', 'processing_error', 'An error occurred while processing your card. Try again in a little bit.'],
    ['4100000000000019', 'card_declined', 'fraudulent', 'Your card was declined.'],
  ];

  test.each(declines)('%s → 402 %s / %s', async (number, code, declineCode, message) => {
    const pm = await cardPaymentMethod(number);
    const created = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', payment_method: pm.id });
    expect(created.status).toBe('requires_confirmation');
    const err = await expectStripeError(stripe.paymentIntents.confirm(created.id));
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(err.statusCode).toBe(402);
    expect(err.type).toBe('StripeCardError');
    expect(err.rawType).toBe('card_error');
    expect(err.code).toBe(code);
    expect(err.decline_code).toBe(declineCode);
    expect(err.message).toBe(message);
    expect(err.charge).toMatch(/^ch_/);
    expect(err.payment_intent?.id).toBe(created.id);
    expect(err.payment_intent?.status).toBe('requires_payment_method');
    expect(err.requestId).toMatch(/^req_/);

    const pi = await stripe.paymentIntents.retrieve(created.id, { expand: ['latest_charge'] });
    expect(pi.status).toBe('requires_payment_method');
    expect(pi.payment_method).toBeNull();
    expect(pi.last_payment_error).toMatchObject({ type: 'card_error', code, decline_code: declineCode, message, charge: err.charge });
    expect(pi.last_payment_error?.payment_method?.id).toBe(pm.id);
    const charge = pi.latest_charge as Stripe.Charge;
    expect(charge).toMatchObject({ id: err.charge, status: 'failed', paid: false, captured: false, failure_code: code, failure_message: message });
    expect(charge.payment_method_details?.card?.last4).toBe(number.slice(-4));
    if (declineCode === 'fraudulent') {
      expect(charge.outcome).toMatchObject({ risk_level: 'highest', type: 'blocked', network_status: 'not_sent_to_network' });
    } else {
      expect(charge.outcome).toMatchObject({ risk_level: 'normal', type: 'issuer_declined', network_status: 'declined_by_network', reason: declineCode });
    }
    expect(await eventTypesFor(stripe, created.id)).toEqual(['payment_intent.created', 'charge.failed', 'payment_intent.payment_failed']);
  });

  test('4242424242424241 fails the Luhn check: 402 incorrect_number when the PaymentMethod is made', async () => {
    const err = await expectStripeError(cardPaymentMethod('4242424242424241'));
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(err.code).toBe('incorrect_number');
    expect(err.message).toBe('Your card number is incorrect.');
    expect(err.param).toBe('card[number]');
  });

  test('card validation: expiry month, past year and cvc', async () => {
    const bad = async (card: { number: string; exp_month: number; exp_year: number; cvc?: string }) =>
      expectStripeError(stripe.paymentMethods.create({ type: 'card', card } as Stripe.PaymentMethodCreateParams));
    expect((await bad({ number: '4242424242424242', exp_month: 13, exp_year: futureYear() })).code).toBe('invalid_expiry_month');
    expect((await bad({ number: '4242424242424242', exp_month: 1, exp_year: 2001 })).code).toBe('invalid_expiry_year');
    expect((await bad({ number: '4242424242424242', exp_month: 1, exp_year: futureYear(), cvc: '12' })).code).toBe('invalid_cvc');
  });

  test('pm_card_chargeDeclined declines; the same PaymentIntent then succeeds with another card', async () => {
    const created = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd' });
    const err = await expectStripeError(stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_chargeDeclined' }));
    expect(err.decline_code).toBe('generic_decline');
    const retried = await stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_visa' });
    expect(retried.status).toBe('succeeded');
    expect(retried.last_payment_error).toBeNull();
    const charges = await stripe.charges.list({ payment_intent: created.id });
    expect(charges.data.map((c) => c.status)).toEqual(['succeeded', 'failed']);
    expect(await eventTypesFor(stripe, created.id)).toEqual([
      'payment_intent.created',
      'charge.failed',
      'payment_intent.payment_failed',
      'charge.succeeded',
      'payment_intent.succeeded',
    ]);
  });

  test('an unknown (live) card number is declined in test mode', async () => {
    const pm = await cardPaymentMethod('4012888888881881');
    const err = await expectStripeError(stripe.paymentIntents.create({ amount: 1500, currency: 'usd', payment_method: pm.id, confirm: true }));
    expect(err.decline_code).toBe('test_mode_live_card');
  });

  test('payment_method_data confirms with raw card details', async () => {
    const created = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd' });
    const pi = await stripe.paymentIntents.confirm(created.id, {
      payment_method_data: { type: 'card', card: { number: '4242424242424242', exp_month: 1, exp_year: futureYear(), cvc: '314' } } as Stripe.PaymentIntentConfirmParams.PaymentMethodData,
    });
    expect(pi.status).toBe('succeeded');
  });
});

describe('3-D Secure', () => {
  test.each(['4000002500003155', '4000002760003184'])('%s requires action, then complete → succeeded', async (number) => {
    const pm = await cardPaymentMethod(number);
    const returnUrl = 'http://localhost:3000/checkout/return';
    const pi = await stripe.paymentIntents.create({ amount: 3000, currency: 'eur', payment_method: pm.id, confirm: true, return_url: returnUrl });
    expect(pi.status).toBe('requires_action');
    expect(pi.latest_charge).toBeNull();
    // Confirmed on the server with a return_url: Stripe answers a redirect to the challenge.
    const challenge = `${h.emu.url}/3ds/${pi.id}?client_secret=${encodeURIComponent(pi.client_secret as string)}&return_url=${encodeURIComponent(returnUrl)}`;
    expect(pi.next_action).toEqual({ type: 'redirect_to_url', redirect_to_url: { return_url: returnUrl, url: challenge } });
    expect(pi).not.toHaveProperty('return_url');
    // Asking for a client SDK to handle it gives use_stripe_sdk instead.
    const sdk = await stripe.paymentIntents.create({ amount: 3000, currency: 'eur', payment_method: pm.id, confirm: true, return_url: returnUrl, use_stripe_sdk: true });
    expect(sdk.next_action).toEqual({
      type: 'use_stripe_sdk',
      use_stripe_sdk: expect.objectContaining({
        type: 'three_d_secure_redirect',
        stripe_js: `${h.emu.url}/3ds/${sdk.id}?client_secret=${encodeURIComponent(sdk.client_secret as string)}&return_url=${encodeURIComponent(returnUrl)}`,
      }),
    });

    const done = await threeDSecure(pi.id, 'complete', pi.client_secret as string);
    expect(done.status).toBe(200);
    expect(done.headers.get('access-control-allow-origin')).toBe('*');
    expect(done.body.status).toBe('succeeded');
    expect(done.body.next_action).toBeNull();
    const after = await stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] });
    expect(after.status).toBe('succeeded');
    expect((after.latest_charge as Stripe.Charge).payment_method_details?.card?.three_d_secure).toMatchObject({ result: 'authenticated' });
    expect(await eventTypesFor(stripe, pi.id)).toEqual([
      'payment_intent.created',
      'payment_intent.requires_action',
      'charge.succeeded',
      'payment_intent.succeeded',
    ]);
  });

  test('fail → requires_payment_method with payment_intent_authentication_failure', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 3000, currency: 'usd', payment_method: 'pm_card_authenticationRequired', confirm: true });
    expect(pi.status).toBe('requires_action');
    const nextAction = pi.next_action as unknown as { use_stripe_sdk: { stripe_js: string } };
    expect(nextAction.use_stripe_sdk.stripe_js).toBe(`${h.emu.url}/3ds/${pi.id}?client_secret=${encodeURIComponent(pi.client_secret as string)}`);
    const failed = await threeDSecure(pi.id, 'fail', pi.client_secret as string, false);
    expect(failed.status).toBe(200);
    expect(failed.body.status).toBe('requires_payment_method');
    const after = await stripe.paymentIntents.retrieve(pi.id);
    expect(after.status).toBe('requires_payment_method');
    expect(after.last_payment_error?.code).toBe('payment_intent_authentication_failure');
    expect(after.latest_charge).toBeNull();
    expect(await eventTypesFor(stripe, pi.id)).toEqual(['payment_intent.created', 'payment_intent.requires_action', 'payment_intent.payment_failed']);
  });

  test('4000008260003178 authenticates, then is declined for insufficient funds', async () => {
    const pm = await cardPaymentMethod('4000008260003178');
    const pi = await stripe.paymentIntents.create({ amount: 3000, currency: 'usd', payment_method: pm.id, confirm: true });
    expect(pi.status).toBe('requires_action');
    const done = await threeDSecure(pi.id, 'complete', pi.client_secret as string);
    expect(done.body.status).toBe('requires_payment_method');
    expect(done.body.last_payment_error).toMatchObject({ code: 'card_declined', decline_code: 'insufficient_funds' });
    expect(await eventTypesFor(stripe, pi.id)).toEqual([
      'payment_intent.created',
      'payment_intent.requires_action',
      'charge.failed',
      'payment_intent.payment_failed',
    ]);
  });

  test('the challenge endpoints check the client secret and the state', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 3000, currency: 'usd', payment_method: 'pm_card_authenticationRequired', confirm: true });
    expect((await threeDSecure(pi.id, 'complete', 'pi_wrong_secret_x')).status).toBe(400);
    expect((await threeDSecure('pi_doesnotexist', 'complete', 'x')).status).toBe(404);
    expect((await threeDSecure(pi.id, 'complete', pi.client_secret as string)).status).toBe(200);
    const again = await threeDSecure(pi.id, 'complete', pi.client_secret as string);
    expect(again.status).toBe(400);
    expect(again.body.error?.code).toBe('payment_intent_unexpected_state');
  });

  test('off_session with a 3-D Secure card is declined with authentication_required', async () => {
    const err = await expectStripeError(
      stripe.paymentIntents.create({ amount: 3000, currency: 'usd', payment_method: 'pm_card_authenticationRequired', confirm: true, off_session: true }),
    );
    expect(err.code).toBe('authentication_required');
  });
});

describe('PaymentIntent lifecycle', () => {
  test('manual capture: requires_capture, then a partial capture succeeds', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 5000, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true });
    expect(pi.status).toBe('requires_capture');
    expect(pi.amount_capturable).toBe(5000);
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({ status: 'succeeded', captured: false, amount_captured: 0 });
    const captured = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 4000 });
    expect(captured).toMatchObject({ status: 'succeeded', amount_received: 4000, amount_capturable: 0 });
    expect(await stripe.charges.retrieve(pi.latest_charge as string)).toMatchObject({ captured: true, amount_captured: 4000 });
    expect(await eventTypesFor(stripe, pi.id)).toEqual([
      'payment_intent.created',
      'charge.succeeded',
      'payment_intent.amount_capturable_updated',
      'charge.captured',
      'payment_intent.succeeded',
    ]);
    const err = await expectStripeError(stripe.paymentIntents.capture(pi.id));
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err.code).toBe('payment_intent_unexpected_state');
  });

  test('cancel, and the transitions a canceled PaymentIntent refuses', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd' });
    const canceled = await stripe.paymentIntents.cancel(pi.id, { cancellation_reason: 'abandoned' });
    expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });
    expect(typeof canceled.canceled_at).toBe('number');
    for (const call of [
      () => stripe.paymentIntents.cancel(pi.id),
      () => stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' }),
      () => stripe.paymentIntents.update(pi.id, { amount: 5000 }),
    ]) {
      const err = await expectStripeError(call());
      expect(err.statusCode).toBe(400);
      expect(err.code).toBe('payment_intent_unexpected_state');
    }
    expect(await eventTypesFor(stripe, pi.id)).toEqual(['payment_intent.created', 'payment_intent.canceled']);
  });

  test('canceling an authorization releases its charge', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true });
    await stripe.paymentIntents.cancel(pi.id);
    expect(await stripe.charges.retrieve(pi.latest_charge as string)).toMatchObject({ refunded: true, amount_refunded: 1200 });
  });

  test('a succeeded PaymentIntent cannot be confirmed again', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const err = await expectStripeError(stripe.paymentIntents.confirm(pi.id));
    expect(err.code).toBe('payment_intent_unexpected_state');
    expect(err.message).toContain('status of succeeded');
  });

  test('confirm without a payment method is refused', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd' });
    const err = await expectStripeError(stripe.paymentIntents.confirm(pi.id));
    expect(err.statusCode).toBe(400);
    expect(err.param).toBe('payment_method');
  });

  test('update: amount, metadata (an empty value removes a key), payment method', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd', metadata: { order_id: 'o_1', cart: 'c_1' } });
    expect(pi.metadata).toEqual({ order_id: 'o_1', cart: 'c_1' });
    expect(pi.automatic_payment_methods).toMatchObject({ enabled: true });
    const updated = await stripe.paymentIntents.update(pi.id, { amount: 1800, metadata: { cart: '', attempt: '2' }, description: 'Order o_1' });
    expect(updated).toMatchObject({ amount: 1800, description: 'Order o_1', metadata: { order_id: 'o_1', attempt: '2' } });
    expect(updated.metadata.cart).toBeUndefined();
    const cleared = await stripe.paymentIntents.update(pi.id, { metadata: '' as unknown as Stripe.MetadataParam });
    expect(cleared.metadata).toEqual({});
    const withPm = await stripe.paymentIntents.update(pi.id, { payment_method: 'pm_card_visa' });
    expect(withPm.status).toBe('requires_confirmation');
    expect((await stripe.paymentIntents.confirm(pi.id)).status).toBe('succeeded');
  });

  test('automatic_payment_methods and payment_method_types', async () => {
    const a = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd', automatic_payment_methods: { enabled: true } });
    expect(a.automatic_payment_methods?.enabled).toBe(true);
    // payment_method_types is not in this SDK's create params type, but the API still takes it.
    const b = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd', payment_method_types: ['card'] } as Stripe.PaymentIntentCreateParams);
    expect(b.automatic_payment_methods).toBeNull();
    expect(b.payment_method_types).toEqual(['card']);
  });
});

describe('refunds', () => {
  test('partial refunds add up; over-refunding is a 400; events for each refund', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const r1 = await stripe.refunds.create({ payment_intent: pi.id, amount: 300, reason: 'requested_by_customer', metadata: { n: '1' } });
    expect(r1).toMatchObject({ object: 'refund', amount: 300, status: 'succeeded', charge: pi.latest_charge, payment_intent: pi.id, reason: 'requested_by_customer' });
    expect(r1.id).toMatch(/^re_/);
    const r2 = await stripe.refunds.create({ charge: pi.latest_charge as string, amount: 200 });
    expect(r2.amount).toBe(200);
    expect(await stripe.charges.retrieve(pi.latest_charge as string)).toMatchObject({ amount_refunded: 500, refunded: false });

    const over = await expectStripeError(stripe.refunds.create({ payment_intent: pi.id, amount: 501 }));
    expect(over).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(over.statusCode).toBe(400);
    expect(over.code).toBe('amount_too_large');
    expect(over.param).toBe('amount');

    const rest = await stripe.refunds.create({ payment_intent: pi.id });
    expect(rest.amount).toBe(500);
    expect(await stripe.charges.retrieve(pi.latest_charge as string)).toMatchObject({ amount_refunded: 1000, refunded: true });
    const again = await expectStripeError(stripe.refunds.create({ payment_intent: pi.id, amount: 1 }));
    expect(again.code).toBe('charge_already_refunded');

    expect((await stripe.refunds.retrieve(r1.id)).metadata).toEqual({ n: '1' });
    const listed = await stripe.refunds.list({ payment_intent: pi.id });
    expect(listed.data.map((r) => r.id)).toEqual([rest.id, r2.id, r1.id]);
    const types = await eventTypesFor(stripe, pi.id);
    const perRefund = ['refund.created', 'charge.refunded', 'refund.updated', 'charge.refund.updated'];
    expect(types.slice(3)).toEqual([...perRefund, ...perRefund, ...perRefund]);
    const events = await stripe.events.list({ type: 'charge.refunded', limit: 1 });
    expect(events.data[0].data.previous_attributes).toEqual({ amount_refunded: 500, refunded: false });
  });

  test('refunds need a captured, successful charge', async () => {
    const open = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    expect((await expectStripeError(stripe.refunds.create({ payment_intent: open.id }))).statusCode).toBe(400);
    const held = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true });
    expect((await expectStripeError(stripe.refunds.create({ charge: held.latest_charge as string }))).code).toBe('charge_not_refundable');
    expect((await expectStripeError(stripe.refunds.create({ charge: 'ch_missing' }))).statusCode).toBe(404);
    expect((await expectStripeError(stripe.refunds.create({}))).code).toBe('parameter_missing');
  });
});
