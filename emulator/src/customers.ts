// Customers and SetupIntents: saving a card for later. A SetupIntent confirmed with a test card
// succeeds (attaching the PaymentMethod to its customer), asks for 3-D Secure with the cards that
// require it, or fails with the card's decline; the events are Stripe's.
import { behaviorOf } from './cards';
import type { Clock } from './clock';
import { docUrl, errors } from './errors';
import type { EventLog } from './events';
import { newId, randomString } from './ids';
import type { Store } from './store';
import type { Address, Customer, JsonObject, Metadata, NextAction, PaymentMethod, RequestInfo, SetupIntent, SetupIntentStatus, Shipping } from './types';

export interface CustomerInput {
  address?: Address | null;
  description?: string | null;
  email?: string | null;
  metadata?: Metadata;
  name?: string | null;
  phone?: string | null;
  shipping?: Shipping | null;
  defaultPaymentMethod?: string | null;
}

export interface SetupConfirmOptions {
  paymentMethod: PaymentMethod | null;
  returnUrl?: string | null;
  useStripeSdk?: boolean;
}

const CONFIRMABLE: readonly SetupIntentStatus[] = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
const CANCELABLE: readonly SetupIntentStatus[] = ['requires_payment_method', 'requires_confirmation', 'requires_action'];

/** Declines a $0 card check reports; the others (funds, velocity, charge-only failures) show only when charged. */
const SETUP_DECLINES = new Set(['generic_decline', 'lost_card', 'stolen_card', 'expired_card', 'incorrect_cvc', 'processing_error', 'fraudulent', 'test_mode_live_card']);

export class Customers {
  constructor(
    private readonly store: Store,
    private readonly events: EventLog,
    private readonly clock: Clock,
  ) {}

  // ---- Customers ----

  create(input: CustomerInput, request: RequestInfo): Customer {
    const customer: Customer = {
      id: newId('cus'),
      object: 'customer',
      address: input.address ?? null,
      balance: 0,
      created: this.clock.nowSeconds(),
      currency: null,
      default_source: null,
      delinquent: false,
      description: input.description ?? null,
      discount: null,
      email: input.email ?? null,
      invoice_prefix: randomString(8).toUpperCase(),
      invoice_settings: { custom_fields: null, default_payment_method: input.defaultPaymentMethod ?? null, footer: null, rendering_options: null },
      livemode: false,
      metadata: input.metadata ?? {},
      name: input.name ?? null,
      next_invoice_sequence: 1,
      phone: input.phone ?? null,
      preferred_locales: [],
      shipping: input.shipping ?? null,
      tax_exempt: 'none',
      test_clock: null,
    };
    this.store.customers.insert(customer);
    this.events.emit('customer.created', customer, request);
    return customer;
  }

  update(customer: Customer, input: CustomerInput, request: RequestInfo): Customer {
    const previous: Record<string, unknown> = {};
    const set = <K extends keyof Customer>(key: K, value: Customer[K] | undefined) => {
      if (value === undefined || JSON.stringify(customer[key]) === JSON.stringify(value)) return;
      previous[key] = customer[key];
      customer[key] = value;
    };
    set('address', input.address);
    set('description', input.description);
    set('email', input.email);
    set('metadata', input.metadata);
    set('name', input.name);
    set('phone', input.phone);
    set('shipping', input.shipping);
    if (input.defaultPaymentMethod !== undefined) set('invoice_settings', { ...customer.invoice_settings, default_payment_method: input.defaultPaymentMethod });
    this.store.customers.save(customer);
    // Stripe emits customer.updated only when something changed.
    if (Object.keys(previous).length > 0) this.events.emit('customer.updated', customer, request, JSON.parse(JSON.stringify(previous)) as JsonObject);
    return customer;
  }

  find(id: string, param = 'customer'): Customer {
    const customer = this.store.customers.get(id);
    if (!customer) throw errors.resourceMissing('customer', id, param);
    return customer;
  }

  attach(pm: PaymentMethod, customer: Customer, request: RequestInfo): void {
    if (pm.customer === customer.id) return;
    pm.customer = customer.id;
    this.store.paymentMethods.save(pm);
    this.events.emit('payment_method.attached', pm, request);
  }

  // ---- SetupIntents ----

  createSetupIntent(input: { customer: string | null; description: string | null; metadata: Metadata; paymentMethod: PaymentMethod | null; types: string[] | null; usage: SetupIntent['usage'] }, request: RequestInfo): SetupIntent {
    const id = newId('seti');
    const si: SetupIntent = {
      id,
      object: 'setup_intent',
      allowed_payment_method_types: null,
      application: null,
      automatic_payment_methods: input.types ? null : { allow_redirects: 'always', enabled: true },
      cancellation_reason: null,
      client_secret: `${id}_secret_${randomString(25)}`,
      created: this.clock.nowSeconds(),
      customer: input.customer,
      description: input.description,
      excluded_payment_method_types: null,
      flow_directions: null,
      last_setup_error: null,
      latest_attempt: null,
      livemode: false,
      mandate: null,
      metadata: input.metadata,
      next_action: null,
      on_behalf_of: null,
      payment_method: input.paymentMethod?.id ?? null,
      payment_method_configuration_details: null,
      payment_method_options: { card: { mandate_options: null, network: null, request_three_d_secure: 'automatic' } },
      payment_method_types: input.types ?? ['card'],
      single_use_mandate: null,
      status: input.paymentMethod ? 'requires_confirmation' : 'requires_payment_method',
      usage: input.usage,
    };
    this.store.setupIntents.insert(si);
    this.events.emit('setup_intent.created', si, request);
    return si;
  }

