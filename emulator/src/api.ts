// The /v1 endpoints: parameter schemas, routing, key permissions, lists and `expand`.
// Everything that changes payment state is in payments.ts; this file turns requests into calls.
import { TEST_TOKENS } from './cards';
import type { CustomerInput, Customers, SetupConfirmOptions } from './customers';
import { ApiError, errors } from './errors';
import { API_VERSIONS } from './events';
import { matches, parseQuery, SEARCH_FIELDS } from './search';
import { Webhooks } from './webhooks';
import type { FormObject } from './form';
import { validateAmount, validateCurrency } from './money';
import {
  applyMetadata,
  inRange,
  type ParamFields,
  type ParamObject,
  readBoolean,
  readInteger,
  readMetadata,
  readObject,
  readRange,
  readString,
  readStrings,
  validateFields,
} from './params';
import type { BillingDetailsInput, CardInput, ConfirmOptions, Payments, RedeemedToken } from './payments';
import type { Collection, Store } from './store';
import type { Address, Charge, ConfirmationToken, Json, JsonObject, Metadata, PaymentIntent, PaymentMethod, RequestInfo, SetupIntent, Shipping, Stored, WebhookEndpoint } from './types';

export type KeyKind = 'secret' | 'publishable';

export interface ApiRequest {
  method: string;
  /** Path segments after `/v1`. */
  segments: string[];
  path: string;
  params: FormObject;
  keyKind: KeyKind;
  request: RequestInfo;
  /** Marks the request as executing: from here on its result is saved under its idempotency key. */
  begin(): void;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

// ---- parameter schemas ----

const EXPAND = { expand: { type: 'array', of: { type: 'string' }, maxItems: 20 } } as const satisfies ParamFields;

const ADDRESS: ParamFields = {
  city: { type: 'string' },
  country: { type: 'string' },
  line1: { type: 'string' },
  line2: { type: 'string' },
  postal_code: { type: 'string' },
  state: { type: 'string' },
};

const BILLING_DETAILS: ParamFields = {
  address: { type: 'object', fields: ADDRESS },
  email: { type: 'string' },
  name: { type: 'string' },
  phone: { type: 'string' },
  tax_id: { type: 'ignored' },
};

/** Card details, or a test token (`card[token]=tok_visa`) in their place. */
const CARD: ParamFields = {
  number: { type: 'string' },
  exp_month: { type: 'integer' },
  exp_year: { type: 'integer' },
  cvc: { type: 'string' },
  token: { type: 'string' },
  networks: { type: 'ignored' },
};

const PAYMENT_METHOD_DATA: ParamFields = {
  type: { type: 'string', required: true, enum: ['card'] },
  card: { type: 'object', fields: CARD },
  billing_details: { type: 'object', fields: BILLING_DETAILS },
  metadata: { type: 'metadata' },
  allow_redisplay: { type: 'ignored' },
  // Stripe.js sends these along with card details.
  guid: { type: 'ignored' },
  muid: { type: 'ignored' },
  sid: { type: 'ignored' },
  payment_user_agent: { type: 'ignored' },
  time_on_page: { type: 'ignored' },
  referrer: { type: 'ignored' },
  pasted_fields: { type: 'ignored' },
};

const SHIPPING: ParamFields = {
  address: { type: 'object', fields: ADDRESS, required: true },
  name: { type: 'string', required: true },
  carrier: { type: 'string' },
  phone: { type: 'string' },
  tracking_number: { type: 'string' },
};

/** Parameters Stripe.js adds to browser calls; ignored, and only with the publishable key. */
const STRIPE_JS_EXTRAS: ParamFields = {
  key: { type: 'ignored' },
  _stripe_version: { type: 'ignored' },
  _stripe_account: { type: 'ignored' },
  guid: { type: 'ignored' },
  muid: { type: 'ignored' },
  sid: { type: 'ignored' },
  payment_user_agent: { type: 'ignored' },
  time_on_page: { type: 'ignored' },
  referrer: { type: 'ignored' },
  pasted_fields: { type: 'ignored' },
  client_attribution_metadata: { type: 'ignored' },
};

const CAPTURE_METHOD = { type: 'string', enum: ['automatic', 'automatic_async', 'manual'] } as const;
const SETUP_FUTURE_USAGE = { type: 'string', enum: ['off_session', 'on_session'] } as const;

const CONFIRM_FIELDS: ParamFields = {
  ...EXPAND,
  capture_method: CAPTURE_METHOD,
  confirmation_token: { type: 'string' },
  error_on_requires_action: { type: 'boolean' },
  mandate_data: { type: 'ignored' },
  off_session: { type: 'boolean' },
  payment_method: { type: 'string' },
  payment_method_data: { type: 'object', fields: PAYMENT_METHOD_DATA },
  payment_method_options: { type: 'ignored' },
  payment_method_types: { type: 'array', of: { type: 'string' } },
  radar_options: { type: 'ignored' },
  receipt_email: { type: 'string' },
  return_url: { type: 'string' },
  setup_future_usage: SETUP_FUTURE_USAGE,
  shipping: { type: 'object', fields: SHIPPING },
  use_stripe_sdk: { type: 'boolean' },
};

const PI_CREATE: ParamFields = {
  ...CONFIRM_FIELDS,
  amount: { type: 'integer', required: true },
  currency: { type: 'string', required: true },
  automatic_payment_methods: {
    type: 'object',
    fields: { enabled: { type: 'boolean', required: true }, allow_redirects: { type: 'string', enum: ['always', 'never'] } },
  },
  confirm: { type: 'boolean' },
  confirmation_method: { type: 'string', enum: ['automatic', 'manual'] },
  description: { type: 'string', maxLength: 1000 },
  metadata: { type: 'metadata' },
  statement_descriptor: { type: 'string', maxLength: 22 },
  statement_descriptor_suffix: { type: 'string', maxLength: 22 },
};

const PI_UPDATE: ParamFields = {
  ...EXPAND,
  amount: { type: 'integer' },
  currency: { type: 'string' },
  capture_method: CAPTURE_METHOD,
  description: { type: 'string', maxLength: 1000 },
  metadata: { type: 'metadata' },
  payment_method: { type: 'string' },
  payment_method_options: { type: 'ignored' },
  payment_method_types: { type: 'array', of: { type: 'string' } },
  receipt_email: { type: 'string' },
  setup_future_usage: SETUP_FUTURE_USAGE,
  shipping: { type: 'object', fields: SHIPPING },
  statement_descriptor: { type: 'string', maxLength: 22 },
  statement_descriptor_suffix: { type: 'string', maxLength: 22 },
};

const PI_CONFIRM: ParamFields = { ...CONFIRM_FIELDS, client_secret: { type: 'string' } };
const PI_RETRIEVE: ParamFields = { ...EXPAND, client_secret: { type: 'string' } };
const PI_CAPTURE: ParamFields = { ...EXPAND, amount_to_capture: { type: 'integer' }, metadata: { type: 'metadata' } };
const PI_CANCEL: ParamFields = {
  ...EXPAND,
  cancellation_reason: { type: 'string', enum: ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'] },
};

/** POST /v1/confirmation_tokens (Stripe.js, publishable key) and its test helper (secret key). */
const CTOKEN_CREATE: ParamFields = {
  ...EXPAND,
  payment_method_data: { type: 'object', fields: PAYMENT_METHOD_DATA },
  payment_method_options: { type: 'ignored' },
  payment_method_types: { type: 'array', of: { type: 'string' } },
  return_url: { type: 'string' },
  setup_future_usage: SETUP_FUTURE_USAGE,
  shipping: { type: 'object', fields: SHIPPING },
  mandate_data: { type: 'ignored' },
  // Stripe.js sends the Elements group's settings along.
  elements_session_id: { type: 'ignored' },
  client_context: { type: 'ignored' },
};
const CTOKEN_TEST_HELPER: ParamFields = { ...CTOKEN_CREATE, payment_method: { type: 'string' } };

const LIST: ParamFields = {
  ...EXPAND,
  limit: { type: 'integer' },
  starting_after: { type: 'string' },
  ending_before: { type: 'string' },
  created: { type: 'range' },
};

const PM_CREATE: ParamFields = { ...EXPAND, ...PAYMENT_METHOD_DATA };

const REFUND_CREATE: ParamFields = {
  ...EXPAND,
  amount: { type: 'integer' },
  charge: { type: 'string' },
  payment_intent: { type: 'string' },
  metadata: { type: 'metadata' },
  reason: { type: 'string', enum: ['duplicate', 'fraudulent', 'requested_by_customer'] },
  instructions_email: { type: 'ignored' },
  refund_application_fee: { type: 'ignored' },
  reverse_transfer: { type: 'ignored' },
};

const ACCEPTED_PAYMENT_METHOD_TYPES = new Set(['card', 'link']);

// Fields a publishable key does not see when it retrieves a PaymentIntent.
const SECRET_ONLY_FIELDS = ['metadata'] as const;

function toMetadata(changes: Record<string, string | null> | null | undefined): Metadata {
  return applyMetadata({}, changes);
}

function readBilling(params: ParamObject | null | undefined): BillingDetailsInput {
  if (!params) return {};
  const address = readObject(params, 'address');
  return {
    name: readString(params, 'name'),
    email: readString(params, 'email'),
    phone: readString(params, 'phone'),
    address: address
      ? {
          city: readString(address, 'city'),
          country: readString(address, 'country'),
          line1: readString(address, 'line1'),
          line2: readString(address, 'line2'),
          postal_code: readString(address, 'postal_code'),
          state: readString(address, 'state'),
        }
      : undefined,
  };
}

function readAddress(address: ParamObject | null | undefined): Address {
  return {
    city: readString(address ?? {}, 'city') ?? null,
    country: readString(address ?? {}, 'country') ?? null,
    line1: readString(address ?? {}, 'line1') ?? null,
    line2: readString(address ?? {}, 'line2') ?? null,
    postal_code: readString(address ?? {}, 'postal_code') ?? null,
    state: readString(address ?? {}, 'state') ?? null,
  };
}

/** A `shipping` hash as Stripe stores it: every field present, the unset ones null. */
function readShipping(shipping: ParamObject | null | undefined): Shipping | null {
  if (!shipping) return null;
  return {
    address: readAddress(readObject(shipping, 'address')),
    carrier: readString(shipping, 'carrier') ?? null,
    name: readString(shipping, 'name') ?? '',
    phone: readString(shipping, 'phone') ?? null,
    tracking_number: readString(shipping, 'tracking_number') ?? null,
  };
}

function readCard(data: ParamObject, param: string): CardInput {
  const card = readObject(data, 'card');
  const name = (field: string) => (param ? `${param}[card][${field}]` : `card[${field}]`);
  if (!card) throw errors.missingParam(param ? `${param}[card]` : 'card');
  const token = readString(card, 'token');
  if (token) {
    const number = TEST_TOKENS[token];
    if (number === undefined || !Object.hasOwn(TEST_TOKENS, token)) throw errors.resourceMissing('token', token, name('token'));
    for (const field of ['number', 'exp_month', 'exp_year', 'cvc']) {
      if (card[field] !== undefined) throw errors.invalid(`You may only specify one of these parameters: ${name('token')}, ${name(field)}.`, name(field));
    }
    // A test token stands for its card with a future expiry and a CVC, as Stripe's do.
    return { number, exp_month: 12, exp_year: new Date().getUTCFullYear() + 3, cvc: '123' };
  }
  for (const field of ['number', 'exp_month', 'exp_year']) if (card[field] === undefined || card[field] === null) throw errors.missingParam(name(field));
  return {
    number: readString(card, 'number') ?? '',
    exp_month: readInteger(card, 'exp_month') ?? 0,
    exp_year: readInteger(card, 'exp_year') ?? 0,
    cvc: readString(card, 'cvc') ?? null,
  };
}

const CUSTOMER_FIELDS: ParamFields = {
  ...EXPAND,
  address: { type: 'object', fields: ADDRESS },
  description: { type: 'string' },
  email: { type: 'string', maxLength: 512 },
  metadata: { type: 'metadata' },
  name: { type: 'string', maxLength: 256 },
  phone: { type: 'string', maxLength: 20 },
  shipping: { type: 'object', fields: { ...SHIPPING, carrier: { type: 'ignored' }, tracking_number: { type: 'ignored' } } },
  invoice_settings: { type: 'object', fields: { default_payment_method: { type: 'string' }, custom_fields: { type: 'ignored' }, footer: { type: 'ignored' }, rendering_options: { type: 'ignored' } } },
  preferred_locales: { type: 'ignored' },
  tax_exempt: { type: 'ignored' },
};
const CUSTOMER_CREATE: ParamFields = { ...CUSTOMER_FIELDS, payment_method: { type: 'string' } };

const SETUP_CONFIRM: ParamFields = {
  ...EXPAND,
  payment_method: { type: 'string' },
  payment_method_data: { type: 'object', fields: PAYMENT_METHOD_DATA },
  payment_method_options: { type: 'ignored' },
  mandate_data: { type: 'ignored' },
  return_url: { type: 'string' },
  use_stripe_sdk: { type: 'boolean' },
};
const SETUP_CREATE: ParamFields = {
  ...SETUP_CONFIRM,
  automatic_payment_methods: { type: 'object', fields: { enabled: { type: 'boolean', required: true }, allow_redirects: { type: 'string', enum: ['always', 'never'] } } },
  confirm: { type: 'boolean' },
  customer: { type: 'string' },
  description: { type: 'string', maxLength: 1000 },
  metadata: { type: 'metadata' },
  payment_method_types: { type: 'array', of: { type: 'string' } },
  usage: { type: 'string', enum: ['off_session', 'on_session'] },
  flow_directions: { type: 'ignored' },
};
const SETUP_UPDATE: ParamFields = {
  ...EXPAND,
  customer: { type: 'string' },
  description: { type: 'string', maxLength: 1000 },
  metadata: { type: 'metadata' },
  payment_method: { type: 'string' },
  payment_method_types: { type: 'array', of: { type: 'string' } },
};

export class Api {
  constructor(
    private readonly store: Store,
    private readonly payments: Payments,
    private readonly customers: Customers,
    private readonly webhooks: Webhooks,
  ) {}

  handle(req: ApiRequest): ApiResponse {
    const [resource, id, action, ...rest] = req.segments;
    if (rest.length > 0) throw errors.unrecognizedUrl(req.method, req.path);
    const m = req.method;
    const publishable = req.keyKind === 'publishable';
    const deny = () => {
      throw errors.publishableKeyNotAllowed();
    };
    switch (resource) {
      case 'payment_intents':
        if (id === 'search' && action === undefined && m === 'GET') return publishable ? deny() : this.search(req, this.store.paymentIntents, '/v1/payment_intents/search', SEARCH_FIELDS.payment_intent);
        if (id === undefined) {
          if (m === 'POST') return publishable ? deny() : this.createPaymentIntent(req);
          if (m === 'GET') return publishable ? deny() : this.listPaymentIntents(req);
        } else if (action === undefined) {
          if (m === 'GET') return this.retrievePaymentIntent(req, id);
          if (m === 'POST') return publishable ? deny() : this.updatePaymentIntent(req, id);
        } else if (m === 'POST') {
          if (action === 'confirm') return this.confirmPaymentIntent(req, id);
          if (action === 'capture') return publishable ? deny() : this.capturePaymentIntent(req, id);
          if (action === 'cancel') return publishable ? deny() : this.cancelPaymentIntent(req, id);
        }
        break;
      case 'confirmation_tokens':
        // Stripe.js creates them with the publishable key; the server reads them with the secret key.
        if (id === undefined && m === 'POST') return publishable ? this.createConfirmationToken(req, CTOKEN_CREATE) : deny();
        if (id !== undefined && action === undefined && m === 'GET') return publishable ? deny() : this.retrieve(req, this.store.confirmationTokens, id, 'confirmation_token', 'confirmation_token');
        break;
      case 'test_helpers':
        if (id === 'confirmation_tokens' && action === undefined && m === 'POST') return publishable ? deny() : this.createConfirmationToken(req, CTOKEN_TEST_HELPER);
        break;
      case 'payment_methods':
        if (id === undefined && m === 'POST') return this.createPaymentMethod(req);
        if (id !== undefined && action === undefined && m === 'GET') return publishable ? deny() : this.retrievePaymentMethod(req, id);
        break;
      case 'charges':
        if (publishable) deny();
        if (id === 'search' && action === undefined && m === 'GET') return this.search(req, this.store.charges, '/v1/charges/search', SEARCH_FIELDS.charge);
        if (id === undefined && m === 'GET') return this.listCharges(req);
        if (id !== undefined && action === undefined && m === 'GET') return this.retrieve(req, this.store.charges, id, 'charge', 'id');
        break;
      case 'refunds':
        if (publishable) deny();
        if (id === undefined && m === 'POST') return this.createRefund(req);
        if (id === undefined && m === 'GET') return this.listRefunds(req);
        if (id !== undefined && action === undefined && m === 'GET') return this.retrieve(req, this.store.refunds, id, 'refund', 'id');
        break;
      case 'customers':
        if (publishable) deny();
        if (id === 'search') break;
        if (id === undefined && m === 'POST') return this.createCustomer(req);
        if (id === undefined && m === 'GET') return this.listCustomers(req);
        if (id !== undefined && action === undefined && m === 'GET') return this.retrieve(req, this.store.customers, id, 'customer', 'id');
        if (id !== undefined && action === undefined && m === 'POST') return this.updateCustomer(req, id);
        break;
      case 'setup_intents':
        if (id === undefined && m === 'POST') return publishable ? deny() : this.createSetupIntent(req);
        if (id === undefined && m === 'GET') return publishable ? deny() : this.listSetupIntents(req);
        if (id !== undefined && action === undefined && m === 'GET') return this.retrieveSetupIntent(req, id);
        if (id !== undefined && action === undefined && m === 'POST') return publishable ? deny() : this.updateSetupIntent(req, id);
        if (id !== undefined && action === 'confirm' && m === 'POST') return this.confirmSetupIntent(req, id);
        if (id !== undefined && action === 'cancel' && m === 'POST') return publishable ? deny() : this.cancelSetupIntent(req, id);
        break;
      case 'webhook_endpoints':
        if (publishable) deny();
        if (id === undefined && m === 'POST') return this.createWebhookEndpoint(req);
        if (id === undefined && m === 'GET') return this.listWebhookEndpoints(req);
        if (id !== undefined && action === undefined) {
          if (m === 'GET') return this.webhookEndpointResponse(req, id, EXPAND, () => {});
          if (m === 'POST') return this.updateWebhookEndpoint(req, id);
          if (m === 'DELETE') return this.deleteWebhookEndpoint(req, id);
        }
        break;
      case 'balance_transactions':
        if (publishable) deny();
        if (id === undefined && m === 'GET') return this.listBalanceTransactions(req);
        if (id !== undefined && action === undefined && m === 'GET') {
          const txn = this.store.balanceTransactions.get(id);
          if (txn) this.payments.settleBalanceTransaction(txn);
          return this.retrieve(req, this.store.balanceTransactions, id, 'balance_transaction', 'id');
        }
        break;
      case 'events':
        if (publishable) deny();
        if (id === undefined && m === 'GET') return this.listEvents(req);
        if (id !== undefined && action === undefined && m === 'GET') return this.retrieve(req, this.store.events, id, 'event', 'id');
        break;
    }
    throw errors.unrecognizedUrl(req.method, req.path);
  }

  // ---- PaymentIntents ----

  private createPaymentIntent(req: ApiRequest): ApiResponse {
    const p = this.validate(req, PI_CREATE);
    const currency = validateCurrency(readString(p, 'currency') ?? '');
    const amount = readInteger(p, 'amount') ?? 0;
    validateAmount(amount, currency);
    const types = this.paymentMethodTypes(p);
    const apm = readObject(p, 'automatic_payment_methods');
    if (apm && types) {
      throw errors.invalid('You may only specify one of these parameters: automatic_payment_methods, payment_method_types.', 'automatic_payment_methods');
    }
    const confirm = readBoolean(p, 'confirm') ?? false;
    for (const confirmOnly of ['return_url', 'off_session', 'error_on_requires_action'] as const) {
      if (p[confirmOnly] !== undefined && p[confirmOnly] !== null && !confirm) {
        throw errors.invalid(`You can only pass ${confirmOnly} when confirm=true.`, confirmOnly);
      }
    }
    const pmRef = readString(p, 'payment_method');
    const pmData = readObject(p, 'payment_method_data');
    if (pmRef && pmData) throw errors.invalid('You may only specify one of these parameters: payment_method, payment_method_data.', 'payment_method_data');
    if (pmRef) this.payments.checkPaymentMethod(pmRef);
    const token = this.confirmationTokenParam(req, p, pmRef, pmData);
    if (token && !confirm) throw errors.invalid('You can only pass confirmation_token when confirm=true.', 'confirmation_token');
    const expand = readStrings(p, 'expand');
    this.checkExpand('payment_intent', expand);

    req.begin();
    const paymentMethod = pmRef ? this.payments.resolvePaymentMethod(pmRef) : pmData ? this.paymentMethodFromData(pmData) : null;
    const pi = this.payments.createPaymentIntent(
      {
        amount,
        currency,
        metadata: toMetadata(readMetadata(p, 'metadata')),
        description: readString(p, 'description') ?? null,
        receipt_email: readString(p, 'receipt_email') ?? null,
        capture_method: (readString(p, 'capture_method') ?? 'automatic') as PaymentIntent['capture_method'],
        confirmation_method: (readString(p, 'confirmation_method') ?? 'automatic') as PaymentIntent['confirmation_method'],
        // Current API versions turn automatic payment methods on unless types are listed.
        automatic_payment_methods: types
          ? null
          : { enabled: apm ? readBoolean(apm, 'enabled') !== false : true, ...(readString(apm ?? {}, 'allow_redirects') ? { allow_redirects: readString(apm ?? {}, 'allow_redirects') as 'always' | 'never' } : { allow_redirects: 'always' as const }) },
        payment_method_types: types ?? ['card'],
        payment_method: paymentMethod,
        setup_future_usage: readString(p, 'setup_future_usage') ?? null,
        shipping: readShipping(readObject(p, 'shipping')),
        statement_descriptor: readString(p, 'statement_descriptor') ?? null,
        statement_descriptor_suffix: readString(p, 'statement_descriptor_suffix') ?? null,
      },
      req.request,
    );
    if (!confirm) return this.ok(this.paymentIntentView(pi, req.keyKind), expand);
    const options = token ? this.tokenConfirmOptions(p, this.payments.redeemConfirmationToken(token, pi)) : { ...this.confirmOptions(p), paymentMethod };
    const result = this.payments.confirm(pi, options, req.request);
    if (result.error) throw result.error;
    return this.ok(this.paymentIntentView(result.paymentIntent, req.keyKind), expand);
  }

  private retrievePaymentIntent(req: ApiRequest, id: string): ApiResponse {
    const p = this.validate(req, PI_RETRIEVE);
    const pi = this.findPaymentIntent(id, 'intent');
    this.checkClientSecret(req, pi, readString(p, 'client_secret'));
    const expand = readStrings(p, 'expand');
    this.checkExpand('payment_intent', expand);
    return this.ok(this.paymentIntentView(pi, req.keyKind), expand);
  }

  private updatePaymentIntent(req: ApiRequest, id: string): ApiResponse {
    const p = this.validate(req, PI_UPDATE);
    const pi = this.findPaymentIntent(id, 'intent');
    const changes: Parameters<Payments['updatePaymentIntent']>[1] = {};
    const currencyParam = readString(p, 'currency');
    if (currencyParam === null) throw errors.invalidEmpty('currency');
    const currency = currencyParam !== undefined ? validateCurrency(currencyParam) : pi.currency;
    const amount = readInteger(p, 'amount');
    if (amount === null) throw errors.invalidEmpty('amount');
    if (amount !== undefined || currencyParam !== undefined) validateAmount(amount ?? pi.amount, currency);
    if (amount !== undefined) changes.amount = amount;
    if (currencyParam !== undefined) changes.currency = currency;
    const description = readString(p, 'description');
    if (description !== undefined) changes.description = description;
    const receiptEmail = readString(p, 'receipt_email');
    if (receiptEmail !== undefined) changes.receipt_email = receiptEmail;
    const captureMethod = readString(p, 'capture_method');
    if (captureMethod) changes.capture_method = captureMethod as PaymentIntent['capture_method'];
    const sfu = readString(p, 'setup_future_usage');
    if (sfu !== undefined) changes.setup_future_usage = sfu;
    if (p.shipping !== undefined) changes.shipping = readShipping(readObject(p, 'shipping'));
    const sd = readString(p, 'statement_descriptor');
    if (sd !== undefined) changes.statement_descriptor = sd;
    const sds = readString(p, 'statement_descriptor_suffix');
    if (sds !== undefined) changes.statement_descriptor_suffix = sds;
    const types = this.paymentMethodTypes(p);
    if (types) changes.payment_method_types = types;
    const metadata = readMetadata(p, 'metadata');
    if (metadata !== undefined) changes.metadata = applyMetadata(pi.metadata, metadata);
    const pmRef = readString(p, 'payment_method');
    if (pmRef) this.payments.checkPaymentMethod(pmRef);
    const expand = readStrings(p, 'expand');
    this.checkExpand('payment_intent', expand);

    req.begin();
    const paymentMethod = pmRef ? this.payments.resolvePaymentMethod(pmRef) : pmRef === null ? null : undefined;
    this.payments.updatePaymentIntent(pi, changes, paymentMethod);
    return this.ok(pi, expand);
  }

  private confirmPaymentIntent(req: ApiRequest, id: string): ApiResponse {
    const p = this.validate(req, PI_CONFIRM);
    const pi = this.findPaymentIntent(id, 'intent');
    this.checkClientSecret(req, pi, readString(p, 'client_secret'));
    this.paymentMethodTypes(p);
    const pmRef = readString(p, 'payment_method');
    const pmData = readObject(p, 'payment_method_data');
    if (pmRef && pmData) throw errors.invalid('You may only specify one of these parameters: payment_method, payment_method_data.', 'payment_method_data');
    if (pmRef) this.payments.checkPaymentMethod(pmRef);
    const token = this.confirmationTokenParam(req, p, pmRef, pmData);
    const expand = readStrings(p, 'expand');
    this.checkExpand('payment_intent', expand);

    req.begin();
    this.payments.assertConfirmable(pi);
    let options: ConfirmOptions;
    if (token) {
      options = this.tokenConfirmOptions(p, this.payments.redeemConfirmationToken(token, pi));
    } else {
      const paymentMethod = pmRef ? this.payments.resolvePaymentMethod(pmRef) : pmData ? this.paymentMethodFromData(pmData) : null;
      options = { ...this.confirmOptions(p), paymentMethod };
    }
    const result = this.payments.confirm(pi, options, req.request);
    if (result.error) {
      // The browser sees the PaymentIntent in a decline without its secret-key-only fields.
      const embedded = result.error.body.payment_intent;
      if (req.keyKind === 'publishable' && embedded && typeof embedded === 'object' && !Array.isArray(embedded)) {
        for (const field of SECRET_ONLY_FIELDS) delete embedded[field];
      }
      throw result.error;
    }
    return this.ok(this.paymentIntentView(result.paymentIntent, req.keyKind), expand);
  }

  private capturePaymentIntent(req: ApiRequest, id: string): ApiResponse {
    const p = this.validate(req, PI_CAPTURE);
    const pi = this.findPaymentIntent(id, 'intent');
    const expand = readStrings(p, 'expand');
    this.checkExpand('payment_intent', expand);
    req.begin();
    const metadata = readMetadata(p, 'metadata');
    if (metadata !== undefined && pi.status === 'requires_capture') {
      pi.metadata = applyMetadata(pi.metadata, metadata);
    }
    this.payments.capture(pi, readInteger(p, 'amount_to_capture') ?? null, req.request);
    return this.ok(pi, expand);
  }

  private cancelPaymentIntent(req: ApiRequest, id: string): ApiResponse {
    const p = this.validate(req, PI_CANCEL);
    const pi = this.findPaymentIntent(id, 'intent');
    const expand = readStrings(p, 'expand');
    this.checkExpand('payment_intent', expand);
    req.begin();
    this.payments.cancel(pi, readString(p, 'cancellation_reason') ?? null, req.request);
    return this.ok(pi, expand);
  }

  private listPaymentIntents(req: ApiRequest): ApiResponse {
    const p = this.validate(req, { ...LIST, customer: { type: 'string' } });
    const customer = readString(p, 'customer');
    return this.listResponse(req, p, this.store.paymentIntents, '/v1/payment_intents', 'payment_intent', (pi) => !customer || pi.customer === customer);
  }

  // ---- ConfirmationTokens ----

  private createConfirmationToken(req: ApiRequest, fields: ParamFields): ApiResponse {
    const p = this.validate(req, fields);
    this.paymentMethodTypes(p);
    const pmRef = readString(p, 'payment_method');
    const pmData = readObject(p, 'payment_method_data');
    if (pmRef && pmData) throw errors.invalid('You may only specify one of these parameters: payment_method, payment_method_data.', 'payment_method_data');
    if (!pmRef && !pmData) throw errors.missingParam('payment_method_data');
    if (pmRef) this.payments.checkPaymentMethod(pmRef);
    const card = pmData ? readCard(pmData, 'payment_method_data') : null;
    const expand = readStrings(p, 'expand');
    this.checkExpand('confirmation_token', expand);
    req.begin();
    const source = card && pmData ? { card, billing: readBilling(readObject(pmData, 'billing_details')) } : { paymentMethod: this.payments.resolvePaymentMethod(pmRef ?? '') };
    const token = this.payments.createConfirmationToken(source, {
      returnUrl: readString(p, 'return_url') ?? null,
      shipping: readShipping(readObject(p, 'shipping')),
      setupFutureUsage: readString(p, 'setup_future_usage') ?? null,
      // Made by Stripe.js, the browser handles next actions itself.
      useStripeSdk: req.keyKind === 'publishable',
    });
    return this.ok(token, expand);
  }

  /**
   * `confirmation_token` on a confirm (validation stage): secret key only, exclusive with the
   * other ways to give a payment method, and the token must be unused and unexpired.
   */
  private confirmationTokenParam(req: ApiRequest, p: ParamObject, pmRef: string | null | undefined, pmData: ParamObject | null | undefined): ConfirmationToken | null {
    const ref = readString(p, 'confirmation_token');
    if (!ref) return null;
    if (req.keyKind === 'publishable') throw errors.publishableKeyNotAllowed();
    if (pmRef || pmData) {
      throw errors.invalid(`You may only specify one of these parameters: confirmation_token, ${pmRef ? 'payment_method' : 'payment_method_data'}.`, 'confirmation_token');
    }
    return this.payments.checkConfirmationToken(ref);
  }

  /** Confirm options from a redeemed token; what the request itself sets wins. */
  private tokenConfirmOptions(p: ParamObject, redeemed: RedeemedToken): ConfirmOptions {
    const options: ConfirmOptions = { ...this.confirmOptions(p), paymentMethod: redeemed.paymentMethod };
    if (options.returnUrl === undefined && redeemed.returnUrl !== null) options.returnUrl = redeemed.returnUrl;
    if (options.shipping === undefined && redeemed.shipping !== null) options.shipping = redeemed.shipping;
    if (options.setupFutureUsage === undefined && redeemed.setupFutureUsage !== null) options.setupFutureUsage = redeemed.setupFutureUsage;
    // A token made by Stripe.js leaves next actions to Stripe.js, as on Stripe.
    if (options.useStripeSdk === undefined) options.useStripeSdk = redeemed.useStripeSdk;
    return options;
  }

  // ---- PaymentMethods ----

  private createPaymentMethod(req: ApiRequest): ApiResponse {
    const p = this.validate(req, PM_CREATE);
    const expand = readStrings(p, 'expand');
    this.checkExpand('payment_method', expand);
    const card = readCard(p, '');
    req.begin();
    const pm = this.payments.createPaymentMethod(card, readBilling(readObject(p, 'billing_details')), toMetadata(readMetadata(p, 'metadata')));
    return this.ok(pm, expand);
  }

  private retrievePaymentMethod(req: ApiRequest, id: string): ApiResponse {
    return this.retrieve(req, this.store.paymentMethods, id, 'PaymentMethod', 'payment_method');
  }

  // ---- Charges, Refunds, Events ----

  private listCharges(req: ApiRequest): ApiResponse {
    const p = this.validate(req, { ...LIST, payment_intent: { type: 'string' }, customer: { type: 'string' }, transfer_group: { type: 'ignored' } });
    const pi = readString(p, 'payment_intent');
    const customer = readString(p, 'customer');
    return this.listResponse(req, p, this.store.charges, '/v1/charges', 'charge', (c) => (!pi || c.payment_intent === pi) && (!customer || c.customer === customer));
  }

  private createRefund(req: ApiRequest): ApiResponse {
    const p = this.validate(req, REFUND_CREATE);
    const chargeId = readString(p, 'charge');
    const piId = readString(p, 'payment_intent');
    if (!chargeId && !piId) {
      throw errors.invalid('One of the following params should be provided for this request: payment_intent or charge.', undefined, 'parameter_missing');
    }
    const amount = readInteger(p, 'amount');
    if (amount !== undefined && amount !== null && amount < 1) throw errors.invalid('Refund amount must be a positive integer.', 'amount', 'amount_too_small');
    const expand = readStrings(p, 'expand');
    this.checkExpand('refund', expand);
    let charge: Charge;
    if (chargeId) {
      const found = this.store.charges.get(chargeId);
      if (!found) throw errors.resourceMissing('charge', chargeId, 'charge');
      if (piId && found.payment_intent !== piId) {
        throw errors.invalid(`Charge ${chargeId} does not belong to PaymentIntent ${piId}.`, 'payment_intent');
      }
      charge = found;
    } else {
      const pi = this.findPaymentIntent(piId ?? '', 'payment_intent');
      req.begin();
      charge = this.payments.refundableChargeOf(pi);
    }
    req.begin();
    const refund = this.payments.refund(charge, amount ?? null, readString(p, 'reason') ?? null, toMetadata(readMetadata(p, 'metadata')), req.request);
    return this.ok(refund, expand);
  }

  private listRefunds(req: ApiRequest): ApiResponse {
    const p = this.validate(req, { ...LIST, charge: { type: 'string' }, payment_intent: { type: 'string' } });
    const charge = readString(p, 'charge');
    const pi = readString(p, 'payment_intent');
    return this.listResponse(req, p, this.store.refunds, '/v1/refunds', 'refund', (r) => (!charge || r.charge === charge) && (!pi || r.payment_intent === pi));
  }

  private listEvents(req: ApiRequest): ApiResponse {
    const p = this.validate(req, {
      ...LIST,
      type: { type: 'string' },
      types: { type: 'array', of: { type: 'string' }, maxItems: 20 },
      delivery_success: { type: 'boolean' },
    });
    const type = readString(p, 'type');
    const types = readStrings(p, 'types');
    if (type && types.length > 0) throw errors.invalid('You may only specify one of these parameters: type, types.', 'types');
    const matchers = (type ? [type] : types).map((t) => (t.endsWith('.*') ? (s: string) => s.startsWith(t.slice(0, -1)) : (s: string) => s === t));
    const delivered = readBoolean(p, 'delivery_success');
    return this.listResponse(req, p, this.store.events, '/v1/events', 'event', (e) => {
      if (matchers.length > 0 && !matchers.some((match) => match(e.type))) return false;
      if (delivered !== undefined && (e.pending_webhooks === 0) !== delivered) return false;
      return true;
    });
  }

  private listBalanceTransactions(req: ApiRequest): ApiResponse {
    const p = this.validate(req, { ...LIST, source: { type: 'string' }, type: { type: 'string' }, currency: { type: 'string' }, payout: { type: 'ignored' } });
    const source = readString(p, 'source');
    const type = readString(p, 'type');
    const currency = readString(p, 'currency');
    for (const txn of this.store.balanceTransactions.all()) this.payments.settleBalanceTransaction(txn);
    return this.listResponse(req, p, this.store.balanceTransactions, '/v1/balance_transactions', 'balance_transaction', (t) => (!source || t.source === source) && (!type || t.type === type) && (!currency || t.currency === currency));
  }

  // ---- Customers ----

  private customerInput(p: ParamObject): CustomerInput {
    const input: CustomerInput = {};
    if (p.address !== undefined) input.address = p.address === null ? null : readAddress(readObject(p, 'address'));
    for (const key of ['description', 'email', 'name', 'phone'] as const) {
      const value = readString(p, key);
      if (value !== undefined) input[key] = value;
    }
    if (p.shipping !== undefined) input.shipping = readShipping(readObject(p, 'shipping'));
    const metadata = readMetadata(p, 'metadata');
    if (metadata !== undefined) input.metadata = toMetadata(metadata);
    const invoice = readObject(p, 'invoice_settings');
    const defaultPm = invoice ? readString(invoice, 'default_payment_method') : undefined;
    if (defaultPm !== undefined) {
      if (defaultPm) this.payments.checkPaymentMethod(defaultPm, 'invoice_settings[default_payment_method]');
      input.defaultPaymentMethod = defaultPm;
    }
    return input;
  }

  private createCustomer(req: ApiRequest): ApiResponse {
    const p = this.validate(req, CUSTOMER_CREATE);
    const input = this.customerInput(p);
    const pmRef = readString(p, 'payment_method');
    if (pmRef) this.payments.checkPaymentMethod(pmRef);
    const expand = readStrings(p, 'expand');
    this.checkExpand('customer', expand);
    req.begin();
    const customer = this.customers.create(input, req.request);
    if (pmRef) this.customers.attach(this.payments.resolvePaymentMethod(pmRef), customer, req.request);
    return this.ok(customer, expand);
  }

  private updateCustomer(req: ApiRequest, id: string): ApiResponse {
    const p = this.validate(req, CUSTOMER_FIELDS);
    const customer = this.customers.find(id, 'id');
    const input = this.customerInput(p);
    if (input.metadata !== undefined) input.metadata = applyMetadata(customer.metadata, readMetadata(p, 'metadata'));
    const expand = readStrings(p, 'expand');
    this.checkExpand('customer', expand);
    req.begin();
    return this.ok(this.customers.update(customer, input, req.request), expand);
  }

  private listCustomers(req: ApiRequest): ApiResponse {
    const p = this.validate(req, { ...LIST, email: { type: 'string' }, test_clock: { type: 'ignored' } });
    const email = readString(p, 'email');
    return this.listResponse(req, p, this.store.customers, '/v1/customers', 'customer', (c) => !email || c.email === email);
  }

  // ---- SetupIntents ----

  private findSetupIntent(id: string): SetupIntent {
    const si = this.store.setupIntents.get(id);
    if (!si) throw errors.resourceMissing('setup_intent', id, 'intent');
    return si;
  }

  private setupConfirmOptions(req: ApiRequest, p: ParamObject): { options: Omit<SetupConfirmOptions, 'paymentMethod'>; pmRef: string | null | undefined; pmData: ParamObject | null | undefined } {
    const pmRef = readString(p, 'payment_method');
    const pmData = readObject(p, 'payment_method_data');
    if (pmRef && pmData) throw errors.invalid('You may only specify one of these parameters: payment_method, payment_method_data.', 'payment_method_data');
    if (pmRef) this.payments.checkPaymentMethod(pmRef);
    const options: Omit<SetupConfirmOptions, 'paymentMethod'> = {};
    const returnUrl = readString(p, 'return_url');
    if (returnUrl !== undefined) options.returnUrl = returnUrl;
    const sdk = readBoolean(p, 'use_stripe_sdk');
    if (sdk !== undefined) options.useStripeSdk = sdk;
    return { options, pmRef, pmData };
  }

  /** Confirms and answers as Stripe does: the SetupIntent, or a 402 card error carrying it. */
  private confirmSetup(req: ApiRequest, si: SetupIntent, setup: ReturnType<Api['setupConfirmOptions']>, expand: string[]): ApiResponse {
    const paymentMethod = setup.pmRef ? this.payments.resolvePaymentMethod(setup.pmRef) : setup.pmData ? this.paymentMethodFromData(setup.pmData) : null;
    this.customers.confirmSetupIntent(si, { ...setup.options, paymentMethod }, req.request);
    const error = si.last_setup_error;
    if (error && error.type === 'card_error') {
      const view = JSON.parse(JSON.stringify(req.keyKind === 'publishable' ? this.paymentIntentView(si, 'publishable') : si)) as Json;
      throw new ApiError(402, {
        type: 'card_error',
        code: error.code,
        decline_code: error.decline_code,
        message: error.message,
        doc_url: error.doc_url,
        payment_method: JSON.parse(JSON.stringify(error.payment_method)) as Json,
        setup_intent: view,
        request_log_url: `https://dashboard.stripe.com/test/logs/${req.request.id ?? ''}`,
      });
    }
    return this.ok(req.keyKind === 'publishable' ? this.paymentIntentView(si, 'publishable') : si, expand);
  }

  private createSetupIntent(req: ApiRequest): ApiResponse {
    const p = this.validate(req, SETUP_CREATE);
    const types = this.paymentMethodTypes(p);
    const customerId = readString(p, 'customer');
    if (customerId) this.customers.find(customerId);
    const confirm = readBoolean(p, 'confirm') ?? false;
    if (!confirm && readString(p, 'return_url')) throw errors.invalid('You can only pass return_url when confirm=true.', 'return_url');
    const setup = this.setupConfirmOptions(req, p);
    const expand = readStrings(p, 'expand');
    this.checkExpand('setup_intent', expand);
    req.begin();
    const paymentMethod = setup.pmRef ? this.payments.resolvePaymentMethod(setup.pmRef) : setup.pmData ? this.paymentMethodFromData(setup.pmData) : null;
    const si = this.customers.createSetupIntent(
      {
        customer: customerId ?? null,
        description: readString(p, 'description') ?? null,
        metadata: toMetadata(readMetadata(p, 'metadata')),
        paymentMethod,
        types,
        usage: (readString(p, 'usage') ?? 'off_session') as SetupIntent['usage'],
      },
      req.request,
    );
    if (!confirm) return this.ok(si, expand);
    return this.confirmSetup(req, si, { ...setup, pmRef: null, pmData: null }, expand);
  }

  private retrieveSetupIntent(req: ApiRequest, id: string): ApiResponse {
    const p = this.validate(req, PI_RETRIEVE);
    const si = this.findSetupIntent(id);
    this.checkClientSecret(req, si, readString(p, 'client_secret'));
    const expand = readStrings(p, 'expand');
    this.checkExpand('setup_intent', expand);
    return this.ok(req.keyKind === 'publishable' ? this.paymentIntentView(si, 'publishable') : si, expand);
  }

  private updateSetupIntent(req: ApiRequest, id: string): ApiResponse {
    const p = this.validate(req, SETUP_UPDATE);
    const si = this.findSetupIntent(id);
    const customerId = readString(p, 'customer');
    if (customerId) this.customers.find(customerId);
    const pmRef = readString(p, 'payment_method');
    if (pmRef) this.payments.checkPaymentMethod(pmRef);
    const types = this.paymentMethodTypes(p);
    const expand = readStrings(p, 'expand');
    this.checkExpand('setup_intent', expand);
    if (si.status === 'succeeded' || si.status === 'canceled') {
      throw errors.invalid(`You cannot update this SetupIntent because it has a status of ${si.status}.`, undefined, 'setup_intent_unexpected_state');
    }
    req.begin();
    if (customerId !== undefined) si.customer = customerId;
    const description = readString(p, 'description');
    if (description !== undefined) si.description = description;
    const metadata = readMetadata(p, 'metadata');
    if (metadata !== undefined) si.metadata = applyMetadata(si.metadata, metadata);
    if (types) si.payment_method_types = types;
    if (pmRef !== undefined) {
      si.payment_method = pmRef ? this.payments.resolvePaymentMethod(pmRef).id : null;
      si.status = si.payment_method ? 'requires_confirmation' : 'requires_payment_method';
      si.next_action = null;
    }
    this.store.setupIntents.save(si);
    return this.ok(si, expand);
  }

  private confirmSetupIntent(req: ApiRequest, id: string): ApiResponse {
    const p = this.validate(req, { ...SETUP_CONFIRM, client_secret: { type: 'string' } });
    const si = this.findSetupIntent(id);
    this.checkClientSecret(req, si, readString(p, 'client_secret'));
    const setup = this.setupConfirmOptions(req, p);
    const expand = readStrings(p, 'expand');
    this.checkExpand('setup_intent', expand);
    req.begin();
    this.customers.assertConfirmable(si);
    return this.confirmSetup(req, si, setup, expand);
  }

  private cancelSetupIntent(req: ApiRequest, id: string): ApiResponse {
    const p = this.validate(req, { ...EXPAND, cancellation_reason: { type: 'string', enum: ['abandoned', 'duplicate', 'requested_by_customer'] } });
    const si = this.findSetupIntent(id);
    const expand = readStrings(p, 'expand');
    this.checkExpand('setup_intent', expand);
    req.begin();
    return this.ok(this.customers.cancel(si, (readString(p, 'cancellation_reason') ?? null) as SetupIntent['cancellation_reason'], req.request), expand);
  }

  private listSetupIntents(req: ApiRequest): ApiResponse {
    const p = this.validate(req, { ...LIST, customer: { type: 'string' }, payment_method: { type: 'string' }, attach_to_self: { type: 'ignored' } });
    const customer = readString(p, 'customer');
    const pm = readString(p, 'payment_method');
    return this.listResponse(req, p, this.store.setupIntents, '/v1/setup_intents', 'setup_intent', (si) => (!customer || si.customer === customer) && (!pm || si.payment_method === pm));
  }

  // ---- WebhookEndpoints ----

  private enabledEvents(p: ParamObject): string[] | undefined {
    if (p.enabled_events === undefined) return undefined;
    const events = readStrings(p, 'enabled_events');
    if (events.length === 0) throw errors.invalid('enabled_events must list at least one event type (or *).', 'enabled_events');
    events.forEach((type, i) => {
      if (!/^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$/.test(type)) throw errors.invalid(`Invalid enabled_events[${i}]: ${type} is not an event type.`, `enabled_events[${i}]`);
    });
    return events;
  }

  private webhookUrl(p: ParamObject): string | undefined {
    const url = readString(p, 'url');
    if (url === undefined) return undefined;
    if (!url || !/^https?:\/\/[^\s]+$/.test(url)) throw errors.invalid('Invalid URL: must be an http(s) URL.', 'url', 'url_invalid');
    return url;
  }

  private createWebhookEndpoint(req: ApiRequest): ApiResponse {
    const p = this.validate(req, {
      ...EXPAND,
      url: { type: 'string', required: true },
      enabled_events: { type: 'array', of: { type: 'string' }, maxItems: 500 },
      description: { type: 'string', maxLength: 5000 },
      metadata: { type: 'metadata' },
      api_version: { type: 'string' },
      connect: { type: 'ignored' },
    });
    const url = this.webhookUrl(p) as string;
    const enabled = this.enabledEvents(p);
    if (!enabled) throw errors.missingParam('enabled_events');
    const apiVersion = readString(p, 'api_version') ?? null;
    if (apiVersion !== null && !API_VERSIONS.includes(apiVersion)) throw errors.unsupportedVersion(apiVersion, API_VERSIONS);
    req.begin();
    const endpoint = this.webhooks.createEndpoint({ url, enabled_events: enabled, description: readString(p, 'description') ?? null, metadata: toMetadata(readMetadata(p, 'metadata')), api_version: apiVersion });
    return { status: 200, body: Webhooks.view(endpoint, true) };
  }

  private webhookEndpointResponse(req: ApiRequest, id: string, fields: ParamFields, change: (endpoint: WebhookEndpoint, p: ParamObject) => void): ApiResponse {
    const p = this.validate(req, fields);
    const endpoint = this.store.endpoints.get(id);
    if (!endpoint) throw errors.resourceMissing('webhook_endpoint', id, 'id');
    change(endpoint, p);
    return { status: 200, body: Webhooks.view(endpoint) };
  }

  private updateWebhookEndpoint(req: ApiRequest, id: string): ApiResponse {
    const fields: ParamFields = {
      ...EXPAND,
      url: { type: 'string' },
      enabled_events: { type: 'array', of: { type: 'string' }, maxItems: 500 },
      description: { type: 'string', maxLength: 5000 },
      metadata: { type: 'metadata' },
      disabled: { type: 'boolean' },
    };
    return this.webhookEndpointResponse(req, id, fields, (endpoint, p) => {
      const url = this.webhookUrl(p);
      const enabled = this.enabledEvents(p);
      req.begin();
      if (url) endpoint.url = url;
      if (enabled) endpoint.enabled_events = enabled;
      const description = readString(p, 'description');
      if (description !== undefined) endpoint.description = description;
      const metadata = readMetadata(p, 'metadata');
      if (metadata !== undefined) endpoint.metadata = applyMetadata(endpoint.metadata ?? {}, metadata);
      const disabled = readBoolean(p, 'disabled');
      if (disabled !== undefined) endpoint.status = disabled ? 'disabled' : 'enabled';
      this.store.saveEndpoint(endpoint);
    });
  }

  private deleteWebhookEndpoint(req: ApiRequest, id: string): ApiResponse {
    this.validate(req, {});
    if (!this.store.deleteEndpoint(id)) throw errors.resourceMissing('webhook_endpoint', id, 'id');
    return { status: 200, body: { id, object: 'webhook_endpoint', deleted: true } };
  }

  private listWebhookEndpoints(req: ApiRequest): ApiResponse {
    const p = this.validate(req, { ...EXPAND, limit: { type: 'integer' }, starting_after: { type: 'string' }, ending_before: { type: 'string' } });
    const limit = readInteger(p, 'limit') ?? 10;
    if (limit < 1 || limit > 100) throw errors.invalid('Invalid limit: must be between 1 and 100', 'limit', 'parameter_invalid_integer');
    const all = [...this.store.endpoints.values()].reverse();
    const after = readString(p, 'starting_after');
    const start = after ? all.findIndex((e) => e.id === after) + 1 : 0;
    if (after && start === 0) throw errors.resourceMissing('webhook_endpoint', after, 'starting_after');
    const page = all.slice(start, start + limit);
    return { status: 200, body: { object: 'list', data: page.map((e) => Webhooks.view(e)), has_more: start + limit < all.length, url: '/v1/webhook_endpoints' } };
  }

  // ---- search ----

  /** GET /v1/<objects>/search: newest first, paged by an opaque `page` token as on Stripe. */
  private search<T extends Stored>(req: ApiRequest, collection: Collection<T>, url: string, fields: readonly string[]): ApiResponse {
    const p = this.validate(req, { ...EXPAND, query: { type: 'string', required: true }, limit: { type: 'integer' }, page: { type: 'string' } });
    const query = parseQuery(readString(p, 'query') ?? '', fields);
    const limit = readInteger(p, 'limit') ?? 10;
    if (limit < 1 || limit > 100) throw errors.invalid('Invalid limit: must be between 1 and 100', 'limit', 'parameter_invalid_integer');
    const page = readString(p, 'page');
    let offset = 0;
    if (page) {
      const decoded = /^offset:(\d+)$/.exec(Buffer.from(page, 'base64url').toString('utf8'));
      if (!decoded) throw errors.invalid(`Invalid page: ${page}`, 'page');
      offset = Number(decoded[1]);
    }
    const expand = readStrings(p, 'expand');
    for (const path of expand) {
      if (!path.startsWith('data.')) throw errors.invalid(`This property cannot be expanded (${path}).`, 'expand');
    }
    this.checkExpand(collection.kind, expand.map((path) => path.slice(5)));
    const found: T[] = [];
    for (let i = collection.size - 1; i >= 0 && found.length <= offset + limit; i--) {
      const item = collection.at(i);
      if (matches(item as unknown as JsonObject, query)) found.push(item);
    }
    const data = found.slice(offset, offset + limit);
    const hasMore = found.length > offset + limit;
    const nextPage = hasMore ? Buffer.from(`offset:${offset + limit}`).toString('base64url') : null;
    return this.ok({ object: 'search_result', data, has_more: hasMore, next_page: nextPage, url }, expand);
  }

  // ---- shared ----

  private validate(req: ApiRequest, fields: ParamFields): ParamObject {
    return validateFields(req.keyKind === 'publishable' ? { ...STRIPE_JS_EXTRAS, ...fields } : fields, req.params);
  }

  private retrieve<T extends Stored>(req: ApiRequest, collection: Collection<T>, id: string, objectName: string, param: string): ApiResponse {
    const p = this.validate(req, EXPAND);
    const found = collection.get(id);
    if (!found) throw errors.resourceMissing(objectName, id, param);
    const expand = readStrings(p, 'expand');
    this.checkExpand(collection.kind, expand);
    return this.ok(found, expand);
  }

  private findPaymentIntent(id: string, param: string): PaymentIntent {
    const pi = this.store.paymentIntents.get(id);
    if (!pi) throw errors.resourceMissing('payment_intent', id, param);
    return pi;
  }

  /** The browser may touch a PaymentIntent only with its client secret. */
  private checkClientSecret(req: ApiRequest, pi: { client_secret: string }, secret: string | null | undefined): void {
    if (secret === undefined || secret === null) {
      if (req.keyKind === 'publishable') throw errors.missingParam('client_secret');
      return;
    }
    if (secret !== pi.client_secret) {
      throw errors.invalid(
        'The client_secret provided does not match the client_secret associated with the PaymentIntent.',
        'client_secret',
        'payment_intent_invalid_parameter',
      );
    }
  }

  private paymentMethodTypes(p: ParamObject): string[] | null {
    if (p.payment_method_types === undefined) return null;
    const types = readStrings(p, 'payment_method_types');
    types.forEach((t, i) => {
      if (!ACCEPTED_PAYMENT_METHOD_TYPES.has(t)) throw errors.invalid(`The payment method type "${t}" is invalid.`, `payment_method_types[${i}]`, 'payment_method_invalid_parameter');
    });
    return types.length > 0 ? types : null;
  }

  private paymentMethodFromData(data: ParamObject): PaymentMethod {
    return this.payments.createPaymentMethod(
      readCard(data, 'payment_method_data'),
      readBilling(readObject(data, 'billing_details')),
      toMetadata(readMetadata(data, 'metadata')),
    );
  }

  private confirmOptions(p: ParamObject): Omit<ConfirmOptions, 'paymentMethod'> {
    const options: Omit<ConfirmOptions, 'paymentMethod'> = {
      offSession: readBoolean(p, 'off_session') ?? false,
      errorOnRequiresAction: readBoolean(p, 'error_on_requires_action') ?? false,
    };
    const returnUrl = readString(p, 'return_url');
    if (returnUrl !== undefined) options.returnUrl = returnUrl;
    const receipt = readString(p, 'receipt_email');
    if (receipt !== undefined) options.receiptEmail = receipt;
    const capture = readString(p, 'capture_method');
    if (capture) options.captureMethod = capture as PaymentIntent['capture_method'];
    const sfu = readString(p, 'setup_future_usage');
    if (sfu !== undefined) options.setupFutureUsage = sfu;
    if (p.shipping !== undefined) options.shipping = readShipping(readObject(p, 'shipping'));
    const sdk = readBoolean(p, 'use_stripe_sdk');
    if (sdk !== undefined) options.useStripeSdk = sdk;
    return options;
  }

  private paymentIntentView<T extends PaymentIntent | SetupIntent>(pi: T, keyKind: KeyKind): T | JsonObject {
    if (keyKind === 'secret') return pi;
    const view: Record<string, unknown> = { ...pi };
    for (const field of SECRET_ONLY_FIELDS) delete view[field];
    return view as JsonObject;
  }

  private listResponse<T extends Stored>(
    req: ApiRequest,
    p: ParamObject,
    collection: Collection<T>,
    url: string,
    objectName: string,
    filter: (item: T) => boolean,
  ): ApiResponse {
    const limit = readInteger(p, 'limit') ?? 10;
    if (limit < 1 || limit > 100) throw errors.invalid('Invalid limit: must be between 1 and 100', 'limit', 'parameter_invalid_integer');
    const after = readString(p, 'starting_after');
    const before = readString(p, 'ending_before');
    if (after && before) throw errors.invalid('You may only specify one of these parameters: ending_before, starting_after.', 'ending_before');
    const created = readRange(p, 'created');
    const matches = (item: T) => inRange(item.created, created) && filter(item);
    const expand = readStrings(p, 'expand');
    for (const path of expand) {
      if (!path.startsWith('data.')) throw errors.invalid(`This property cannot be expanded (${path}).`, 'expand');
    }
    this.checkExpand(collection.kind, expand.map((path) => path.slice(5)));

    const data: T[] = [];
    let hasMore = false;
    if (before) {
      // Newer than the cursor: walk forward in time, keep the `limit` closest, answer newest first.
      const start = collection.positionOf(before);
      if (start === undefined) throw errors.resourceMissing(objectName, before, 'ending_before');
      for (let i = start + 1; i < collection.size; i++) {
        const item = collection.at(i);
        if (!matches(item)) continue;
        if (data.length === limit) {
          hasMore = true;
          break;
        }
        data.push(item);
      }
      data.reverse();
    } else {
      let start = collection.size - 1;
      if (after) {
        const position = collection.positionOf(after);
        if (position === undefined) throw errors.resourceMissing(objectName, after, 'starting_after');
        start = position - 1;
      }
      for (let i = start; i >= 0; i--) {
        const item = collection.at(i);
        if (!matches(item)) continue;
        if (data.length === limit) {
          hasMore = true;
          break;
        }
        data.push(item);
      }
    }
    const page: ListPage<T> = { object: 'list', data, has_more: hasMore, url };
    return this.ok(page, expand);
  }

  // ---- expand ----

  private static readonly EXPANDABLE: Record<string, readonly string[]> = {
    payment_intent: ['latest_charge', 'payment_method', 'last_payment_error.payment_method'],
    charge: ['payment_intent', 'balance_transaction', 'payment_method'],
    refund: ['charge', 'payment_intent', 'balance_transaction'],
    payment_method: ['customer'],
    confirmation_token: [],
    event: [],
    balance_transaction: ['source'],
    customer: [],
    setup_intent: ['customer', 'payment_method'],
  };

  /** Rejects `expand` paths Stripe would reject, before anything executes. */
  private checkExpand(kind: string, paths: string[]): void {
    for (const path of paths) {
      const [head, ...tail] = path.split('.');
      const allowed = Api.EXPANDABLE[kind] ?? [];
      const direct = allowed.includes(path) || allowed.includes(head);
      if (!direct) throw errors.invalid(`This property cannot be expanded (${path}).`, 'expand');
      if (tail.length > 0 && !allowed.includes(path)) {
        const nextKind = head === 'latest_charge' ? 'charge' : head;
        this.checkExpand(nextKind, [tail.join('.')]);
      }
    }
  }

  private ok(body: object, expand: string[]): ApiResponse {
    if (expand.length === 0) return { status: 200, body };
    let value = body as Json;
    for (const path of expand) value = this.expandPath(value, path.split('.'));
    return { status: 200, body: value };
  }

  private expandPath(value: Json, path: string[]): Json {
    if (path.length === 0 || value === null || typeof value !== 'object') return value;
    const [head, ...rest] = path;
    if (Array.isArray(value)) return value;
    if (head === 'data' && Array.isArray(value.data)) {
      return { ...value, data: value.data.map((item) => this.expandPath(item, rest)) };
    }
    const field = value[head];
    if (field === undefined) return value;
    let next: Json = field;
    if (typeof field === 'string') next = (this.lookup(field) as Json | undefined) ?? field;
    return { ...value, [head]: this.expandPath(next, rest) };
  }

  private lookup(id: string): Stored | undefined {
    if (id.startsWith('ch_')) return this.store.charges.get(id);
    if (id.startsWith('pm_')) return this.store.paymentMethods.get(id);
    if (id.startsWith('pi_')) return this.store.paymentIntents.get(id);
    if (id.startsWith('re_')) return this.store.refunds.get(id);
    if (id.startsWith('txn_')) {
      const txn = this.store.balanceTransactions.get(id);
      if (txn) this.payments.settleBalanceTransaction(txn);
      return txn;
    }
    if (id.startsWith('cus_')) return this.store.customers.get(id);
    if (id.startsWith('seti_')) return this.store.setupIntents.get(id);
    return undefined;
  }
}
