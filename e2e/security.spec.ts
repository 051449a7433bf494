// Security in the browser: the checkout runs under the nonce CSP with a clean console, a
// scripted card-testing run is throttled while a real shopper still pays, pages carry the
// security headers and no secret, and a server error shows no stack trace.
import { expect, test } from './helpers';
import { type Page } from '@playwright/test';
import { addToCart, emulator, fillCard, fillContact, openCheckout, resetStripeBehaviour } from './helpers';

const ADMIN = { email: 'admin@brisk.test', password: 'correct-horse-battery' };

test.afterEach(async () => {
  await resetStripeBehaviour();
});

/** Collects CSP violations (from every frame) and console errors from the moment it is called. */
async function watchConsole(page: Page): Promise<{ violations: string[]; errors: string[] }> {
  const seen = { violations: [] as string[], errors: [] as string[] };
  await page.exposeFunction('__reportCspViolation', (v: string) => void seen.violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __reportCspViolation: (v: string) => void }).__reportCspViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') seen.errors.push(msg.text());
    if (/Content Security Policy/i.test(msg.text())) seen.violations.push(msg.text());
  });
  page.on('pageerror', (err) => seen.errors.push(`pageerror: ${err.message}`));
  page.on('response', (res) => {
    if (res.status() >= 400) seen.errors.push(`${res.status()} ${res.request().method()} ${res.url()}`);
  });
  return seen;
}

async function pay(page: Page, card: string): Promise<void> {
  await fillCard(page, card);
  await page.getByTestId('pay-button').click();
}

test('security headers on HTML responses, a fresh nonce per request that the page carries', async ({ request }) => {
  const nonces = new Set<string>();
  for (const path of ['/', '/products/earl-grey', '/cart', '/admin/login']) {
    const res = await request.get(path);
    expect(res.status(), path).toBe(200);
    const h = res.headers();
    const csp = h['content-security-policy'];
    expect(csp, path).toBeTruthy();
    const nonce = csp.match(/'nonce-([A-Za-z0-9+/=]+)'/)?.[1];
    expect(nonce, path).toBeTruthy();
    nonces.add(nonce!);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("'strict-dynamic'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toContain('unsafe-eval');
    expect(h['x-content-type-options']).toBe('nosniff');
    expect(h['referrer-policy']).toBe('strict-origin-when-cross-origin');
    expect(h['permissions-policy']).toMatch(/^payment=\(self "http:\/\/127\.0\.0\.1:\d+"\)/);
    expect(h['x-frame-options']).toBe('DENY');
    // Plain http on localhost: no HSTS.
    expect(h['strict-transport-security']).toBeUndefined();
    const html = await res.text();
    expect(html).toContain(`<meta name="csp-nonce" content="${nonce}"/>`);
    // Every script Next wrote carries the nonce.
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag, path).toContain(`nonce="${nonce}"`);
    // Nothing secret in the rendered page.
    expect(html).not.toMatch(/\b(sk|rk)_(test|live)_[A-Za-z0-9]{4,}|whsec_[A-Za-z0-9]{4,}/);
    for (const name of ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'DATABASE_URL', 'APP_SECRET', 'ADMIN_PASSWORD', 'SMTP_URL']) expect(html, `${path} mentions ${name}`).not.toContain(name);
  }
  expect(nonces.size).toBe(4);
});

test('4242 pays end to end under the CSP with no violation and no console error', async ({ page }) => {
  const seen = await watchConsole(page);
  await addToCart(page, 'earl-grey');
  // The way a shopper gets there: a client-side navigation from the cart, so Stripe.js is
  // injected into a page whose document (and nonce) came from an earlier request.
  await page.goto('/cart');
  await page.getByRole('link', { name: 'Checkout' }).click();
  await expect(page).toHaveURL(/\/checkout$/);
  await expect(page.getByTestId('pay-button')).toBeEnabled({ timeout: 20_000 });
  await fillContact(page);
  await pay(page, '4242424242424242');
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  expect(seen.violations).toEqual([]);
  expect(seen.errors).toEqual([]);
});