  assertConfirmable(si: SetupIntent): void {
    if (!CONFIRMABLE.includes(si.status)) {
      throw errors.invalid(
        `You cannot confirm this SetupIntent because it has a status of ${si.status}. Only a SetupIntent with one of the following statuses may be confirmed: ${CONFIRMABLE.join(', ')}.`,
        undefined,
        'setup_intent_unexpected_state',
      );
    }
  }

  /** Confirms: succeeded, requires_action (3-D Secure), or the card error (thrown, 402, with `setup_intent`). */
  confirmSetupIntent(si: SetupIntent, options: SetupConfirmOptions, request: RequestInfo): SetupIntent {
    this.assertConfirmable(si);
    const pm = options.paymentMethod ?? (si.payment_method ? (this.store.paymentMethods.get(si.payment_method) ?? null) : null);
    if (!pm) {
      throw errors.invalid(
        "You cannot confirm this SetupIntent because it's missing a payment method. Update the SetupIntent with a payment method and then confirm it again.",
        'payment_method',
        'setup_intent_unexpected_state',
      );
    }
    si.payment_method = pm.id;
    si.last_setup_error = null;
    si.next_action = null;
    const card = behaviorOf(this.store.cardNumbers.get(pm.id) ?? '');
    if (card.threeDSecure) {
      si.status = 'requires_action';
      const returnUrl = options.returnUrl ?? null;
      const back = returnUrl ? `&return_url=${encodeURIComponent(returnUrl)}` : '';
      const challenge = `${request.origin}/3ds/${si.id}?client_secret=${encodeURIComponent(si.client_secret)}${back}`;
      const action: NextAction =
        returnUrl && !options.useStripeSdk
          ? { type: 'redirect_to_url', redirect_to_url: { return_url: returnUrl, url: challenge } }
          : { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: challenge, source: `src_${si.id.slice(5)}` } };
      si.next_action = action;
      this.store.setupIntents.save(si);
      this.events.emit('setup_intent.requires_action', si, request);
      return si;
    }
    return this.finish(si, pm, card.decline && SETUP_DECLINES.has(card.decline.decline_code) ? card.decline : null, request);
  }

  /** The 3-D Secure challenge of a SetupIntent was completed (true) or failed. */
  authenticate(si: SetupIntent, passed: boolean, request: RequestInfo): SetupIntent {
    if (si.status !== 'requires_action') throw errors.invalid(`This SetupIntent has a status of ${si.status}; only one with status requires_action has a challenge to finish.`, undefined, 'setup_intent_unexpected_state');
    const pm = si.payment_method ? this.store.paymentMethods.get(si.payment_method) : undefined;
    if (!pm) throw errors.invalid('This SetupIntent has no payment method to authenticate.', undefined, 'setup_intent_unexpected_state');
    si.next_action = null;
    if (passed) return this.finish(si, pm, null, request);
    si.status = 'requires_payment_method';
    si.payment_method = null;
    si.last_setup_error = {
      type: 'invalid_request_error',
      code: 'setup_intent_authentication_failure',
      message: 'The latest attempt to set up the payment method has failed because authentication failed.',
      doc_url: docUrl('setup_intent_authentication_failure'),
      payment_method: pm,
      payment_method_type: 'card',
    };
    this.store.setupIntents.save(si);
    this.events.emit('setup_intent.setup_failed', si, request);
    return si;
  }

  cancel(si: SetupIntent, reason: SetupIntent['cancellation_reason'], request: RequestInfo): SetupIntent {
    if (!CANCELABLE.includes(si.status)) {
      throw errors.invalid(
        `You cannot cancel this SetupIntent because it has a status of ${si.status}. Only a SetupIntent with one of the following statuses may be canceled: ${CANCELABLE.join(', ')}.`,
        undefined,
        'setup_intent_unexpected_state',
      );
    }
    si.status = 'canceled';
    si.cancellation_reason = reason;
    si.next_action = null;
    this.store.setupIntents.save(si);
    this.events.emit('setup_intent.canceled', si, request);
    return si;
  }

  private finish(si: SetupIntent, pm: PaymentMethod, decline: ReturnType<typeof behaviorOf>['decline'], request: RequestInfo): SetupIntent {
    if (decline) {
      si.status = 'requires_payment_method';
      si.payment_method = null;
      si.last_setup_error = {
        type: 'card_error',
        code: decline.code,
        decline_code: decline.decline_code,
        message: decline.message,
        doc_url: docUrl(decline.code),
        payment_method: pm,
        payment_method_type: 'card',
      };
      this.store.setupIntents.save(si);
      this.events.emit('setup_intent.setup_failed', si, request);
      return si;
    }
    si.status = 'succeeded';
    const customer = si.customer ? this.store.customers.get(si.customer) : undefined;
    if (customer) this.attach(pm, customer, request);
    this.store.setupIntents.save(si);
    this.events.emit('setup_intent.succeeded', si, request);
    return si;
  }
}
