// The emulated Stripe.js and Payment Element, driven in Chromium exactly as a test for real
// Stripe would: through the __privateStripeFrame iframe and its inputs named number, expiry,
// cvc and postalCode. The merchant page is a React 19 app under StrictMode using the official
// @stripe/stripe-js and @stripe/react-stripe-js.
import { expect, test } from '../helpers';
import { type Page, type Request } from '@playwright/test';
import Stripe from 'stripe';
import { startEmulator } from '../../emulator/src/server';
import { RELEASE_TRAIN } from '../../emulator/src/stripejs';
import { startMerchant, type Merchant } from './fixtures/merchant';

const AMOUNT = 2599;

let emulator: Awaited<ReturnType<typeof startEmulator>>;
let merchant: Merchant;
let stripe: Stripe;
/** Every card number typed in any test, to prove none of them reached the merchant. */
const typedNumbers = new Set<string>();

test.beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
  merchant = await startMerchant({ emulatorUrl: emulator.url, publishableKey: emulator.publishableKey, secretKey: emulator.secretKey, amount: AMOUNT, releaseTrain: RELEASE_TRAIN });
  const api = new URL(emulator.url);
  stripe = new Stripe(emulator.secretKey, { host: api.hostname, port: Number(api.port), protocol: 'http' });
});

test.afterAll(async () => {
  await merchant?.close();
  await emulator?.close();
});

// Per test: no console errors or warnings (a Stripe.js version mismatch warns), no uncaught
// errors, and card data only ever sent by the card frame to the emulator.
let problems: string[] = [];
let cardRequests: Request[] = [];