test('a scripted card-testing run is throttled with a calm message, a real shopper still pays, and ops sees it', async ({ page, browser }) => {
  const seen = await watchConsole(page);
  await addToCart(page, 'sencha-green-tea');
  await openCheckout(page);
  // Many cards, each declined, one after the other from one browser.
  const cards = ['4000000000000002', '4000000000009995', '4000000000009987', '4000000000000069', '4000000000000127'];
  let throttledAt = -1;
  for (const [i, card] of cards.entries()) {
    await fillContact(page, `tester+${i}@example.com`);
    const actionDone = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/checkout');
    await pay(page, card);
    await actionDone;
    // The server confirms with the card's token and answers with the decline (or the throttle).
    const outcome = await Promise.race([
      page.getByTestId('checkout-throttled').waitFor().then(() => 'throttled' as const),
      page.getByTestId('checkout-notice').waitFor().then(() => 'declined' as const),
    ]);
    if (outcome === 'throttled') {
      throttledAt = i;
      break;
    }
    await expect(page.getByTestId('checkout-notice')).toBeVisible();
    await expect(page.getByTestId('pay-button')).toBeEnabled();
  }
  expect(throttledAt).toBe(3);
  const notice = page.getByTestId('checkout-throttled');
  await expect(notice).toContainText('For your security');
  await expect(notice).toContainText('Your cart is saved');
  await expect(notice).not.toContainText(/error|exception|stack/i);
  expect(seen.violations).toEqual([]);

  // A normal shopper (another browser, another email) pays as usual.
  const shopperContext = await browser.newContext();
  const shopper = await shopperContext.newPage();
  await addToCart(shopper, 'earl-grey');
  await openCheckout(shopper);
  await fillContact(shopper, `real.shopper+${Date.now()}@example.com`);
  await pay(shopper, '4242424242424242');
  await expect(shopper.getByTestId('order-status')).toHaveText('Paid');
  await shopperContext.close();

  // The operations page shows the throttled cart with its declines.
  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await admin.goto('/admin/login');
  await admin.getByLabel('Email').fill(ADMIN.email);
  await admin.getByLabel('Password').fill(ADMIN.password);
  await admin.getByRole('button', { name: 'Sign in' }).click();
  await expect(admin.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await admin.goto('/admin/ops');
  const row = admin.getByTestId('throttled-keys').getByRole('row').filter({ hasText: 'Cart' }).first();
  await expect(row.getByRole('cell').nth(3)).toHaveText('3');
  await expect(row.getByRole('cell').nth(4)).toContainText('UTC');
  await adminContext.close();
});

test('server actions refuse another origin: a cross-site sign-in post sets no session', async ({ request, baseURL }) => {
  // The sign-in form renders its action id for browsers without JavaScript; a forger can read it too.
  const html = await (await request.get('/admin/login')).text();
  const actionField = html.match(/name="(\$ACTION_ID_[0-9a-f]+)"/)?.[1];
  expect(actionField).toBeTruthy();
  const post = (origin: string) =>
    request.post('/admin/login', { multipart: { [actionField!]: '', email: ADMIN.email, password: ADMIN.password }, headers: { origin }, maxRedirects: 0 });
  const forged = await post('https://evil.example');
  expect(forged.headers()['set-cookie'] ?? '').not.toContain('brisk_admin=');
  // Refused by our server before Next (was a 500 with a digest and an error log).
  expect(forged.status()).toBe(403);
  expect(await forged.text()).not.toMatch(/at \w+ \(|node_modules/);
  // The same post from our own origin signs in, so the refusal above is the Origin check.
  const own = await post(new URL(baseURL!).origin);
  expect(own.status()).toBe(303);
  expect(own.headers()['set-cookie']).toContain('brisk_admin=');
});

test('a server error shows a calm page with no stack trace or internals', async ({ page }) => {
  await addToCart(page, 'morning-blend');
  await openCheckout(page);
  await fillContact(page);
  // The order stays pending in our records (3-D Secure under way, no webhooks), and Stripe answers
  // its retrieval with an error: the order page must ask Stripe, and fails.
  await emulator('POST', '/webhooks', { mode: 'hold' });
  await pay(page, '4000002500003155');
  const challenge = page.frameLocator('iframe[src*="/3ds/"]').getByRole('button', { name: 'Complete' });
  await challenge.waitFor();
  await emulator('POST', '/faults', { method: 'GET', path: '/v1/payment_intents', status: 400, code: 'parameter_invalid_empty' });
  await challenge.click();
  await page.waitForURL(/\/orders\//);
  for (const load of [() => Promise.resolve(), () => page.reload()]) {
    await load();
    const errorPage = page.getByTestId('error-page');
    await expect(errorPage).toBeVisible();
    await expect(errorPage).toContainText('Something went wrong');
    const text = await page.locator('body').innerText();
    expect(text).not.toMatch(/\bat .+:\d+:\d+|node_modules|\.tsx?\b|StripeInvalidRequestError|parameter_invalid_empty|\/work\//);
  }
  const html = await (await page.request.get(page.url())).text();
  expect(html).not.toMatch(/node_modules|StripeInvalidRequestError|\bat [\w.<>]+ \(/);
});
