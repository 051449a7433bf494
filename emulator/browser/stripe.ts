// The emulated Stripe.js: a `window.Stripe` that @stripe/stripe-js and
// @stripe/react-stripe-js accept, with deferred-intent Elements, the Payment Element
// (card inputs in an iframe on the emulator's origin), confirmPayment and a 3-D Secure
// challenge modal. Served by emulator/src/stripejs.ts, which prepends
// `var __STRIPE_EMULATOR__ = { origin, train }`.
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
  type StripeErrorShape,
} from './protocol';

declare const __STRIPE_EMULATOR__: { origin: string; train: string } | undefined;

const config = typeof __STRIPE_EMULATOR__ !== 'undefined' ? __STRIPE_EMULATOR__ : { origin: '', train: 'v3' };
const TRAIN = config.train;
// The origin the page loaded us from is the one its CSP allows, so frames and API calls use it.
const ORIGIN = scriptOrigin() ?? config.origin;

function scriptOrigin(): string | null {
  try {
    const src = (document.currentScript as HTMLScriptElement | null)?.src;
    return src ? new URL(src).origin : null;
  } catch {
    return null;
  }
}

/** Thrown (or rejected) for integration mistakes, as real Stripe.js does. */
class IntegrationError extends Error {
  override name = 'IntegrationError';
}

type Json = Record<string, unknown>;
type Handler = (event: unknown) => void;

interface PaymentIntent extends Json {
  id: string;
  status: string;
  next_action?: { type?: string; use_stripe_sdk?: { type?: string; stripe_js?: string }; redirect_to_url?: { url?: string } } | null;
  last_payment_error?: StripeErrorShape | null;
}

type ApiResult<T> = { data: T } | { error: StripeErrorShape };
type PaymentIntentResult = { paymentIntent: PaymentIntent } | { error: StripeErrorShape };

const NEVER = <T,>(): Promise<T> => new Promise<T>(() => undefined);
const SUCCESS_STATUSES = ['succeeded', 'processing', 'requires_capture'];

let idCounter = 0;
function randomId(): string {
  idCounter += 1;
  return `${Math.random().toString(36).slice(2, 10)}${idCounter}`;
}

function unsupported(what: string): { error: StripeErrorShape } {
  return {
    error: {
      type: 'invalid_request_error',
      code: 'emulator_unsupported',
      message: `${what} is not supported by the Stripe emulator; use the Payment Element with stripe.confirmPayment().`,
    },
  };
}

