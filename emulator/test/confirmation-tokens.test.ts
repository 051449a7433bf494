// ConfirmationTokens: created by Stripe.js (publishable key) from the Payment Element's card,
// read and used by the server (secret key) to create and confirm a PaymentIntent in one call.
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

/** What Stripe.js sends from the Payment Element: the card as payment_method_data, publishable key. */
async function browserToken(number: string, extra: Record<string, string> = {}): Promise<Stripe.ConfirmationToken> {
  const body = new URLSearchParams({
    'payment_method_data[type]': 'card',
    'payment_method_data[card][number]': number,
    'payment_method_data[card][exp_month]': '12',
    'payment_method_data[card][exp_year]': String(futureYear()),
    'payment_method_data[card][cvc]': '123',
    'payment_method_data[billing_details][address][postal_code]': '10001',
    'payment_method_data[billing_details][address][country]': 'US',
    ...extra,
  });
  const r = await h.raw('POST', '/v1/confirmation_tokens', { body: body.toString(), key: h.emu.publishableKey });
  expect(r.status, r.text).toBe(200);
  return r.json as unknown as Stripe.ConfirmationToken;
}

const create = (confirmationToken: string, extra: Partial<Stripe.PaymentIntentCreateParams> = {}, options?: Stripe.RequestOptions) =>
  stripe.paymentIntents.create({ amount: 2500, currency: 'usd', automatic_payment_methods: { enabled: true }, confirm: true, confirmation_token: confirmationToken, ...extra }, options);

