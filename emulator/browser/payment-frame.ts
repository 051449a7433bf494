// Runs inside the Payment Element's iframe on the emulator's origin. It owns the card
// inputs, formats and validates them, and creates the PaymentMethod itself, so the card
// number never reaches the merchant page: the page only ever gets state flags, the
// PaymentMethod id, the brand and the last four digits.
import {
  cvcLengthFor,
  detectBrand,
  formatExpiry,
  formatNumber,
  maxNumberLength,
  onlyDigits,
  parseExpiry,
  validateCvc,
  validateExpiry,
  validateNumber,
  validatePostalCode,
  type FieldName,
  type FieldState,
} from './card';
import { encodeForm } from './form';
import {
  MARK,
  isProtocolMessage,
  type CardFrameState,
  type FrameOptions,
  type FrameRequest,
  type FrameResult,
  type FrameToParent,
  type ParentToFrame,
  type PaymentMethodSummary,
  type StripeErrorShape,
} from './protocol';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const hash = new URLSearchParams(location.hash.slice(1));
const channel = hash.get('channel') ?? '';
const parentOrigin = hash.get('origin') ?? '';
const publishableKey = hash.get('key') ?? '';
let options: FrameOptions = parseOptions(hash.get('options'));

function parseOptions(raw: string | null): FrameOptions {
  try {
    return raw ? (JSON.parse(raw) as FrameOptions) : {};
  } catch {
    return {};
  }
}

// The origin in the hash is only trusted if the browser agrees it is our parent's.
const ancestor = location.ancestorOrigins?.[0];
const trusted = window.parent !== window && !!parentOrigin && (ancestor === undefined || ancestor === parentOrigin);

const FIELDS: FieldName[] = ['number', 'expiry', 'cvc', 'postalCode'];
const inputs = {
  number: byId<HTMLInputElement>('number'),
  expiry: byId<HTMLInputElement>('expiry'),
  cvc: byId<HTMLInputElement>('cvc'),
  postalCode: byId<HTMLInputElement>('postalCode'),
};
const country = byId<HTMLSelectElement>('country');
const brandBadge = byId<HTMLElement>('brand');
const postalRow = byId<HTMLElement>('postal-row');
const postalLabel = byId<HTMLElement>('postalCode-label');
const touched: Record<FieldName, boolean> = { number: false, expiry: false, cvc: false, postalCode: false };

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`payment frame markup is missing #${id}`);
  return el as T;
}

function send(message: DistributiveOmit<FrameToParent, typeof MARK | 'channel'>): void {
  if (!trusted) return;
  window.parent.postMessage({ [MARK]: 1, channel, ...message }, parentOrigin);
}

function fieldStates(): Record<FieldName, FieldState> {
  const hidePostal = !!options.hidePostalCode;
  return {
    number: validateNumber(inputs.number.value),
    expiry: validateExpiry(inputs.expiry.value),
    cvc: validateCvc(inputs.cvc.value, inputs.number.value),
    postalCode: hidePostal ? { empty: false, complete: true, eagerError: null, error: null } : validatePostalCode(inputs.postalCode.value, country.value),
  };
}

function frameState(states = fieldStates()): CardFrameState {
  const visible = FIELDS.filter((f) => f !== 'postalCode' || !options.hidePostalCode);
  return {
    empty: visible.every((f) => states[f].empty),
    complete: visible.every((f) => states[f].complete),
    brand: detectBrand(onlyDigits(inputs.number.value)),
  };
}

function render(states = fieldStates()): void {
  for (const field of FIELDS) {
    const s = states[field];
    const shown = s.eagerError ?? (touched[field] ? s.error : null);
    const input = inputs[field];
    const errorEl = byId<HTMLElement>(`${field}-error`);
    errorEl.textContent = shown ? shown.message : '';
    input.setAttribute('aria-invalid', shown ? 'true' : 'false');
    input.classList.toggle('invalid', !!shown);
  }
  const brand = detectBrand(onlyDigits(inputs.number.value));
  brandBadge.textContent = brand === 'unknown' ? '' : brand.toUpperCase();
  brandBadge.dataset.brand = brand;
  const us = country.value === 'US';
  postalLabel.textContent = us ? 'ZIP code' : 'Postal code';
  inputs.postalCode.placeholder = us ? '12345' : '';
  inputs.postalCode.autocomplete = 'postal-code';
  postalRow.hidden = !!options.hidePostalCode;
}

