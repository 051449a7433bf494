// The payment rules: PaymentMethods from test cards, the PaymentIntent state machine, charges,
// 3-D Secure, captures, cancellations and refunds, and the events each change emits.
import { createHash, randomInt, randomUUID } from 'node:crypto';
import { behaviorOf, brandOf, displayBrandOf, type CardBehavior, DECLINES, type Decline, declineOutcome, luhnValid, PAYMENT_METHOD_SHORTCUTS, successOutcome } from './cards';
import type { Clock } from './clock';
import { ApiError, docUrl, errors } from './errors';
import type { EventLog } from './events';
import { newId, randomString } from './ids';
import { formatAmount, isZeroDecimal } from './money';
import type { Store } from './store';
import type {
  BalanceTransaction,
  BillingDetails,
  Charge,
  ConfirmationToken,
  Json,
  JsonObject,
  Metadata,
  PaymentIntent,
  PaymentIntentStatus,
  PaymentMethod,
  Refund,
  RequestInfo,
  Shipping,
} from './types';

export interface CardInput {
  number: string;
  exp_month: number;
  exp_year: number;
  cvc: string | null;
}

export interface BillingDetailsInput {
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  address?: Partial<Record<'city' | 'country' | 'line1' | 'line2' | 'postal_code' | 'state', string | null>>;
}

export interface CreatePaymentIntentInput {
  amount: number;
  currency: string;
  metadata: Metadata;
  description: string | null;
  receipt_email: string | null;
  capture_method: PaymentIntent['capture_method'];
  confirmation_method: PaymentIntent['confirmation_method'];
  automatic_payment_methods: PaymentIntent['automatic_payment_methods'];
  payment_method_types: string[];
  payment_method: PaymentMethod | null;
  setup_future_usage: string | null;
  shipping: Shipping | null;
  statement_descriptor: string | null;
  statement_descriptor_suffix: string | null;
}

export interface ConfirmOptions {
  paymentMethod: PaymentMethod | null;
  returnUrl?: string | null;
  offSession?: boolean;
  errorOnRequiresAction?: boolean;
  receiptEmail?: string | null;
  captureMethod?: PaymentIntent['capture_method'];
  setupFutureUsage?: string | null;
  shipping?: Shipping | null;
  /** Next actions for a client SDK (`use_stripe_sdk`) rather than a redirect to `return_url`. */
  useStripeSdk?: boolean;
}

/** What a ConfirmationToken carries besides its card (Stripe.js sets these from `params`). */
export interface ConfirmationTokenInput {
  returnUrl: string | null;
  shipping: Shipping | null;
  setupFutureUsage: string | null;
  useStripeSdk: boolean;
}

/** What confirming with a ConfirmationToken takes from it. */
export interface RedeemedToken {
  paymentMethod: PaymentMethod;
  returnUrl: string | null;
  shipping: Shipping | null;
  setupFutureUsage: string | null;
  useStripeSdk: boolean;
}

/** Stripe's ConfirmationTokens expire 12 hours after creation (the API reference's example object). */
export const CONFIRMATION_TOKEN_TTL_SECONDS = 12 * 3600;

/** A confirmation's result: the PaymentIntent, and the card error the API answers with on decline. */
export interface ConfirmResult {
  paymentIntent: PaymentIntent;
  error: ApiError | null;
}

const CONFIRMABLE: readonly PaymentIntentStatus[] = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
const CANCELABLE: readonly PaymentIntentStatus[] = ['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action', 'processing'];
const UPDATABLE: readonly PaymentIntentStatus[] = ['requires_payment_method', 'requires_confirmation', 'requires_action', 'requires_capture'];

const AUTHENTICATION_FAILED_MESSAGE =
  'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.';

function cardError(code: string, message: string, param: string): ApiError {
  return new ApiError(402, { type: 'card_error', code, message, param, doc_url: docUrl(code) });
}

function fingerprintOf(number: string): string {
  const digest = createHash('sha256').update(`brisk-emulator:${number}`).digest();
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let out = '';
  for (let i = 0; i < 16; i++) out += alphabet[digest[i] % 62];
  return out;
}

function digits(count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += String(randomInt(10));
  return out;
}

