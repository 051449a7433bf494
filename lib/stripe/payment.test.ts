import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { cardOfCharge, declinedPayment, paymentFromEvent, toPayment, toRefund } from './payment';

const charge = {
  id: 'ch_1',
  object: 'charge',
  amount_refunded: 300,
  payment_method_details: { type: 'card', card: { brand: 'visa', last4: '4242' } },
  outcome: { risk_level: 'elevated', risk_score: 67 },
} as unknown as Stripe.Charge;

const pi = {
  id: 'pi_1',
  object: 'payment_intent',
  status: 'requires_payment_method',
  amount: 8600,
  amount_received: 0,
  currency: 'usd',
  client_secret: 'pi_1_secret_x',
  metadata: { order_id: '3f0e1d2c-0000-4000-8000-000000000001', attempt: '2', note: 'kept' },
  last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  latest_charge: charge,
} as unknown as Stripe.PaymentIntent;

describe('the Stripe seam (lib/stripe/payment.ts)', () => {
  it('translates a PaymentIntent with its expanded charge into our Payment', () => {
    expect(toPayment(pi)).toEqual({
      id: 'pi_1',
      status: 'requires_payment_method',
      amount: 8600,
      amountReceived: 0,
      currency: 'usd',
      clientSecret: 'pi_1_secret_x',
      orderId: '3f0e1d2c-0000-4000-8000-000000000001',
      attempt: 2,
      metadata: { order_id: '3f0e1d2c-0000-4000-8000-000000000001', attempt: '2', note: 'kept' },
      lastError: { code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' },
      charge: { card: { brand: 'visa', last4: '4242' }, risk: { level: 'elevated', score: 67 }, amountRefunded: 300 },
    });
  });

  it('reads no charge from an unexpanded latest_charge, a fresher charge wins, and odd metadata gives no attempt', () => {
    const bare = { ...pi, latest_charge: 'ch_1', last_payment_error: null, metadata: { attempt: '1.5' } } as unknown as Stripe.PaymentIntent;
    expect(toPayment(bare)).toMatchObject({ charge: null, lastError: null, orderId: null, attempt: null });
    expect(toPayment(bare, { ...charge, amount_refunded: 900 } as Stripe.Charge).charge?.amountRefunded).toBe(900);
    for (const attempt of ['0', '-1', 'x', '']) expect(toPayment({ ...bare, metadata: { attempt } } as unknown as Stripe.PaymentIntent).attempt).toBeNull();
  });

  it('takes a stored event charge only when it is the PaymentIntent’s latest', () => {
    const event = { id: 'pi_1', object: 'payment_intent', status: 'succeeded', amount: 8600, amount_received: 8600, currency: 'usd', metadata: {}, latest_charge: 'ch_1' };
    expect(paymentFromEvent(event, charge as never).charge?.card).toEqual({ brand: 'visa', last4: '4242' });
    expect(paymentFromEvent(event, { ...charge, id: 'ch_other' } as never).charge).toBeNull();
    expect(cardOfCharge(charge as never)).toEqual({ brand: 'visa', last4: '4242' });
  });

  it('translates refunds, whichever way Stripe names their PaymentIntent', () => {
    const refund = { id: 're_1', amount: 500, currency: 'usd', status: 'succeeded', reason: null, payment_intent: 'pi_1', metadata: { refund_id: 'ours' } } as unknown as Stripe.Refund;
    expect(toRefund(refund)).toEqual({ id: 're_1', amount: 500, currency: 'usd', status: 'succeeded', reason: null, paymentIntentId: 'pi_1', ourRefundId: 'ours' });
    expect(toRefund({ ...refund, payment_intent: pi, metadata: {}, status: undefined } as unknown as Stripe.Refund)).toMatchObject({ paymentIntentId: 'pi_1', ourRefundId: null, status: null });
  });

  it('finds the declined PaymentIntent in a card error, and nothing in other errors', () => {
    expect(declinedPayment({ type: 'StripeCardError', payment_intent: pi })?.id).toBe('pi_1');
    expect(declinedPayment({ type: 'StripeInvalidRequestError', payment_intent: pi })).toBeNull();
    expect(declinedPayment({ type: 'StripeCardError' })).toBeNull();
    expect(declinedPayment(null)).toBeNull();
  });
});