function emitChange(): void {
  const states = fieldStates();
  render(states);
  send({ kind: 'change', state: frameState(states) });
}

function nextFocus(from: FieldName): void {
  const order = FIELDS.filter((f) => f !== 'postalCode' || !options.hidePostalCode);
  const next = order[order.indexOf(from) + 1];
  if (next) inputs[next].focus();
}

inputs.number.addEventListener('input', () => {
  const digits = onlyDigits(inputs.number.value).slice(0, maxNumberLength(onlyDigits(inputs.number.value)));
  inputs.number.value = formatNumber(digits);
  emitChange();
  if (validateNumber(inputs.number.value).complete && digits.length === maxNumberLength(digits)) nextFocus('number');
});

let previousExpiry = '';
inputs.expiry.addEventListener('input', (event) => {
  const deleting = (event as InputEvent).inputType?.startsWith('delete') ?? false;
  inputs.expiry.value = formatExpiry(inputs.expiry.value, previousExpiry, deleting);
  previousExpiry = inputs.expiry.value;
  emitChange();
  if (validateExpiry(inputs.expiry.value).complete) nextFocus('expiry');
});

inputs.cvc.addEventListener('input', () => {
  inputs.cvc.value = onlyDigits(inputs.cvc.value).slice(0, cvcLengthFor(onlyDigits(inputs.number.value)));
  emitChange();
});

inputs.postalCode.addEventListener('input', () => {
  if (country.value === 'US') inputs.postalCode.value = inputs.postalCode.value.replace(/[^\d-]/g, '').slice(0, 10);
  emitChange();
});

country.addEventListener('change', emitChange);

for (const field of FIELDS) {
  // Stripe only complains about an incomplete field once the shopper leaves it.
  inputs[field].addEventListener('blur', () => {
    if (inputs[field].value) touched[field] = true;
    render();
  });
}

// focus/blur of the element as a whole, not of each input inside it.
const form = byId<HTMLFormElement>('card-form');
let focused = false;
form.addEventListener('focusin', () => {
  if (!focused) {
    focused = true;
    send({ kind: 'focus' });
  }
});
form.addEventListener('focusout', (event) => {
  const to = event.relatedTarget as Node | null;
  if (to && form.contains(to)) return;
  focused = false;
  send({ kind: 'blur' });
});
form.addEventListener('submit', (event) => event.preventDefault());
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') send({ kind: 'escape' });
});

function applyOptions(next: FrameOptions): void {
  options = { ...options, ...next };
  for (const field of FIELDS) inputs[field].readOnly = !!options.readOnly;
  country.disabled = !!options.readOnly;
  render();
}

function validate(): StripeErrorShape | null {
  const states = fieldStates();
  for (const field of FIELDS) touched[field] = true;
  render(states);
  for (const field of FIELDS) {
    const error = states[field].error;
    if (error) {
      inputs[field].focus();
      return { type: 'validation_error', code: error.code, message: error.message, param: field === 'postalCode' ? 'billing_details[address][postal_code]' : `card[${field}]` };
    }
  }
  return null;
}

/** The card as PaymentMethod parameters (type, card, billing_details). */
function cardParams(billingDetails: unknown): Record<string, unknown> {
  const { month, year } = parseExpiry(inputs.expiry.value);
  const extra = (typeof billingDetails === 'object' && billingDetails !== null ? billingDetails : {}) as Record<string, unknown>;
  const extraAddress = (typeof extra.address === 'object' && extra.address !== null ? extra.address : {}) as Record<string, unknown>;
  const address = options.hidePostalCode ? extraAddress : { ...extraAddress, country: country.value, postal_code: inputs.postalCode.value.trim() };
  return {
    type: 'card',
    card: { number: onlyDigits(inputs.number.value), exp_month: month, exp_year: year, cvc: onlyDigits(inputs.cvc.value) },
    billing_details: Object.keys(address).length ? { ...extra, address } : extra,
  };
}