function nullable(value: string | null | undefined): string | null {
  return value === undefined || value === '' ? null : value;
}

const PAST_TENSE: Record<string, string> = { cancel: 'canceled', capture: 'captured', update: 'updated' };

function stateError(action: string, status: PaymentIntentStatus, allowed: readonly PaymentIntentStatus[]): ApiError {
  return errors.unexpectedState(
    `You cannot ${action} this PaymentIntent because it has a status of ${status}. Only a PaymentIntent with one of the following statuses may be ${PAST_TENSE[action] ?? action}: ${allowed.join(', ')}.`,
  );
}

export class Payments {
  constructor(
    private readonly store: Store,
    private readonly events: EventLog,
    private readonly clock: Clock,
  ) {}

  // ---- PaymentMethods ----

  createPaymentMethod(card: CardInput, billing: BillingDetailsInput, metadata: Metadata): PaymentMethod {
    const { pm, number } = this.buildPaymentMethod(card, billing, metadata);
    this.store.paymentMethods.insert(pm);
    this.store.setCardNumber(pm.id, number);
    return pm;
  }

  /** Validates a card as Stripe does and builds its PaymentMethod, without storing it. */
  private buildPaymentMethod(card: CardInput, billing: BillingDetailsInput, metadata: Metadata): { pm: PaymentMethod; number: string } {
    const number = card.number.replace(/[\s-]/g, '');
    if (!/^\d{12,19}$/.test(number) || !luhnValid(number)) throw cardError('incorrect_number', 'Your card number is incorrect.', 'card[number]');
    if (!Number.isInteger(card.exp_month) || card.exp_month < 1 || card.exp_month > 12) {
      throw cardError('invalid_expiry_month', "Your card's expiration month is invalid.", 'card[exp_month]');
    }
    const year = card.exp_year < 100 ? 2000 + card.exp_year : card.exp_year;
    const today = new Date(this.clock.now());
    const thisYear = today.getUTCFullYear();
    if (year < thisYear || year > thisYear + 50) throw cardError('invalid_expiry_year', "Your card's expiration year is invalid.", 'card[exp_year]');
    if (year === thisYear && card.exp_month < today.getUTCMonth() + 1) {
      throw cardError('invalid_expiry_month', "Your card's expiration date is in the past.", 'card[exp_month]');
    }
    if (card.cvc !== null && !/^\d{3,4}$/.test(card.cvc)) throw cardError('invalid_cvc', "Your card's security code is invalid.", 'card[cvc]');

    const behavior = behaviorOf(number);
    const billingDetails: BillingDetails = {
      address: {
        city: nullable(billing.address?.city),
        country: nullable(billing.address?.country),
        line1: nullable(billing.address?.line1),
        line2: nullable(billing.address?.line2),
        postal_code: nullable(billing.address?.postal_code),
        state: nullable(billing.address?.state),
      },
      email: nullable(billing.email),
      name: nullable(billing.name),
      phone: nullable(billing.phone),
      tax_id: null,
    };
    const brand = brandOf(number);
    const pm: PaymentMethod = {
      id: newId('pm'),
      object: 'payment_method',
      allow_redisplay: 'unspecified',
      billing_details: billingDetails,
      card: {
        brand,
        checks: {
          address_line1_check: billingDetails.address.line1 ? 'unchecked' : null,
          address_postal_code_check: billingDetails.address.postal_code ? 'unchecked' : null,
          cvc_check: card.cvc ? 'unchecked' : null,
        },
        country: behavior.country,
        display_brand: displayBrandOf(brand),
        exp_month: card.exp_month,
        exp_year: year,
        fingerprint: fingerprintOf(number),
        funding: behavior.funding,
        generated_from: null,
        last4: number.slice(-4),
        networks: { available: [brand], preferred: null },
        regulated_status: 'unregulated',
        three_d_secure_usage: { supported: true },
        wallet: null,
      },
      created: this.clock.nowSeconds(),
      customer: null,
      customer_account: null,
      livemode: false,
      metadata,
      type: 'card',
    };
    return { pm, number };
  }

  // ---- ConfirmationTokens ----

