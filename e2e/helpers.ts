// Shared steps for the shop's browser specs: they drive the app as a shopper would and steer
// the bundled Stripe emulator through its public control API.
import { test as base, expect, type Page, type Request } from '@playwright/test';

export { expect };

export const emulatorUrl = `http://127.0.0.1:${process.env.E2E_EMULATOR_PORT ?? 12199}`;
/** The emulator's secret key (playwright.config.ts fixes it): the control API needs it on every call. */
export const EMULATOR_SECRET_KEY = 'sk_test_brisk_e2e';

export async function emulator<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${emulatorUrl}/_emulator${path}`, {
    method,
    headers: { authorization: `Bearer ${EMULATOR_SECRET_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`emulator ${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Stripe's own view, for assertions: the emulator's records through its API. */
export async function stripeList<T>(path: string, secretKey: string): Promise<T[]> {
  const res = await fetch(`${emulatorUrl}/v1/${path}${path.includes('?') ? '&' : '?'}limit=100`, { headers: { authorization: `Bearer ${secretKey}` } });
  const body = (await res.json()) as { data: T[] };
  return body.data;
}

export async function resetStripeBehaviour(): Promise<void> {
  await emulator('DELETE', '/faults');
  await emulator('POST', '/webhooks', { mode: 'normal' });
  await emulator('POST', '/webhooks/release');
  await emulator('POST', '/latency', { mean_ms: 0, jitter_ms: 0 });
}

export async function addToCart(page: Page, slug: string, quantity = 1): Promise<void> {
  await page.goto(`/products/${slug}`);
  await page.getByLabel('Quantity').fill(String(quantity));
  const before = Number(await page.getByTestId('cart-count').textContent());
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByTestId('cart-count')).toHaveText(String(before + quantity));
}

export async function fillContact(page: Page, email = `shopper+${Date.now()}@example.com`): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Full name').fill('Ada Lovelace');
  await page.getByLabel('Street address').fill('12 Analytical Row');
  await page.getByLabel('City').fill('London');
  await page.getByLabel('Postal code').fill('94107');
}

export const cardFrame = (page: Page) => page.frameLocator('iframe[name^="__privateStripeFrame"]');

/** Every card number typed anywhere, to prove none reached the app's own origin. */
export const typedCardNumbers = new Set<string>();

export async function fillCard(page: Page, number: string): Promise<void> {
  typedCardNumbers.add(number);
  const frame = cardFrame(page);
  await frame.locator('[name="number"]').fill('');
  await frame.locator('[name="number"]').pressSequentially(number);
  await frame.locator('[name="expiry"]').fill('');
  await frame.locator('[name="expiry"]').pressSequentially('1234');
  await frame.locator('[name="cvc"]').fill('');
  await frame.locator('[name="cvc"]').pressSequentially('123');
  await frame.locator('[name="postalCode"]').fill('94107');
}

export async function openCheckout(page: Page): Promise<void> {
  await page.goto('/checkout');
  await expect(page.getByTestId('pay-button')).toBeEnabled({ timeout: 20_000 });
}

/**
 * True when `data` carries any typed card number in any spelling a page could send it in:
 * plain, with spaces, dashes, dots or plus signs between digits, or percent-encoded.
 */
export function carriesCardNumber(data: string, numbers: Iterable<string> = typedCardNumbers): boolean {
  const spellings = [data];
  try {
    spellings.push(decodeURIComponent(data.replace(/\+/g, ' ')));
  } catch {
    // not URL-encoded
  }
  const squeezed = spellings.map((d) => d.replace(/[\s.+\-_\/]|%20|%2[dD]/g, ''));
  return [...numbers].some((n) => squeezed.some((d) => d.includes(n)));
}

/** Collects requests to the app's own origin that carry a typed card number. */
export function watchForCardNumbers(page: Page, appOrigin: string): Request[] {
  const leaks: Request[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).origin !== appOrigin) return;
    if (carriesCardNumber(`${request.url()} ${request.postData() ?? ''} ${JSON.stringify(request.headers())}`)) leaks.push(request);
  });
  return leaks;
}

/**
 * Every spec imports `test` from here: it watches every page of the test's browser context and
 * fails the test when any request to the app's own origin carried a typed card number.
 */
export const test = base.extend<{ cardNumberGuard: void }>({
  cardNumberGuard: [
    async ({ context, baseURL }, use) => {
      const appOrigin = new URL(baseURL!).origin;
      const leaks: string[] = [];
      context.on('request', (request) => {
        if (new URL(request.url()).origin !== appOrigin) return;
        if (carriesCardNumber(`${request.url()} ${request.postData() ?? ''} ${JSON.stringify(request.headers())}`)) leaks.push(`${request.method()} ${request.url()}`);
      });
      await use();
      expect(leaks, 'a card number reached our own server').toEqual([]);
    },
    { auto: true },
  ],
});