function paymentIntentIdFrom(clientSecret: unknown, method: string): string {
  const match = typeof clientSecret === 'string' ? /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/.exec(clientSecret) : null;
  if (!match) {
    throw new IntegrationError(
      `Invalid value for ${method}: clientSecret should be a client secret of the form \${id}_secret_\${secret}. You specified: ${String(clientSecret)}.`,
    );
  }
  return match[1];
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------
// Payment Element

const FRAME_LOAD_TIMEOUT_MS = 15_000;

class PaymentElement {
  private options: Json;
  private listeners = new Map<string, Set<Handler>>();
  private wrapper: HTMLDivElement | null = null;
  private iframe: HTMLIFrameElement | null = null;
  private channel = '';
  private ready = false;
  private readyWaiters: Array<(ok: boolean) => void> = [];
  private pending = new Map<number, (result: FrameResult) => void>();
  private nextRequestId = 1;
  private loadTimer: ReturnType<typeof setTimeout> | null = null;
  private onMessage: ((event: MessageEvent) => void) | null = null;
  destroyed = false;
  state: CardFrameState = { empty: true, complete: false, brand: 'unknown' };

  constructor(
    private readonly group: ElementsGroup,
    options: unknown,
  ) {
    this.options = isObject(options) ? { ...options } : {};
  }

  get mounted(): boolean {
    return this.wrapper !== null;
  }

  mount(target: unknown): void {
    if (this.destroyed) throw new IntegrationError('This Element has already been destroyed. Please create a new one.');
    if (this.wrapper) throw new IntegrationError('This Element is already mounted. Use `unmount()` to unmount the Element before re-mounting.');
    const container = typeof target === 'string' ? document.querySelector(target) : target;
    if (!(container instanceof HTMLElement)) {
      throw new IntegrationError(
        typeof target === 'string' ? `The selector you specified (${target}) applies to no DOM elements that are currently on the page.` : 'Invalid DOM element. Make sure to call mount() with a valid DOM element or selector.',
      );
    }
    this.channel = randomId();
    this.ready = false;
    const frameUrl = new URL('/v3/elements-inner-payment.html', ORIGIN);
    frameUrl.hash = new URLSearchParams({
      channel: this.channel,
      origin: location.origin,
      key: this.group.stripe.publishableKey,
      options: JSON.stringify(this.frameOptions()),
    }).toString();

    const wrapper = document.createElement('div');
    wrapper.className = '__PrivateStripeElement';
    wrapper.style.cssText = 'margin:0 !important;padding:0 !important;border:none !important;display:block !important;background:transparent !important;position:relative !important;opacity:1 !important;';
    const iframe = document.createElement('iframe');
    iframe.name = `__privateStripeFrame${Math.floor(1000 + Math.random() * 9000)}${idCounter}`;
    iframe.setAttribute('frameborder', '0');
    iframe.setAttribute('allowtransparency', 'true');
    iframe.setAttribute('scrolling', 'no');
    iframe.setAttribute('role', 'presentation');
    iframe.setAttribute('allow', 'payment *');
    iframe.title = 'Secure payment input frame';
    iframe.style.cssText = 'border:none !important;margin:0 !important;padding:0 !important;width:1px !important;min-width:100% !important;overflow:hidden !important;display:block !important;user-select:none !important;height:260px;';
    iframe.src = frameUrl.toString();
    wrapper.appendChild(iframe);

    this.onMessage = (event) => {
      try {
        this.receive(event);
      } catch (error) {
        console.error('Stripe emulator:', error);
      }
    };
    window.addEventListener('message', this.onMessage);
    this.wrapper = wrapper;
    this.iframe = iframe;
    container.appendChild(wrapper);
    this.emit('loaderstart', { elementType: 'payment' });
    this.loadTimer = setTimeout(() => {
      if (this.ready || !this.wrapper) return;
      this.emit('loaderror', {
        elementType: 'payment',
        error: { type: 'api_connection_error', message: `The Payment Element could not load from ${ORIGIN}. Is the Stripe emulator running?` },
      });
      this.settleReady(false);
    }, FRAME_LOAD_TIMEOUT_MS);
  }

  unmount(): void {
    if (!this.wrapper) return;
    if (this.onMessage) window.removeEventListener('message', this.onMessage);
    this.onMessage = null;
    if (this.loadTimer) clearTimeout(this.loadTimer);
    this.loadTimer = null;
    this.wrapper.remove();
    this.wrapper = null;
    this.iframe = null;
    this.ready = false;
    this.settleReady(false);
    for (const resolve of this.pending.values()) {
      resolve({ ok: false, error: { type: 'validation_error', code: 'element_unmounted', message: 'The Payment Element was unmounted.' } });
    }
    this.pending.clear();
    this.state = { empty: true, complete: false, brand: 'unknown' };
  }

  destroy(): void {
    if (this.destroyed) return;
    this.unmount();
    this.destroyed = true;
    this.listeners.clear();
    this.group.forget(this);
  }

  on(event: string, handler: Handler): this {
    if (typeof handler !== 'function') throw new IntegrationError(`When adding an event listener for "${event}", the handler must be a function.`);
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(handler);
    return this;
  }

  once(event: string, handler: Handler): this {
    const wrapped: Handler = (payload) => {
      this.off(event, wrapped);
      handler(payload);
    };
    return this.on(event, wrapped);
  }

  off(event: string, handler?: Handler): this {
    if (handler) this.listeners.get(event)?.delete(handler);
    else this.listeners.delete(event);
    return this;
  }

  update(options: unknown): this {
    if (isObject(options)) {
      this.options = { ...this.options, ...options };
      if (this.ready) void this.request({ method: 'update', options: this.frameOptions() });
    }
    return this;
  }

  focus(): this {
    try {
      this.iframe?.contentWindow?.focus();
    } catch {
      // A cross-origin focus can be refused; the frame focuses its own input below.
    }
    void this.request({ method: 'focus' });
    return this;
  }

  blur(): this {
    void this.request({ method: 'blur' });
    return this;
  }

  clear(): this {
    void this.request({ method: 'clear' });
    return this;
  }

  collapse(): this {
    // A card-only Payment Element has no accordion to collapse.
    return this;
  }

  /** Sends a request to the card frame, waiting for it to load first. */
  async request(request: FrameRequest): Promise<FrameResult> {
    if (!this.wrapper) {
      return { ok: false, error: { type: 'validation_error', code: 'element_not_mounted', message: 'The Payment Element is not mounted.' } };
    }
    if (!this.ready && !(await new Promise<boolean>((resolve) => this.readyWaiters.push(resolve)))) {
      return { ok: false, error: { type: 'api_connection_error', message: 'The Payment Element did not finish loading.' } };
    }
    const target = this.iframe?.contentWindow;
    if (!target) return { ok: false, error: { type: 'validation_error', code: 'element_not_mounted', message: 'The Payment Element is not mounted.' } };
    const requestId = this.nextRequestId++;
    const message: ParentToFrame = { [MARK]: 1, channel: this.channel, kind: 'request', requestId, request };
    return new Promise<FrameResult>((resolve) => {
      this.pending.set(requestId, resolve);
      try {
        target.postMessage(message, ORIGIN);
      } catch (error) {
        this.pending.delete(requestId);
        resolve({ ok: false, error: { type: 'api_error', message: `Stripe emulator: ${describe(error)}` } });
      }
    });
  }

  private frameOptions(): FrameOptions {
    const fields = this.options.fields;
    const billing = isObject(fields) ? fields.billingDetails : undefined;
    const address = isObject(billing) ? billing.address : undefined;
    const hidePostalCode = billing === 'never' || address === 'never' || (isObject(address) && address.postalCode === 'never');
    const defaults = isObject(this.options.defaultValues) ? this.options.defaultValues.billingDetails : undefined;
    const defaultAddress = isObject(defaults) && isObject(defaults.address) ? defaults.address : {};
    return {
      readOnly: this.options.readOnly === true,
      hidePostalCode,
      defaultCountry: typeof defaultAddress.country === 'string' ? defaultAddress.country : undefined,
      defaultPostalCode: typeof defaultAddress.postal_code === 'string' ? defaultAddress.postal_code : undefined,
    };
  }

  private settleReady(ok: boolean): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const resolve of waiters) resolve(ok);
  }

  private receive(event: MessageEvent): void {
    if (!this.iframe || event.source !== this.iframe.contentWindow || event.origin !== ORIGIN) return;
    if (!isProtocolMessage(event.data)) return;
    const message = event.data as unknown as FrameToParent;
    if (message.channel !== this.channel) return;
    switch (message.kind) {
      case 'ready':
        this.ready = true;
        if (this.loadTimer) clearTimeout(this.loadTimer);
        this.loadTimer = null;
        this.state = message.state;
        this.resize(message.height);
        this.settleReady(true);
        this.emit('ready', { elementType: 'payment' });
        break;
      case 'change':
        this.state = message.state;
        this.emit('change', { elementType: 'payment', empty: message.state.empty, complete: message.state.complete, collapsed: false, value: { type: 'card' } });
        break;
      case 'focus':
      case 'blur':
      case 'escape':
        this.emit(message.kind, { elementType: 'payment' });
        break;
      case 'resize':
        this.resize(message.height);
        break;
      case 'response': {
        const resolve = this.pending.get(message.requestId);
        this.pending.delete(message.requestId);
        resolve?.(message.result);
        break;
      }
    }
  }

  private resize(height: number): void {
    if (this.iframe && Number.isFinite(height) && height > 0) this.iframe.style.height = `${Math.ceil(height)}px`;
  }

  private emit(event: string, payload: unknown): void {
    for (const handler of [...(this.listeners.get(event) ?? [])]) {
      try {
        handler(payload);
      } catch (error) {
        // A merchant's listener must not break the element.
        console.error(error);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Elements group

class ElementsGroup {
  options: Json;
  private paymentElement: PaymentElement | null = null;
  /** Deferred-intent integrations must call submit() before confirming, as with real Stripe. */
  submitted = false;

  constructor(
    readonly stripe: StripeInstance,
    options: unknown,
  ) {
    this.options = isObject(options) ? { ...options } : {};
    checkElementsOptions(this.options);
    this.create = this.create.bind(this);
    this.getElement = this.getElement.bind(this);
    this.update = this.update.bind(this);
    this.fetchUpdates = this.fetchUpdates.bind(this);
    this.submit = this.submit.bind(this);
  }

  create(type: string, options?: unknown): PaymentElement {
    if (type !== 'payment') {
      throw new IntegrationError(`elements.create('${String(type)}') is not supported by the Stripe emulator; it provides the Payment Element ('payment').`);
    }
    if (!this.options.clientSecret && !this.options.mode) {
      throw new IntegrationError('In order to create a payment element, you must pass a clientSecret or mode when creating the Elements group.\n\ne.g. stripe.elements({clientSecret: "{{CLIENT_SECRET}}"})');
    }
    if (this.paymentElement && !this.paymentElement.destroyed) throw new IntegrationError('Can only create one Element of type payment.');
    this.paymentElement = new PaymentElement(this, options);
    return this.paymentElement;
  }

  getElement(type: string): PaymentElement | null {
    return type === 'payment' && this.paymentElement && !this.paymentElement.destroyed ? this.paymentElement : null;
  }

  update(options: unknown): this {
    if (!isObject(options)) return this;
    const { clientSecret, ...rest } = options;
    if (clientSecret !== undefined) console.warn('Unsupported elements.update parameter: clientSecret cannot be changed after the Elements group is created.');
    const next = { ...this.options, ...rest };
    checkElementsOptions(next);
    this.options = next;
    return this;
  }

  fetchUpdates(): Promise<Json> {
    return Promise.resolve({});
  }

  async submit(): Promise<{ selectedPaymentMethod: string } | { error: StripeErrorShape }> {
    const element = this.mountedPaymentElement();
    if (!element) {
      return { error: { type: 'validation_error', code: 'element_not_mounted', message: 'elements.submit() needs a mounted Payment Element.' } };
    }
    const result = await element.request({ method: 'validate' });
    if (!result.ok) {
      this.submitted = false;
      return { error: result.error };
    }
    this.submitted = true;
    return { selectedPaymentMethod: 'card' };
  }

  mountedPaymentElement(): PaymentElement | null {
    const element = this.getElement('payment');
    return element && element.mounted ? element : null;
  }

  forget(element: PaymentElement): void {
    if (this.paymentElement === element) this.paymentElement = null;
  }
}

function checkElementsOptions(options: Json): void {
  const { mode, amount, currency } = options;
  if (mode === undefined) return;
  if (mode !== 'payment' && mode !== 'setup' && mode !== 'subscription') {
    throw new IntegrationError(`Invalid value for elements(): mode should be one of the following strings: payment, setup, subscription. You specified: ${String(mode)}.`);
  }
  if (mode !== 'setup' && (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 0)) {
    throw new IntegrationError(`Invalid value for elements(): amount should be a non-negative integer in the currency's smallest unit when mode is ${mode}. You specified: ${String(amount)}.`);
  }
  if (typeof currency !== 'string' || !/^[a-zA-Z]{3}$/.test(currency)) {
    throw new IntegrationError(`Invalid value for elements(): currency should be a three-letter ISO currency code. You specified: ${String(currency)}.`);
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------
// The Stripe object

interface ConfirmPaymentOptions {
  elements?: unknown;
  clientSecret?: unknown;
  confirmParams?: Json;
  redirect?: unknown;
}

class StripeInstance {
  readonly version = TRAIN;
  private readonly wrappers: unknown[] = [];
  private readonly appInfo: unknown[] = [];

  constructor(
    readonly publishableKey: string,
    private readonly options: Json,
  ) {
    // Methods may be passed around detached from the instance (e.g. const { confirmPayment } = stripe).
    for (const name of Object.getOwnPropertyNames(StripeInstance.prototype)) {
      const value = (this as unknown as Json)[name];
      if (name !== 'constructor' && typeof value === 'function') (this as unknown as Json)[name] = value.bind(this);
    }
  }

  _registerWrapper(wrapper: unknown): void {
    this.wrappers.push(wrapper);
  }

  registerAppInfo(info: unknown): void {
    this.appInfo.push(info);
  }

  elements(options?: unknown): ElementsGroup {
    return new ElementsGroup(this, options);
  }

  confirmPayment(options: ConfirmPaymentOptions): Promise<PaymentIntentResult> {
    return this.guard(() => this.doConfirmPayment(options ?? {}));
  }

  confirmCardPayment(clientSecret: unknown, data?: Json, options?: Json): Promise<PaymentIntentResult> {
    return this.guard(async () => {
      const id = paymentIntentIdFrom(clientSecret, 'stripe.confirmCardPayment');
      const { payment_method: paymentMethod, ...rest } = isObject(data) ? data : {};
      if (paymentMethod !== undefined && typeof paymentMethod !== 'string') return unsupported('confirmCardPayment with a Card Element or raw card data');
      // Stripe.js handles next actions itself, so it asks for them in SDK form, as the real one does.
      const confirmed = await this.api<PaymentIntent>('POST', `/v1/payment_intents/${id}/confirm`, { ...rest, client_secret: clientSecret, payment_method: paymentMethod, use_stripe_sdk: true });
      if ('error' in confirmed) return { error: confirmed.error };
      if (isObject(options) && options.handleActions === false) return { paymentIntent: confirmed.data };
      return this.settle(confirmed.data, clientSecret as string);
    });
  }

  retrievePaymentIntent(clientSecret: unknown): Promise<PaymentIntentResult> {
    return this.guard(async () => {
      const result = await this.fetchPaymentIntent(clientSecret, 'stripe.retrievePaymentIntent');
      return 'error' in result ? { error: result.error } : { paymentIntent: result.data };
    });
  }

  handleNextAction(options: { clientSecret?: unknown }): Promise<PaymentIntentResult> {
    return this.guard(async () => {
      const clientSecret = options?.clientSecret;
      const result = await this.fetchPaymentIntent(clientSecret, 'stripe.handleNextAction');
      if ('error' in result) return { error: result.error };
      return this.settle(result.data, clientSecret as string);
    });
  }

  handleCardAction(clientSecret: unknown): Promise<PaymentIntentResult> {
    return this.handleNextAction({ clientSecret });
  }

  createPaymentMethod(params: Json): Promise<{ paymentMethod: unknown } | { error: StripeErrorShape }> {
    return this.guard(async () => {
      const elements = isObject(params) ? params.elements : undefined;
      if (!(elements instanceof ElementsGroup)) return unsupported('createPaymentMethod without `elements`');
      if (elements.options.paymentMethodCreation !== 'manual') {
        throw new IntegrationError("stripe.createPaymentMethod() with `elements` requires the Elements group to be created with `paymentMethodCreation: 'manual'`.");
      }
      const element = this.submittedElement(elements, 'stripe.createPaymentMethod()');
      const extra = isObject(params.params) ? params.params : {};
      const result = await element.request({ method: 'createPaymentMethod', billingDetails: extra.billing_details, metadata: extra.metadata });
      if (!result.ok) return { error: result.error };
      return { paymentMethod: result.paymentMethod };
    });
  }

  createToken(): Promise<{ error: StripeErrorShape }> {
    return Promise.resolve(unsupported('stripe.createToken()'));
  }

  createSource(): Promise<{ error: StripeErrorShape }> {
    return Promise.resolve(unsupported('stripe.createSource()'));
  }

  /**
   * Deferred-intent server-side confirmation: the Payment Element's card becomes a
   * ConfirmationToken (POST /v1/confirmation_tokens from the card frame, publishable key),
   * which the merchant's server confirms a PaymentIntent with.
   */
  createConfirmationToken(options: Json): Promise<{ confirmationToken: unknown } | { error: StripeErrorShape }> {
    return this.guard(async () => {
      const elements = isObject(options) ? options.elements : undefined;
      if (!(elements instanceof ElementsGroup)) {
        throw new IntegrationError('Invalid value for createConfirmationToken: elements should be an Elements group created by this Stripe instance.');
      }
      const element = this.submittedElement(elements, 'stripe.createConfirmationToken()');
      const params = isObject(options.params) ? options.params : {};
      const pmData = isObject(params.payment_method_data) ? params.payment_method_data : {};
      const { payment_method_data: _pmData, ...rest } = params;
      const result = await element.request({ method: 'createConfirmationToken', billingDetails: pmData.billing_details, params: rest });
      if (!result.ok) return { error: result.error };
      return { confirmationToken: result.confirmationToken };
    });
  }

  confirmSetup(): Promise<{ error: StripeErrorShape }> {
    return Promise.resolve(unsupported('SetupIntents (stripe.confirmSetup())'));
  }

  retrieveSetupIntent(): Promise<{ error: StripeErrorShape }> {
    return Promise.resolve(unsupported('SetupIntents (stripe.retrieveSetupIntent())'));
  }

  paymentRequest(): never {
    throw new IntegrationError('stripe.paymentRequest() is not supported by the Stripe emulator.');
  }

  // --- internals --------------------------------------------------------------------

  /** Integration mistakes reject, like real Stripe.js; anything unexpected becomes `{ error }`. */
  private async guard<T>(run: () => Promise<T | { error: StripeErrorShape }>): Promise<T | { error: StripeErrorShape }> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof IntegrationError) throw error;
      return { error: { type: 'api_error', message: `Stripe emulator: ${describe(error)}` } };
    }
  }

  private submittedElement(elements: ElementsGroup, method: string): PaymentElement {
    const element = elements.mountedPaymentElement();
    if (!element) throw new IntegrationError(`${method} was called with an Elements group that has no mounted Payment Element.`);
    if (!elements.options.clientSecret && !elements.submitted) {
      throw new IntegrationError(
        `elements.submit() must be called before ${method}. Call elements.submit() as soon as your customer presses pay, prior to any asynchronous work. Integration guide: https://stripe.com/docs/payments/accept-a-payment-deferred`,
      );
    }
    return element;
  }

  private async doConfirmPayment(options: ConfirmPaymentOptions): Promise<PaymentIntentResult> {
    const { elements, confirmParams = {}, redirect = 'always' } = options;
    if (elements !== undefined && !(elements instanceof ElementsGroup)) throw new IntegrationError('Invalid value for confirmPayment: elements should be an Elements group created by this Stripe instance.');
    if (redirect !== 'always' && redirect !== 'if_required') throw new IntegrationError(`Invalid value for confirmPayment: redirect should be one of: always, if_required. You specified: ${String(redirect)}.`);
    const clientSecret = options.clientSecret ?? elements?.options.clientSecret;
    if (clientSecret === undefined) throw new IntegrationError('stripe.confirmPayment(): the `clientSecret` parameter is required when the Elements group was created without one.');
    const id = paymentIntentIdFrom(clientSecret, 'stripe.confirmPayment');
    const returnUrl = typeof confirmParams.return_url === 'string' ? confirmParams.return_url : null;
    if (redirect === 'always' && !returnUrl) {
      throw new IntegrationError("stripe.confirmPayment(): the `confirmParams.return_url` argument is required unless passing `redirect: 'if_required'`.");
    }
    const { payment_method_data: methodData, payment_method: givenMethod, ...rest } = confirmParams;
    let paymentMethod = typeof givenMethod === 'string' ? givenMethod : undefined;
    if (!paymentMethod) {
      if (!elements) throw new IntegrationError('stripe.confirmPayment(): pass `elements` or `confirmParams.payment_method`.');
      const element = this.submittedElement(elements, 'stripe.confirmPayment()');
      const data = isObject(methodData) ? methodData : {};
      const created = await element.request({ method: 'createPaymentMethod', billingDetails: data.billing_details, metadata: data.metadata });
      if (!created.ok) return { error: created.error };
      paymentMethod = created.paymentMethod?.id;
    }
    const confirmed = await this.api<PaymentIntent>('POST', `/v1/payment_intents/${id}/confirm`, { ...rest, client_secret: clientSecret, payment_method: paymentMethod, use_stripe_sdk: true });
    if ('error' in confirmed) return { error: confirmed.error };
    const result = await this.settle(confirmed.data, clientSecret as string);
    if ('paymentIntent' in result && redirect === 'always' && returnUrl) return this.redirectTo(returnUrl, result.paymentIntent, clientSecret as string);
    return result;
  }

  /** Runs any next action (3-D Secure) and turns the PaymentIntent's state into a result. */
  private async settle(paymentIntent: PaymentIntent, clientSecret: string): Promise<PaymentIntentResult> {
    let pi = paymentIntent;
    if (pi.status === 'requires_action') {
      const action = pi.next_action;
      if (action?.type === 'redirect_to_url' && action.redirect_to_url?.url) {
        location.assign(action.redirect_to_url.url);
        return NEVER();
      }
      const challengeUrl = action?.type === 'use_stripe_sdk' ? action.use_stripe_sdk?.stripe_js : undefined;
      if (!challengeUrl) {
        return { error: { type: 'invalid_request_error', code: 'payment_intent_unexpected_state', message: `The Stripe emulator cannot handle next_action ${String(action?.type)}.`, payment_intent: pi } };
      }
      await this.challenge(challengeUrl);
      const fresh = await this.fetchPaymentIntent(clientSecret, 'stripe.confirmPayment');
      if ('error' in fresh) return { error: fresh.error };
      pi = fresh.data;
      if (pi.status === 'requires_action') {
        return {
          error: {
            type: 'invalid_request_error',
            code: 'payment_intent_authentication_failure',
            message: 'We are unable to authenticate your payment method. Please choose a different payment method and try again.',
            payment_intent: pi,
          },
        };
      }
    }
    if (pi.status === 'requires_payment_method' && pi.last_payment_error) {
      return { error: { ...pi.last_payment_error, payment_intent: pi } };
    }
    return { paymentIntent: pi };
  }

  private redirectTo(returnUrl: string, pi: PaymentIntent, clientSecret: string): Promise<PaymentIntentResult> {
    let target: URL;
    try {
      target = new URL(returnUrl, location.href);
    } catch {
      return Promise.resolve({ error: { type: 'invalid_request_error', param: 'return_url', message: `Invalid return_url: ${returnUrl}` } });
    }
    target.searchParams.set('payment_intent', pi.id);
    target.searchParams.set('payment_intent_client_secret', clientSecret);
    target.searchParams.set('redirect_status', SUCCESS_STATUSES.includes(pi.status) ? 'succeeded' : 'failed');
    location.assign(target.toString());
    return NEVER();
  }

  /** Shows the 3-D Secure challenge in a modal frame and waits for Complete or Fail. */
  private challenge(url: string): Promise<void> {
    let frameUrl: URL;
    try {
      frameUrl = new URL(url);
    } catch {
      return Promise.resolve();
    }
    if (frameUrl.protocol !== 'http:' && frameUrl.protocol !== 'https:') return Promise.resolve();
    frameUrl.hash = new URLSearchParams({ origin: location.origin, key: this.publishableKey }).toString();
    return new Promise<void>((resolve) => {
      const overlay = document.createElement('div');
      overlay.setAttribute('data-stripe-emulator', '3ds-modal');
      overlay.style.cssText = 'position:fixed !important;inset:0 !important;z-index:2147483647 !important;background:rgba(0,0,0,.45) !important;display:flex !important;align-items:center !important;justify-content:center !important;';
      const iframe = document.createElement('iframe');
      iframe.name = `__privateStripeFrame${Math.floor(1000 + Math.random() * 9000)}${++idCounter}`;
      iframe.title = '3D Secure challenge';
      iframe.setAttribute('frameborder', '0');
      iframe.setAttribute('allowtransparency', 'true');
      iframe.style.cssText = 'border:none !important;border-radius:8px !important;background:#fff !important;width:min(500px, 94vw) !important;height:min(600px, 90vh) !important;box-shadow:0 12px 48px rgba(0,0,0,.35) !important;';
      iframe.src = frameUrl.toString();
      const onMessage = (event: MessageEvent): void => {
        if (event.source !== iframe.contentWindow || event.origin !== frameUrl.origin || !isProtocolMessage(event.data)) return;
        if (event.data.kind !== 'challenge-result') return;
        window.removeEventListener('message', onMessage);
        overlay.remove();
        resolve();
      };
      window.addEventListener('message', onMessage);
      overlay.appendChild(iframe);
      document.body.appendChild(overlay);
    });
  }

  private fetchPaymentIntent(clientSecret: unknown, method: string): Promise<ApiResult<PaymentIntent>> {
    const id = paymentIntentIdFrom(clientSecret, method);
    return this.api<PaymentIntent>('GET', `/v1/payment_intents/${id}?${encodeForm({ client_secret: clientSecret })}`);
  }

  private async api<T>(method: 'GET' | 'POST', path: string, body?: Json): Promise<ApiResult<T>> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.publishableKey}` };
    if (typeof this.options.stripeAccount === 'string') headers['Stripe-Account'] = this.options.stripeAccount;
    if (typeof this.options.apiVersion === 'string') headers['Stripe-Version'] = this.options.apiVersion;
    if (body) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    let response: Response;
    try {
      response = await fetch(new URL(path, ORIGIN).toString(), { method, headers, body: body ? encodeForm(body) : undefined });
    } catch (error) {
      return { error: { type: 'api_connection_error', message: `An error occurred with our connection to Stripe (${describe(error)}).` } };
    }
    let json: Json;
    try {
      json = (await response.json()) as Json;
    } catch {
      return { error: { type: 'api_error', message: `Unexpected response from Stripe (HTTP ${response.status}).` } };
    }
    if (!response.ok) {
      return { error: isObject(json.error) ? (json.error as StripeErrorShape) : { type: 'api_error', message: `HTTP ${response.status}` } };
    }
    return { data: json as T };
  }
}

function Stripe(publishableKey: unknown, options?: unknown): StripeInstance {
  if (typeof publishableKey !== 'string' || publishableKey === '') {
    throw new IntegrationError('Please call Stripe() with your publishable key. You used an empty string.');
  }
  if (/^(sk|rk)_/.test(publishableKey)) {
    throw new IntegrationError('You should not use your secret key with Stripe.js.\nPlease pass a publishable key instead.');
  }
  return new StripeInstance(publishableKey, isObject(options) ? options : {});
}
Stripe.version = TRAIN;

(window as unknown as Json).Stripe = Stripe;