  /**
   * A ConfirmationToken for card details (Stripe.js, publishable key) or for an existing
   * PaymentMethod (the test helper, secret key). The card number is kept like a PaymentMethod's,
   * by the token's id, and never returned; the PaymentMethod itself is created when the token
   * confirms a PaymentIntent.
   */
  createConfirmationToken(source: { card: CardInput; billing: BillingDetailsInput } | { paymentMethod: PaymentMethod }, input: ConfirmationTokenInput): ConfirmationToken {
    let pm: PaymentMethod;
    let number: string;
    if ('card' in source) {
      ({ pm, number } = this.buildPaymentMethod(source.card, source.billing, {}));
    } else {
      pm = source.paymentMethod;
      number = this.store.cardNumbers.get(pm.id) ?? '';
    }
    const { fingerprint: _fingerprint, ...card } = pm.card;
    const created = this.clock.nowSeconds();
    const token: ConfirmationToken = {
      id: newId('ctoken'),
      object: 'confirmation_token',
      created,
      expires_at: created + CONFIRMATION_TOKEN_TTL_SECONDS,
      livemode: false,
      mandate_data: null,
      metadata: null,
      payment_intent: null,
      payment_method_options: null,
      payment_method_preview: { allow_redisplay: 'unspecified', billing_details: pm.billing_details, card, customer: null, customer_account: null, type: 'card' },
      return_url: input.returnUrl,
      setup_future_usage: input.setupFutureUsage,
      setup_intent: null,
      shipping: input.shipping && { address: input.shipping.address, name: input.shipping.name, phone: input.shipping.phone },
      use_stripe_sdk: input.useStripeSdk,
    };
    this.store.confirmationTokens.insert(token);
    this.store.setCardNumber(token.id, number);
    return token;
  }

  /** The token, if it can still confirm `pi` (validation stage: nothing changes). */
  checkConfirmationToken(id: string): ConfirmationToken {
    const token = this.store.confirmationTokens.get(id);
    if (!token) throw errors.resourceMissing('confirmation_token', id, 'confirmation_token');
    if (token.payment_intent !== null) {
      throw errors.invalid(
        `This ConfirmationToken has already been used to confirm PaymentIntent ${token.payment_intent}; a ConfirmationToken can be used only once. Create a new ConfirmationToken with Stripe.js and try again.`,
        'confirmation_token',
      );
    }
    if (this.clock.nowSeconds() >= token.expires_at) {
      throw errors.invalid('This ConfirmationToken has expired. Create a new ConfirmationToken with Stripe.js and try again.', 'confirmation_token');
    }
    return token;
  }

  /** Uses the token up on `pi` and creates the PaymentMethod it carries. */
  redeemConfirmationToken(token: ConfirmationToken, pi: PaymentIntent): RedeemedToken {
    const preview = token.payment_method_preview;
    const number = this.store.cardNumbers.get(token.id) ?? '';
    const pm: PaymentMethod = {
      id: newId('pm'),
      object: 'payment_method',
      allow_redisplay: 'unspecified',
      billing_details: preview.billing_details,
      card: { ...preview.card, fingerprint: fingerprintOf(number) },
      created: this.clock.nowSeconds(),
      customer: null,
      customer_account: null,
      livemode: false,
      metadata: {},
      type: 'card',
    };
    this.store.paymentMethods.insert(pm);
    this.store.setCardNumber(pm.id, number);
    token.payment_intent = pi.id;
    this.store.confirmationTokens.save(token);
    return { paymentMethod: pm, returnUrl: token.return_url, shipping: token.shipping && { ...token.shipping, carrier: null, tracking_number: null }, setupFutureUsage: token.setup_future_usage, useStripeSdk: token.use_stripe_sdk };
  }

  isShortcut(ref: string): boolean {
    return Object.hasOwn(PAYMENT_METHOD_SHORTCUTS, ref);
  }

  /** Looks up a PaymentMethod id without side effects (validation stage). */
  checkPaymentMethod(ref: string, param = 'payment_method'): void {
    if (this.isShortcut(ref)) return;
    if (!this.store.paymentMethods.get(ref)) throw errors.resourceMissing('PaymentMethod', ref, param);
  }