/** POSTs to the emulator with the publishable key: the JSON object, or the API's error. */
async function post(path: string, params: Record<string, unknown>): Promise<{ ok: true; json: Record<string, unknown> } | { ok: false; error: StripeErrorShape }> {
  let response: Response;
  try {
    response = await fetch(`${location.origin}${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${publishableKey}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: encodeForm(params),
    });
  } catch {
    return { ok: false, error: { type: 'api_connection_error', message: 'An error occurred with our connection to Stripe.' } };
  }
  let json: Record<string, unknown>;
  try {
    json = (await response.json()) as Record<string, unknown>;
  } catch {
    return { ok: false, error: { type: 'api_error', message: `Unexpected response from Stripe (HTTP ${response.status}).` } };
  }
  if (!response.ok || typeof json.id !== 'string') {
    return { ok: false, error: (json.error ?? { type: 'api_error', message: `HTTP ${response.status}` }) as StripeErrorShape };
  }
  return { ok: true, json };
}

/**
 * stripe.createConfirmationToken(): the card goes from this frame straight to the emulator as
 * `payment_method_data`; the page gets the token, whose preview holds no card number.
 */
async function createConfirmationToken(billingDetails: unknown, params: unknown): Promise<FrameResult> {
  const error = validate();
  if (error) return { ok: false, error };
  const extra = (typeof params === 'object' && params !== null ? params : {}) as Record<string, unknown>;
  const pick = (key: string) => (extra[key] === undefined ? {} : { [key]: extra[key] });
  const created = await post('/v1/confirmation_tokens', {
    payment_method_data: cardParams(billingDetails),
    ...pick('return_url'),
    ...pick('shipping'),
    ...pick('setup_future_usage'),
  });
  if (!created.ok) return created;
  return { ok: true, confirmationToken: created.json };
}

async function createPaymentMethod(billingDetails: unknown, metadata: unknown): Promise<FrameResult> {
  const error = validate();
  if (error) return { ok: false, error };
  const created = await post('/v1/payment_methods', { ...cardParams(billingDetails), metadata: typeof metadata === 'object' && metadata !== null ? metadata : undefined });
  if (!created.ok) return created;
  const { json } = created;
  if (typeof json.id !== 'string') return { ok: false, error: { type: 'api_error', message: 'Unexpected response from Stripe.' } };
  const card = (json.card ?? {}) as Record<string, unknown>;
  const summary: PaymentMethodSummary = {
    id: json.id,
    object: 'payment_method',
    type: 'card',
    card: { brand: String(card.brand ?? detectBrand(onlyDigits(inputs.number.value))), last4: String(card.last4 ?? onlyDigits(inputs.number.value).slice(-4)) },
    billing_details: json.billing_details,
    created: typeof json.created === 'number' ? json.created : undefined,
    livemode: json.livemode === true,
  };
  return { ok: true, paymentMethod: summary };
}

async function handle(request: FrameRequest): Promise<FrameResult> {
  switch (request.method) {
    case 'validate': {
      const error = validate();
      return error ? { ok: false, error } : { ok: true };
    }
    case 'createPaymentMethod':
      return createPaymentMethod(request.billingDetails, request.metadata);
    case 'createConfirmationToken':
      return createConfirmationToken(request.billingDetails, request.params);
    case 'focus': {
      const first = FIELDS.find((f) => !fieldStates()[f].complete) ?? 'number';
      inputs[first].focus();
      return { ok: true };
    }
    case 'blur':
      (document.activeElement as HTMLElement | null)?.blur();
      return { ok: true };
    case 'clear':
      for (const field of FIELDS) {
        inputs[field].value = '';
        touched[field] = false;
      }
      previousExpiry = '';
      emitChange();
      return { ok: true };
    case 'update':
      applyOptions(request.options);
      emitChange();
      return { ok: true };
  }
}

window.addEventListener('message', (event: MessageEvent) => {
  if (!trusted || event.source !== window.parent || event.origin !== parentOrigin) return;
  if (!isProtocolMessage(event.data)) return;
  const message = event.data as unknown as ParentToFrame;
  if (message.kind !== 'request' || message.channel !== channel) return;
  handle(message.request)
    .catch((error: unknown): FrameResult => ({ ok: false, error: { type: 'api_error', message: error instanceof Error ? error.message : String(error) } }))
    .then((result) => send({ kind: 'response', requestId: message.requestId, result }));
});

function height(): number {
  return Math.ceil(document.documentElement.getBoundingClientRect().height);
}

let lastHeight = 0;
new ResizeObserver(() => {
  const h = height();
  if (h !== lastHeight) {
    lastHeight = h;
    send({ kind: 'resize', height: h });
  }
}).observe(document.documentElement);

if (options.defaultCountry) country.value = options.defaultCountry;
if (options.defaultPostalCode) inputs.postalCode.value = options.defaultPostalCode;
applyOptions({});
if (trusted) {
  lastHeight = height();
  send({ kind: 'ready', height: lastHeight, state: frameState() });
} else {
  document.body.textContent = 'This payment form can only be used inside the page that created it.';
}
