// A shopper in Debian's Chromium (playwright-core, no Playwright test runner): opens the shop,
// puts one product in the cart, pays through the Stripe Payment Element (the emulator's card
// iframe has Stripe's field names) and waits for the order page to say Paid. Used by the
// fresh-clone smoke (scripts/smoke-start.ts) and the build-once test (e2e/build-once.spec.ts).
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH || process.env.CHROME_PATH || '/usr/bin/chromium';
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ headless: true, executablePath: chromiumPath(), args: CHROMIUM_ARGS });
}

export interface PaidOrder {
  url: string;
  status: string;
  /** The publishable key the checkout page gave Stripe.js (what the browser actually used). */
  publishableKey: string | null;
}

async function textOf(page: Page, testId: string): Promise<string> {
  return ((await page.getByTestId(testId).textContent({ timeout: 15_000 })) ?? '').trim();
}

/** Pays for one `slug` with 4242 4242 4242 4242 at `baseUrl`; throws with what it saw when a step fails. */
export async function payOneOrder(browser: Browser, baseUrl: string, opts: { slug?: string; log?: (line: string) => void } = {}): Promise<PaidOrder> {
  const log = opts.log ?? (() => undefined);
  const context = await browser.newContext({ baseURL: baseUrl });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  let publishableKey: string | null = null;
  // Stripe.js (the emulator's, or Stripe's) sends the key with its requests: record the one used.
  page.on('request', (r) => {
    const m = `${r.url()} ${r.headers().authorization ?? ''} ${r.postData() ?? ''}`.match(/\bpk_(test|live)_[A-Za-z0-9_]+/);
    if (m && !publishableKey) publishableKey = m[0];
  });
  try {
    const slug = opts.slug ?? 'morning-blend';
    await page.goto(`/products/${slug}`);
    await page.getByLabel('Quantity').fill('1');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByTestId('cart-count').filter({ hasText: /^[1-9]/ }).waitFor();
    log(`added ${slug} to the cart`);
    await page.goto('/checkout');
    const pay = page.getByTestId('pay-button');
    await pay.waitFor();
    await page.waitForFunction(() => {
      const b = document.querySelector('[data-testid="pay-button"]') as HTMLButtonElement | null;
      return b && !b.disabled;
    }, undefined, { timeout: 30_000 });
    await page.getByLabel('Email').fill(`smoke+${Date.now()}@example.com`);
    await page.getByLabel('Full name').fill('Ada Lovelace');
    await page.getByLabel('Street address').fill('12 Analytical Row');
    await page.getByLabel('City').fill('London');
    await page.getByLabel('Postal code').fill('94107');
    const frame = page.frameLocator('iframe[name^="__privateStripeFrame"]');
    await frame.locator('[name="number"]').pressSequentially('4242424242424242');
    await frame.locator('[name="expiry"]').pressSequentially('1234');
    await frame.locator('[name="cvc"]').pressSequentially('123');
    await frame.locator('[name="postalCode"]').fill('94107');
    log('card entered in the Payment Element; paying');
    await pay.click();
    await page.waitForURL(/\/orders\/[A-Za-z0-9_-]{32}$/, { timeout: 45_000 });
    const deadline = Date.now() + 30_000;
    let status = await textOf(page, 'order-status');
    while (status !== 'Paid' && Date.now() < deadline) {
      await page.waitForTimeout(1000);
      await page.reload();
      status = await textOf(page, 'order-status');
    }
    return { url: page.url(), status, publishableKey };
  } catch (err) {
    const notice = await page.getByTestId('checkout-notice').textContent({ timeout: 500 }).catch(() => null);
    throw new Error(`paying failed at ${page.url()}${notice ? ` (checkout said: ${notice.trim()})` : ''}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  } finally {
    await context.close();
  }
}

/** Signs in to the admin at `baseUrl`; true when the dashboard opened. */
export async function adminSignIn(browser: Browser, baseUrl: string, email: string, password: string): Promise<boolean> {
  const context = await browser.newContext({ baseURL: baseUrl });
  const page = await context.newPage();
  try {
    await page.goto('/admin/login');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => !u.pathname.startsWith('/admin/login') || u.search.includes('error'), { timeout: 30_000 });
    return await page
      .getByRole('heading', { name: 'Dashboard' })
      .waitFor({ timeout: 10_000 })
      .then(() => true, () => false);
  } finally {
    await context.close();
  }
}