  /** A PaymentMethod by id, or a fresh one for a `pm_card_*` shortcut. */
  resolvePaymentMethod(ref: string, param = 'payment_method'): PaymentMethod {
    const shortcut = PAYMENT_METHOD_SHORTCUTS[ref];
    if (shortcut !== undefined && Object.hasOwn(PAYMENT_METHOD_SHORTCUTS, ref)) {
      const year = new Date(this.clock.now()).getUTCFullYear() + 3;
      return this.createPaymentMethod({ number: shortcut, exp_month: 12, exp_year: year, cvc: '123' }, {}, {});
    }
    const pm = this.store.paymentMethods.get(ref);
    if (!pm) throw errors.resourceMissing('PaymentMethod', ref, param);
    return pm;
  }

  // ---- PaymentIntents ----

  createPaymentIntent(input: CreatePaymentIntentInput, request: RequestInfo): PaymentIntent {
    const id = newId('pi');
    const pi: PaymentIntent = {
      id,
      object: 'payment_intent',
      allowed_payment_method_types: null,
      amount: input.amount,
      amount_capturable: 0,
      amount_details: { tip: {} },
      amount_received: 0,
      application: null,
      application_fee_amount: null,
      automatic_payment_methods: input.automatic_payment_methods,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: input.capture_method,
      client_secret: `${id}_secret_${randomString(25)}`,
      confirmation_method: input.confirmation_method,
      created: this.clock.nowSeconds(),
      currency: input.currency,
      customer: null,
      customer_account: null,
      description: input.description,
      excluded_payment_method_types: null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      managed_payments: null,
      metadata: input.metadata,
      next_action: null,
      on_behalf_of: null,
      payment_method: input.payment_method?.id ?? null,
      payment_method_configuration_details: null,
      payment_method_options: { card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' } },
      payment_method_types: input.payment_method_types,
      payment_record: null,
      processing: null,
      receipt_email: input.receipt_email,
      review: null,
      setup_future_usage: input.setup_future_usage,
      shipping: input.shipping,
      source: null,
      statement_descriptor: input.statement_descriptor,
      statement_descriptor_suffix: input.statement_descriptor_suffix,
      status: input.payment_method ? 'requires_confirmation' : 'requires_payment_method',
      transfer_data: null,
      transfer_group: null,
    };
    this.store.paymentIntents.insert(pi);
    this.events.emit('payment_intent.created', pi, request);
    return pi;
  }

  assertUpdatable(pi: PaymentIntent): void {
    if (!UPDATABLE.includes(pi.status)) stateErrorThrow('update', pi.status, UPDATABLE);
  }

  /** Applies already-validated changes (POST /v1/payment_intents/:id). Updates emit no event, as in Stripe. */
  updatePaymentIntent(pi: PaymentIntent, changes: Partial<Pick<PaymentIntent, 'amount' | 'currency' | 'metadata' | 'description' | 'receipt_email' | 'capture_method' | 'setup_future_usage' | 'shipping' | 'statement_descriptor' | 'statement_descriptor_suffix' | 'payment_method_types'>>, paymentMethod: PaymentMethod | null | undefined): PaymentIntent {
    this.assertUpdatable(pi);
    if (pi.status === 'requires_capture' && (changes.amount !== undefined || changes.currency !== undefined || paymentMethod !== undefined)) {
      throw errors.unexpectedState(
        'You cannot update the amount, currency or payment method of this PaymentIntent because it has a status of requires_capture.',
      );
    }
    Object.assign(pi, changes);
    if (paymentMethod !== undefined) {
      pi.payment_method = paymentMethod?.id ?? null;
      if (pi.status !== 'requires_capture') {
        pi.status = paymentMethod ? 'requires_confirmation' : 'requires_payment_method';
        pi.next_action = null;
      }
    }
    this.store.paymentIntents.save(pi);
    return pi;
  }

  assertConfirmable(pi: PaymentIntent): void {
    if (!CONFIRMABLE.includes(pi.status)) {
      throw errors.unexpectedState(
        `You cannot confirm this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be confirmed: ${CONFIRMABLE.join(', ')}.`,
      );
    }
  }

  confirm(pi: PaymentIntent, options: ConfirmOptions, request: RequestInfo): ConfirmResult {
    this.assertConfirmable(pi);
    const pm = options.paymentMethod ?? (pi.payment_method ? (this.store.paymentMethods.get(pi.payment_method) ?? null) : null);
    if (!pm) {
      throw errors.invalid(
        "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
        'payment_method',
        'payment_intent_unexpected_state',
      );
    }
    if (options.receiptEmail !== undefined) pi.receipt_email = options.receiptEmail;
    if (options.captureMethod !== undefined) pi.capture_method = options.captureMethod;
    if (options.setupFutureUsage !== undefined) pi.setup_future_usage = options.setupFutureUsage;
    if (options.shipping !== undefined) pi.shipping = options.shipping;
    pi.payment_method = pm.id;
    pi.last_payment_error = null;
    pi.next_action = null;
    const card = behaviorOf(this.store.cardNumbers.get(pm.id) ?? '');

    if (card.threeDSecure) {
      if (options.offSession || options.errorOnRequiresAction) return this.attemptCharge(pi, pm, card, request, false, DECLINES.authenticationRequired);
      pi.status = 'requires_action';
      // return_url rides along so the challenge page, opened outside Stripe.js, can send the shopper back.
      const returnUrl = options.returnUrl ?? null;
      const back = returnUrl ? `&return_url=${encodeURIComponent(returnUrl)}` : '';
      const challenge = `${request.origin}/3ds/${pi.id}?client_secret=${encodeURIComponent(pi.client_secret)}${back}`;
      // As on Stripe: a confirm with a return_url gets a redirect, unless it asked for a client SDK to act.
      pi.next_action =
        returnUrl && !options.useStripeSdk
          ? { type: 'redirect_to_url', redirect_to_url: { return_url: returnUrl, url: challenge } }
          : { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: challenge, source: `src_${pi.id.slice(3)}` } };
      this.store.paymentIntents.save(pi);
      this.events.emit('payment_intent.requires_action', pi, request);
      return { paymentIntent: pi, error: null };
    }
    return this.attemptCharge(pi, pm, card, request, false, card.decline);
  }