test.beforeEach(async ({ page }) => {
  problems = [];
  cardRequests = [];
  page.on('console', (message) => {
    // Chromium logs every 402 a decline answers with; real Stripe.js pages show the same line.
    if (message.text().includes('status of 402 (Payment Required)')) return;
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console.${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('request', (request) => {
    const data = `${request.url()} ${request.postData() ?? ''}`;
    if ([...typedNumbers].some((n) => data.includes(n) || data.includes(encodeURIComponent(n)))) cardRequests.push(request);
  });
});

test.afterEach(async ({ page }) => {
  expect(problems).toEqual([]);
  expectNoCardNumbersAtMerchant();
  for (const request of cardRequests) {
    expect(new URL(request.url()).origin).toBe(new URL(emulator.url).origin);
    expect(new URL(request.url()).pathname).toBe('/v1/payment_methods');
    expect(request.frame()).not.toBe(page.mainFrame());
  }
});

const cardFrame = (page: Page) => page.frameLocator('iframe[name^="__privateStripeFrame"]');

async function openCheckout(page: Page, query = ''): Promise<void> {
  await page.goto(`${merchant.url}/${query}`);
  await expect(page.getByTestId('element-state')).toHaveAttribute('data-ready', 'true');
}

async function fillCard(page: Page, card: { number: string; expiry?: string; cvc?: string; postalCode?: string }): Promise<void> {
  typedNumbers.add(card.number.replace(/\s/g, ''));
  const frame = cardFrame(page);
  await frame.locator('[name="number"]').pressSequentially(card.number);
  await frame.locator('[name="expiry"]').pressSequentially(card.expiry ?? '1234');
  await frame.locator('[name="cvc"]').pressSequentially(card.cvc ?? '123');
  await frame.locator('[name="postalCode"]').fill(card.postalCode ?? '94107');
}

async function pay(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Pay' }).click();
}

const outcome = (page: Page) => page.getByTestId('outcome');

test('a 4242 card pays and the page gets the succeeded PaymentIntent', async ({ page }) => {
  await openCheckout(page);
  await fillCard(page, { number: '4242424242424242' });
  // Stripe-like formatting and the change event's `complete`.
  await expect(cardFrame(page).locator('[name="number"]')).toHaveValue('4242 4242 4242 4242');
  await expect(cardFrame(page).locator('[name="expiry"]')).toHaveValue('12 / 34');
  await expect(page.getByTestId('element-state')).toHaveAttribute('data-complete', 'true');
  await pay(page);
  await expect(outcome(page)).toHaveAttribute('data-state', 'paid');
  await expect(outcome(page)).toHaveAttribute('data-status', 'succeeded');
  const id = await outcome(page).getAttribute('data-payment-intent');
  const intent = await stripe.paymentIntents.retrieve(id ?? '', { expand: ['latest_charge'] });
  expect(intent.status).toBe('succeeded');
  expect(intent.amount).toBe(AMOUNT);
  const charge = intent.latest_charge as Stripe.Charge;
  expect(charge.payment_method_details?.card?.last4).toBe('4242');
});

test('a generic decline shows the card error inline', async ({ page }) => {
  await openCheckout(page);
  await fillCard(page, { number: '4000000000000002' });
  await pay(page);
  await expect(outcome(page)).toHaveAttribute('data-state', 'failed');
  await expect(outcome(page)).toHaveAttribute('data-error-type', 'card_error');
  await expect(outcome(page)).toHaveAttribute('data-error-code', 'card_declined');
  await expect(outcome(page)).toHaveAttribute('data-decline-code', 'generic_decline');
  await expect(outcome(page)).toHaveText('Your card was declined.');
});

test('insufficient funds reports its decline code', async ({ page }) => {
  await openCheckout(page);
  await fillCard(page, { number: '4000000000009995' });
  await pay(page);
  await expect(outcome(page)).toHaveAttribute('data-error-type', 'card_error');
  await expect(outcome(page)).toHaveAttribute('data-decline-code', 'insufficient_funds');
});

test('an incomplete card is a validation error and nothing is sent', async ({ page }) => {
  await openCheckout(page);
  const intentsCreated = () => merchant.requests.filter((r) => r.url === '/create-payment-intent').length;
  const before = intentsCreated();
  await cardFrame(page).locator('[name="number"]').pressSequentially('4242 4242');
  // Leaving the field shows its error inside the element (as Stripe's does), which makes the
  // element taller: wait for that before clicking Pay, or the click can land where the button
  // was a moment before (the element's layout shift), and nothing is submitted.
  await cardFrame(page).locator('[name="number"]').blur();
  await expect(cardFrame(page).getByText('Your card number is incomplete.')).toBeVisible();
  await pay(page);
  await expect(outcome(page)).toHaveAttribute('data-error-type', 'validation_error');
  await expect(outcome(page)).toHaveAttribute('data-error-code', 'incomplete_number');
  await expect(outcome(page)).toHaveText('Your card number is incomplete.');
  // Stripe also marks the fields inside the element.
  await expect(cardFrame(page).getByText('Your card number is incomplete.')).toBeVisible();
  await expect(cardFrame(page).getByText("Your card's expiration date is incomplete.")).toBeVisible();
  expect(intentsCreated()).toBe(before);
});

test('the card inputs validate like Stripe: Luhn, past expiry, brand', async ({ page }) => {
  await openCheckout(page);
  const frame = cardFrame(page);
  await frame.locator('[name="number"]').pressSequentially('4242424242424241');
  await expect(frame.getByText('Your card number is invalid.')).toBeVisible();
  await frame.locator('[name="number"]').clear();
  await frame.locator('[name="number"]').pressSequentially('378282246310005');
  await expect(frame.locator('[name="number"]')).toHaveValue('3782 822463 10005');
  await expect(frame.getByText('AMEX')).toBeVisible();
  await frame.locator('[name="expiry"]').pressSequentially('1220');
  await expect(frame.getByText("Your card's expiration year is in the past.")).toBeVisible();
  await expect(frame.getByLabel('Card number')).toHaveAttribute('name', 'number');
  await expect(frame.getByLabel('Security code')).toHaveAttribute('name', 'cvc');
  await expect(page.getByTestId('element-state')).toHaveAttribute('data-complete', 'false');
});

test('3-D Secure: Complete in the challenge, then the payment succeeds', async ({ page }) => {
  await openCheckout(page);
  await fillCard(page, { number: '4000002500003155' });
  await pay(page);
  const challenge = page.frameLocator('iframe[src*="/3ds/"]');
  await expect(challenge.getByRole('heading', { name: '3D Secure 2 Test Page' })).toBeVisible();
  await challenge.getByRole('button', { name: 'Complete' }).click();
  await expect(outcome(page)).toHaveAttribute('data-status', 'succeeded');
  await expect(page.locator('iframe[src*="/3ds/"]')).toHaveCount(0);
});

test('3-D Secure: Fail in the challenge is an authentication failure', async ({ page }) => {
  await openCheckout(page);
  await fillCard(page, { number: '4000002500003155' });
  await pay(page);
  await page.frameLocator('iframe[src*="/3ds/"]').getByRole('button', { name: 'Fail' }).click();
  await expect(outcome(page)).toHaveAttribute('data-state', 'failed');
  await expect(outcome(page)).toHaveAttribute('data-error-code', 'payment_intent_authentication_failure');
  await expect(page.locator('iframe[src*="/3ds/"]')).toHaveCount(0);
});

test('3-D Secure then insufficient funds (4000008260003178)', async ({ page }) => {
  await openCheckout(page);
  await fillCard(page, { number: '4000008260003178' });
  await pay(page);
  await page.frameLocator('iframe[src*="/3ds/"]').getByRole('button', { name: 'Complete' }).click();
  await expect(outcome(page)).toHaveAttribute('data-state', 'failed');
  await expect(outcome(page)).toHaveAttribute('data-decline-code', 'insufficient_funds');
});

test('redirect: always lands on return_url with the PaymentIntent in the query', async ({ page }) => {
  await openCheckout(page, '?redirect=always');
  await fillCard(page, { number: '4242424242424242' });
  await pay(page);
  await page.waitForURL(/\/return\?/);
  const url = new URL(page.url());
  expect(url.origin).toBe(merchant.url);
  const id = url.searchParams.get('payment_intent') ?? '';
  expect(id).toMatch(/^pi_/);
  expect(url.searchParams.get('payment_intent_client_secret')).toMatch(new RegExp(`^${id}_secret_`));
  expect(url.searchParams.get('redirect_status')).toBe('succeeded');
  await expect(page.getByTestId('redirect-status')).toHaveText('succeeded');
  expect((await stripe.paymentIntents.retrieve(id)).status).toBe('succeeded');
});

for (const variant of [
  { name: 'a loadStripe promise', query: '', inserted: 1 },
  { name: 'a resolved Stripe instance', query: '?stripe=resolved', inserted: 2 },
]) {
  test(`StrictMode with ${variant.name} leaves exactly one working, auto-sized iframe`, async ({ page }) => {
    // Count every card frame ever inserted, to see StrictMode's create, destroy and recreate.
    await page.addInitScript(() => {
      const w = window as unknown as { framesInserted: number };
      w.framesInserted = 0;
      new MutationObserver((records) => {
        for (const record of records) {
          for (const node of record.addedNodes) {
            if (node instanceof HTMLElement && node.classList.contains('__PrivateStripeElement')) w.framesInserted += 1;
          }
        }
      }).observe(document, { childList: true, subtree: true });
    });
    await openCheckout(page, variant.query);
    // With a promise, <Elements> has no elements yet during StrictMode's double mount.
    expect(await page.evaluate(() => (window as unknown as { framesInserted: number }).framesInserted)).toBe(variant.inserted);
    await expect(page.locator('iframe[name^="__privateStripeFrame"]')).toHaveCount(1);
    await expect(page.locator('#payment-element .__PrivateStripeElement')).toHaveCount(1);
    const iframe = page.locator('iframe[name^="__privateStripeFrame"]');
    const frameHeight = () => iframe.evaluate((el) => el.getBoundingClientRect().height);
    const contentHeight = () => cardFrame(page).locator('html').evaluate((el) => Math.ceil(el.getBoundingClientRect().height));
    await expect.poll(frameHeight).toBe(await contentHeight());
    const before = await frameHeight();
    // An inline error makes the content taller; the iframe follows.
    await cardFrame(page).locator('[name="number"]').pressSequentially('4242');
    await cardFrame(page).locator('[name="expiry"]').focus();
    await expect(cardFrame(page).getByText('Your card number is incomplete.')).toBeVisible();
    await expect.poll(frameHeight).toBeGreaterThan(before);
    await expect.poll(frameHeight).toBe(await contentHeight());
    await cardFrame(page).locator('[name="number"]').clear();
    await fillCard(page, { number: '4242424242424242' });
    await expect(page.getByTestId('element-state')).toHaveAttribute('data-complete', 'true');
    await pay(page);
    await expect(outcome(page)).toHaveAttribute('data-status', 'succeeded');
  });
}

function expectNoCardNumbersAtMerchant(): void {
  for (const request of merchant.requests) {
    const seen = `${request.url} ${JSON.stringify(request.headers)} ${request.body}`;
    for (const number of typedNumbers) {
      expect(seen).not.toContain(number);
      expect(seen).not.toContain(number.replace(/(\d{4})(?=\d)/g, '$1 '));
      expect(seen).not.toContain(number.slice(0, 12));
    }
  }
}

test('the merchant server never receives the card number', async ({ page }) => {
  await openCheckout(page);
  await fillCard(page, { number: '5555555555554444' });
  await pay(page);
  await expect(outcome(page)).toHaveAttribute('data-status', 'succeeded');
  const merchantSaw = merchant.requests.map((r) => r.url);
  expect(merchantSaw).toContain('/create-payment-intent');
  expectNoCardNumbersAtMerchant();
  // What the merchant did receive is only the amount it asked to charge.
  expect(merchant.requests.filter((r) => r.method === 'POST').map((r) => r.body)).toContain(JSON.stringify({ amount: AMOUNT }));
});

test('direct Stripe.js calls: events, getElement, submit, createPaymentMethod, destroy and recreate', async ({ page }) => {
  await page.goto(`${merchant.url}/plain`);
  expect(RELEASE_TRAIN).toBe('endive');
  expect(await page.evaluate(() => (window as unknown as { Stripe: { version: string } }).Stripe.version)).toBe(RELEASE_TRAIN);
  // Untyped on purpose: this is the surface any caller of window.Stripe sees.
  type Loose = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  await page.evaluate(async (publishableKey) => {
    const w = window as unknown as Loose;
    const stripe = w.Stripe(publishableKey);
    const elements = stripe.elements({ mode: 'payment', amount: 1000, currency: 'usd', paymentMethodCreation: 'manual', appearance: { theme: 'night' } });
    const element = elements.create('payment', { layout: 'tabs' });
    w.events = [];
    for (const type of ['ready', 'change', 'focus', 'blur']) element.on(type, (event: unknown) => w.events.push({ type, event }));
    const ready = new Promise((resolve) => element.once('ready', resolve));
    element.mount('#payment-element');
    w.t = { stripe, elements, element };
    await ready;
  }, emulator.publishableKey);

  const events = () => page.evaluate(() => (window as unknown as Loose).events as Array<{ type: string; event: Loose }>);
  expect((await events()).map((e) => e.type)).toEqual(['ready']);
  await fillCard(page, { number: '4242424242424242' });
  await page.getByRole('button', { name: 'Elsewhere' }).click();
  // Events cross from the iframe by postMessage: wait for them to arrive rather than read once.
  await expect.poll(async () => (await events()).filter((e) => e.type === 'change').at(-1)?.event).toEqual({ elementType: 'payment', empty: false, complete: true, collapsed: false, value: { type: 'card' } });
  await expect.poll(async () => (await events()).map((e) => e.type).lastIndexOf('blur')).toBeGreaterThan(0);
  const types = (await events()).map((e) => e.type);
  expect(types).toContain('focus');
  expect(types.lastIndexOf('blur')).toBeGreaterThan(types.lastIndexOf('focus'));

  const results = await page.evaluate(async () => {
    const { stripe, elements, element } = (window as unknown as Loose).t;
    const caught = async (run: () => unknown) => {
      try {
        await run();
        return 'no error';
      } catch (error) {
        return (error as Error).message;
      }
    };
    return {
      sameElement: elements.getElement('payment') === element,
      duplicate: await caught(() => elements.create('payment')),
      beforeSubmit: await caught(() => stripe.createPaymentMethod({ elements })),
      submit: await elements.submit(),
      created: await stripe.createPaymentMethod({ elements, params: { billing_details: { name: 'Jenny Rosen' } } }),
      token: await stripe.createToken(),
      badSecret: await caught(() => stripe.retrievePaymentIntent('not-a-secret')),
      fetchUpdates: await elements.fetchUpdates(),
    };
  });
  expect(results.sameElement).toBe(true);
  expect(results.duplicate).toBe('Can only create one Element of type payment.');
  expect(results.beforeSubmit).toMatch(/elements.submit\(\) must be called before/);
  expect(results.submit).toEqual({ selectedPaymentMethod: 'card' });
  const paymentMethod = results.created.paymentMethod;
  expect(paymentMethod.id).toMatch(/^pm_/);
  expect(paymentMethod.card).toEqual({ brand: 'visa', last4: '4242' });
  expect(JSON.stringify(results.created)).not.toContain('424242424242');
  expect(results.token.error.code).toBe('emulator_unsupported');
  expect(results.badSecret).toMatch(/clientSecret should be a client secret/);
  expect(results.fetchUpdates).toEqual({});

  // retrievePaymentIntent with a real client secret.
  const intent = await stripe.paymentIntents.create({ amount: 500, currency: 'usd' });
  const retrieved = await page.evaluate((secret) => (window as unknown as Loose).t.stripe.retrievePaymentIntent(secret), intent.client_secret);
  expect(retrieved.paymentIntent).toMatchObject({ id: intent.id, status: 'requires_payment_method', amount: 500 });

  // clear() empties the inputs and reports it; destroy() removes the frame and frees the type.
  await page.evaluate(() => (window as unknown as Loose).t.element.clear());
  await expect.poll(async () => (await events()).filter((e) => e.type === 'change').at(-1)?.event.empty).toBe(true);
  await expect(cardFrame(page).locator('[name="number"]')).toHaveValue('');
  await page.evaluate(() => (window as unknown as Loose).t.element.destroy());
  await expect(page.locator('iframe[name^="__privateStripeFrame"]')).toHaveCount(0);
  const recreated = await page.evaluate(async () => {
    const t = (window as unknown as Loose).t;
    const gone = t.elements.getElement('payment');
    const again = t.elements.create('payment');
    const ready = new Promise((resolve) => again.on('ready', resolve));
    again.mount('#payment-element');
    await ready;
    return { gone, same: t.elements.getElement('payment') === again };
  });
  expect(recreated).toEqual({ gone: null, same: true });
  await expect(page.locator('iframe[name^="__privateStripeFrame"]')).toHaveCount(1);
});