describe('ConfirmationTokens', () => {
  test('Stripe.js creates one with the publishable key; the server reads it with the secret key', async () => {
    const token = await browserToken('4242424242424242', { return_url: 'http://shop.test/orders/x' });
    expect(token).toMatchObject({
      object: 'confirmation_token',
      livemode: false,
      payment_intent: null,
      setup_intent: null,
      return_url: 'http://shop.test/orders/x',
      use_stripe_sdk: true,
      payment_method_preview: { type: 'card', card: { brand: 'visa', last4: '4242', exp_month: 12, funding: 'credit' }, billing_details: { address: { postal_code: '10001' } } },
    });
    expect(token.id).toMatch(/^ctoken_/);
    expect(token.expires_at! - token.created).toBe(12 * 3600);
    expect(JSON.stringify(token)).not.toContain('4242424242424242');
    const read = await stripe.confirmationTokens.retrieve(token.id);
    expect(read).toEqual(token);
    // The browser may create, never read or confirm with one.
    expect((await h.raw('GET', `/v1/confirmation_tokens/${token.id}`, { key: h.emu.publishableKey })).status).toBe(401);
    // The secret key creates them only through the test helper.
    expect((await h.raw('POST', '/v1/confirmation_tokens', { body: 'payment_method_data[type]=card' })).status).toBe(401);
    const helper = await stripe.testHelpers.confirmationTokens.create({ payment_method: 'pm_card_visa' });
    expect(helper).toMatchObject({ object: 'confirmation_token', use_stripe_sdk: false, payment_method_preview: { card: { last4: '4242' } } });
  });

  test('create + confirm in one call: a frictionless card succeeds and the token is used up', async () => {
    const token = await browserToken('4242424242424242');
    const pi = await create(token.id, { expand: ['latest_charge'] });
    expect(pi.status).toBe('succeeded');
    expect(pi.amount_received).toBe(2500);
    expect((pi.latest_charge as Stripe.Charge).payment_method_details?.card?.last4).toBe('4242');
    const pm = await stripe.paymentMethods.retrieve(pi.payment_method as string);
    expect(pm.card?.last4).toBe('4242');
    expect((await stripe.confirmationTokens.retrieve(token.id)).payment_intent).toBe(pi.id);
    expect(await eventTypesFor(stripe, pi.id)).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);

    // Single use: not on another PaymentIntent, nor again on this one.
    const other = await stripe.paymentIntents.create({ amount: 100, currency: 'usd' });
    const reuse = await expectStripeError(stripe.paymentIntents.confirm(other.id, { confirmation_token: token.id }));
    expect(reuse.type).toBe('StripeInvalidRequestError');
    expect(reuse.param).toBe('confirmation_token');
    expect(reuse.message).toContain(pi.id);
    expect((await stripe.paymentIntents.retrieve(other.id)).status).toBe('requires_payment_method');
    const second = await expectStripeError(create(token.id));
    expect(second.param).toBe('confirmation_token');
  });

  test('a 3-D Secure card comes back requires_action with next_action for stripe.handleNextAction', async () => {
    const token = await browserToken('4000002500003155', { return_url: 'http://shop.test/orders/y' });
    const pi = await create(token.id);
    expect(pi.status).toBe('requires_action');
    expect(pi.next_action).toMatchObject({ type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect' } });
    const stripeJs = (pi.next_action as unknown as { use_stripe_sdk: { stripe_js: string } }).use_stripe_sdk.stripe_js;
    expect(stripeJs).toContain(`/3ds/${pi.id}?client_secret=`);
    // The challenge, completed as the stand-in's handleNextAction would.
    const done = await fetch(`${h.emu.url}/3ds/${pi.id}/complete`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_secret: pi.client_secret }) });
    expect(((await done.json()) as { status: string }).status).toBe('succeeded');
  });

  test('a decline is a 402 card_error carrying the PaymentIntent; a new token confirms the same PaymentIntent', async () => {
    const token = await browserToken('4000000000000002');
    const err = await expectStripeError(create(token.id, { metadata: { order_id: 'o1' } }));
    expect(err.type).toBe('StripeCardError');
    expect(err.statusCode).toBe(402);
    expect(err.code).toBe('card_declined');
    expect(err.decline_code).toBe('generic_decline');
    const declined = err.payment_intent as Stripe.PaymentIntent;
    expect(declined).toMatchObject({ status: 'requires_payment_method', metadata: { order_id: 'o1' }, last_payment_error: { code: 'card_declined' } });
    const again = await browserToken('4242424242424242');
    const paid = await stripe.paymentIntents.confirm(declined.id, { confirmation_token: again.id });
    expect(paid.status).toBe('succeeded');
  });

  test('an idempotent create + confirm answers a retry with the first answer (decline included)', async () => {
    const token = await browserToken('4000000000000002');
    const key = `ct-${Date.now()}`;
    const first = await expectStripeError(create(token.id, {}, { idempotencyKey: key }));
    const retry = await expectStripeError(create(token.id, {}, { idempotencyKey: key }));
    expect((retry.payment_intent as Stripe.PaymentIntent).id).toBe((first.payment_intent as Stripe.PaymentIntent).id);
    const ok = await browserToken('4242424242424242');
    const key2 = `ct2-${Date.now()}`;
    const a = await create(ok.id, {}, { idempotencyKey: key2 });
    const b = await create(ok.id, {}, { idempotencyKey: key2 });
    expect(b.id).toBe(a.id);
    expect(b.status).toBe('succeeded');
  });

  test('refused: unknown, expired, with the publishable key, beside payment_method, without confirm', async () => {
    const missing = await expectStripeError(create('ctoken_doesnotexist'));
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe('resource_missing');
    const token = await browserToken('4242424242424242');
    const both = await expectStripeError(create(token.id, { payment_method: 'pm_card_visa' }));
    expect(both.param).toBe('confirmation_token');
    const noConfirm = await expectStripeError(create(token.id, { confirm: false }));
    expect(noConfirm.param).toBe('confirmation_token');
    const pi = await stripe.paymentIntents.create({ amount: 100, currency: 'usd' });
    const browser = await h.raw('POST', `/v1/payment_intents/${pi.id}/confirm`, {
      body: `client_secret=${encodeURIComponent(pi.client_secret!)}&confirmation_token=${token.id}`,
      key: h.emu.publishableKey,
    });
    expect(browser.status).toBe(401);
    // Nothing above used the token up.
    expect((await stripe.confirmationTokens.retrieve(token.id)).payment_intent).toBeNull();
    await h.control('POST', '/clock/advance', { seconds: 12 * 3600 });
    const expired = await expectStripeError(create(token.id));
    expect(expired.param).toBe('confirmation_token');
    expect(expired.message).toMatch(/expired/);
  });
});