  /** The shopper passed the 3-D Secure challenge: the charge is attempted now. */
  completeAuthentication(pi: PaymentIntent, request: RequestInfo): ConfirmResult {
    const pm = this.authenticatingPaymentMethod(pi);
    pi.next_action = null;
    const card = behaviorOf(this.store.cardNumbers.get(pm.id) ?? '');
    return this.attemptCharge(pi, pm, card, request, true, card.decline);
  }

  /** The shopper failed (or abandoned) the 3-D Secure challenge. */
  failAuthentication(pi: PaymentIntent, request: RequestInfo): PaymentIntent {
    const pm = this.authenticatingPaymentMethod(pi);
    pi.status = 'requires_payment_method';
    pi.next_action = null;
    pi.payment_method = null;
    pi.last_payment_error = {
      type: 'invalid_request_error',
      code: 'payment_intent_authentication_failure',
      message: AUTHENTICATION_FAILED_MESSAGE,
      doc_url: docUrl('payment_intent_authentication_failure'),
      payment_method: pm,
      payment_method_type: 'card',
    };
    this.store.paymentIntents.save(pi);
    this.events.emit('payment_intent.payment_failed', pi, request);
    return pi;
  }

  capture(pi: PaymentIntent, amountToCapture: number | null, request: RequestInfo): PaymentIntent {
    if (pi.status !== 'requires_capture') stateErrorThrow('capture', pi.status, ['requires_capture']);
    const amount = amountToCapture ?? pi.amount_capturable;
    if (amount < 1 || amount > pi.amount_capturable) {
      throw errors.invalid(
        `The amount to capture (${formatAmount(amount, pi.currency)}) must be between 1 and the amount capturable (${formatAmount(pi.amount_capturable, pi.currency)}).`,
        'amount_to_capture',
        amount < 1 ? 'amount_too_small' : 'amount_too_large',
      );
    }
    const charge = pi.latest_charge ? this.store.charges.get(pi.latest_charge) : undefined;
    if (charge) {
      const previous: JsonObject = { amount_captured: charge.amount_captured, captured: charge.captured, balance_transaction: charge.balance_transaction };
      charge.captured = true;
      charge.amount_captured = amount;
      charge.balance_transaction = this.recordBalanceTransaction('charge', amount, charge.currency, charge.id, charge.description);
      this.store.charges.save(charge);
      this.events.emit('charge.captured', charge, request, previous);
    }
    pi.status = 'succeeded';
    pi.amount_received = amount;
    pi.amount_capturable = 0;
    this.store.paymentIntents.save(pi);
    this.events.emit('payment_intent.succeeded', pi, request);
    return pi;
  }

  cancel(pi: PaymentIntent, reason: string | null, request: RequestInfo): PaymentIntent {
    if (!CANCELABLE.includes(pi.status)) stateErrorThrow('cancel', pi.status, CANCELABLE);
    if (pi.status === 'requires_capture' && pi.latest_charge) {
      // Releasing an authorization refunds the uncaptured charge.
      const charge = this.store.charges.get(pi.latest_charge);
      if (charge) {
        const previous: JsonObject = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
        charge.amount_refunded = charge.amount;
        charge.refunded = true;
        this.store.charges.save(charge);
        this.events.emit('charge.refunded', charge, request, previous);
      }
    }
    pi.status = 'canceled';
    pi.canceled_at = this.clock.nowSeconds();
    pi.cancellation_reason = reason;
    pi.amount_capturable = 0;
    pi.next_action = null;
    this.store.paymentIntents.save(pi);
    this.events.emit('payment_intent.canceled', pi, request);
    return pi;
  }

  // ---- Refunds ----

  /** The charge a refund for this PaymentIntent applies to (validation stage). */
  refundableChargeOf(pi: PaymentIntent): Charge {
    const charge = pi.latest_charge ? this.store.charges.get(pi.latest_charge) : undefined;
    if (!charge || charge.status !== 'succeeded' || pi.status !== 'succeeded') {
      throw errors.invalid(
        `This PaymentIntent (${pi.id}) does not have a successful charge to refund.`,
        'payment_intent',
        'charge_not_refundable',
      );
    }
    return charge;
  }

  refund(charge: Charge, amount: number | null, reason: string | null, metadata: Metadata, request: RequestInfo): Refund {
    if (charge.status !== 'succeeded') throw errors.invalid(`Charge ${charge.id} has no successful payment to refund.`, 'charge', 'charge_not_refundable');
    if (!charge.captured) {
      throw errors.invalid(
        `Charge ${charge.id} has not been captured; cancel its PaymentIntent to release the authorization instead.`,
        'charge',
        'charge_not_refundable',
      );
    }
    const remaining = charge.amount_captured - charge.amount_refunded;
    if (remaining <= 0) throw errors.invalid(`Charge ${charge.id} has already been refunded.`, 'charge', 'charge_already_refunded');
    const value = amount ?? remaining;
    if (value > remaining) {
      throw errors.invalid(
        `Refund amount (${formatAmount(value, charge.currency)}) is greater than unrefunded amount on charge (${formatAmount(remaining, charge.currency)})`,
        'amount',
        'amount_too_large',
      );
    }
    const refundId = newId('re');
    const refund: Refund = {
      id: refundId,
      object: 'refund',
      amount: value,
      balance_transaction: this.recordBalanceTransaction('refund', -value, charge.currency, refundId, `REFUND FOR CHARGE (${charge.description ?? 'Payment'})`),
      charge: charge.id,
      created: this.clock.nowSeconds(),
      currency: charge.currency,
      customer: charge.customer,
      customer_account: null,
      destination_details: {
        card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' },
        type: 'card',
      },
      metadata,
      payment_intent: charge.payment_intent,
      payment_method: charge.payment_method,
      reason,
      receipt_number: null,
      source_transfer_reversal: null,
      status: 'succeeded',
      transfer_reversal: null,
    };
    this.store.refunds.insert(refund);
    this.events.emit('refund.created', refund, request);

    const previous: JsonObject = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
    charge.amount_refunded += value;
    charge.refunded = charge.amount_refunded >= charge.amount_captured;
    this.store.charges.save(charge);
    this.events.emit('charge.refunded', charge, request, previous);

    // The acquirer reference arrives after the refund is made: Stripe reports it as refund.updated.
    refund.destination_details.card.reference = randomString(23).replace(/\D/g, '').padEnd(23, '7').slice(0, 23);
    refund.destination_details.card.reference_status = 'available';
    this.store.refunds.save(refund);
    // Stripe reports refund changes under both names; charge.refund.updated covers every method.
    const previousRefund: JsonObject = { destination_details: { card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' }, type: 'card' } };
    this.events.emit('refund.updated', refund, request, previousRefund);
    this.events.emit('charge.refund.updated', refund, request, previousRefund);
    return refund;
  }

  /** A balance transaction's funds become available on `available_on` (emulator clock). */
  settleBalanceTransaction(txn: BalanceTransaction): void {
    if (txn.status === 'pending' && this.clock.nowSeconds() >= txn.available_on) {
      txn.status = 'available';
      this.store.balanceTransactions.save(txn);
    }
  }

  // ---- internals ----

  /**
   * The balance transaction of a captured charge (Stripe's US card pricing, 2.9 % + 30¢, the fixed
   * part only in currencies with cents) or of a refund (no fee returned). Funds become available
   * two days later, as with Stripe's standard test-mode payout schedule.
   */
  private recordBalanceTransaction(type: 'charge' | 'refund', amount: number, currency: string, source: string, description: string | null): string {
    const created = this.clock.nowSeconds();
    const fee = type === 'charge' ? Math.round(amount * 0.029) + (isZeroDecimal(currency) ? 0 : 30) : 0;
    const txn: BalanceTransaction = {
      id: newId('txn'),
      object: 'balance_transaction',
      amount,
      available_on: created + 2 * 86400,
      balance_type: 'payments',
      created,
      currency,
      description,
      exchange_rate: null,
      fee,
      fee_details: fee > 0 ? [{ amount: fee, application: null, currency, description: 'Stripe processing fees', type: 'stripe_fee' }] : [],
      net: amount - fee,
      reporting_category: type,
      source,
      status: 'pending',
      type,
    };
    this.store.balanceTransactions.insert(txn);
    return txn.id;
  }

  private authenticatingPaymentMethod(pi: PaymentIntent): PaymentMethod {
    if (pi.status !== 'requires_action') {
      throw errors.unexpectedState(
        `This PaymentIntent has a status of ${pi.status}; only a PaymentIntent with status requires_action has a 3-D Secure challenge to finish.`,
      );
    }
    const pm = pi.payment_method ? this.store.paymentMethods.get(pi.payment_method) : undefined;
    if (!pm) throw errors.unexpectedState('This PaymentIntent has no payment method to authenticate.');
    return pm;
  }

  private attemptCharge(pi: PaymentIntent, pm: PaymentMethod, card: CardBehavior, request: RequestInfo, authenticated: boolean, decline: Decline | null): ConfirmResult {
    const manual = pi.capture_method === 'manual';
    const charge = this.buildCharge(pi, pm, card, authenticated, decline, manual);
    this.store.charges.insert(charge);
    pi.latest_charge = charge.id;
    pi.next_action = null;

    if (decline) {
      pi.status = 'requires_payment_method';
      pi.payment_method = null;
      pi.amount_capturable = 0;
      pi.last_payment_error = {
        type: 'card_error',
        code: decline.code,
        decline_code: decline.decline_code,
        message: decline.message,
        ...(decline.param ? { param: decline.param } : {}),
        doc_url: docUrl(decline.code),
        charge: charge.id,
        payment_method: pm,
        payment_method_type: 'card',
      };
      this.store.paymentIntents.save(pi);
      this.events.emit('charge.failed', charge, request);
      this.events.emit('payment_intent.payment_failed', pi, request);
      const error = new ApiError(402, {
        type: 'card_error',
        code: decline.code,
        decline_code: decline.decline_code,
        message: decline.message,
        ...(decline.param ? { param: decline.param } : {}),
        doc_url: docUrl(decline.code),
        charge: charge.id,
        payment_intent: JSON.parse(JSON.stringify(pi)) as Json,
        payment_method: JSON.parse(JSON.stringify(pm)) as Json,
        request_log_url: `https://dashboard.stripe.com/test/logs/${request.id ?? ''}`,
      });
      return { paymentIntent: pi, error };
    }

    pi.last_payment_error = null;
    if (manual) {
      pi.status = 'requires_capture';
      pi.amount_capturable = pi.amount;
      this.store.paymentIntents.save(pi);
      this.events.emit('charge.succeeded', charge, request);
      this.events.emit('payment_intent.amount_capturable_updated', pi, request);
    } else {
      pi.status = 'succeeded';
      pi.amount_received = pi.amount;
      this.store.paymentIntents.save(pi);
      this.events.emit('charge.succeeded', charge, request);
      this.events.emit('payment_intent.succeeded', pi, request);
    }
    return { paymentIntent: pi, error: null };
  }

  private buildCharge(pi: PaymentIntent, pm: PaymentMethod, card: CardBehavior, authenticated: boolean, decline: Decline | null, manual: boolean): Charge {
    const succeeded = decline === null;
    const captured = succeeded && !manual;
    const id = newId('ch');
    // The ECI of a fully authenticated 3-D Secure payment: 02 on Mastercard, 05 on the other networks.
    const eci = pm.card.brand === 'mastercard' ? '02' : '05';
    return {
      id,
      object: 'charge',
      amount: pi.amount,
      amount_captured: captured ? pi.amount : 0,
      amount_refunded: 0,
      application: null,
      application_fee: null,
      application_fee_amount: null,
      balance_transaction: captured ? this.recordBalanceTransaction('charge', pi.amount, pi.currency, id, pi.description) : null,
      billing_details: pm.billing_details,
      calculated_statement_descriptor: (pi.statement_descriptor ?? 'BRISK').slice(0, 22).toUpperCase(),
      captured,
      created: this.clock.nowSeconds(),
      currency: pi.currency,
      customer: null,
      description: pi.description,
      disputed: false,
      failure_balance_transaction: null,
      failure_code: decline ? decline.code : null,
      failure_message: decline ? decline.message : null,
      fraud_details: {},
      livemode: false,
      metadata: { ...pi.metadata },
      on_behalf_of: null,
      outcome: decline ? declineOutcome(decline) : successOutcome(card),
      paid: succeeded,
      payment_intent: pi.id,
      payment_method: pm.id,
      payment_method_details: {
        card: {
          amount_authorized: succeeded ? pi.amount : null,
          authorization_code: succeeded ? digits(6) : null,
          brand: pm.card.brand,
          checks: {
            // A check runs only on what the shopper gave; AVS and CVC test cards force its result.
            address_line1_check: pm.billing_details.address.line1 ? (card.checks?.line1 ?? 'pass') : null,
            address_postal_code_check: pm.billing_details.address.postal_code ? (card.checks?.postalCode ?? 'pass') : null,
            cvc_check: pm.card.checks.cvc_check ? (decline?.cvcCheck ?? card.checks?.cvc ?? 'pass') : null,
          },
          country: pm.card.country,
          electronic_commerce_indicator: authenticated ? eci : null,
          exp_month: pm.card.exp_month,
          exp_year: pm.card.exp_year,
          fingerprint: pm.card.fingerprint,
          funding: pm.card.funding,
          installments: null,
          last4: pm.card.last4,
          mandate: null,
          network: pm.card.brand,
          network_token: { used: false },
          network_transaction_id: succeeded ? digits(15) : null,
          regulated_status: 'unregulated',
          three_d_secure: authenticated
            ? { authentication_flow: 'challenge', electronic_commerce_indicator: eci, exemption_indicator: null, result: 'authenticated', result_reason: null, transaction_id: randomUUID(), version: '2.2.0' }
            : null,
          transaction_link_id: null,
          wallet: null,
        },
        type: 'card',
      },
      receipt_email: pi.receipt_email,
      receipt_number: null,
      receipt_url: `https://pay.stripe.com/receipts/payment/${randomString(40)}`,
      refunded: false,
      review: null,
      shipping: pi.shipping,
      source: null,
      source_transfer: null,
      statement_descriptor: pi.statement_descriptor,
      statement_descriptor_suffix: pi.statement_descriptor_suffix,
      status: succeeded ? 'succeeded' : 'failed',
      transfer_data: null,
      transfer_group: null,
    };
  }
}

function stateErrorThrow(action: string, status: PaymentIntentStatus, allowed: readonly PaymentIntentStatus[]): never {
  throw stateError(action, status, allowed);
}
