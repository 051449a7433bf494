import { expect, test } from './helpers';
import { addToCart, emulator, fillCard, fillContact, openCheckout, resetStripeBehaviour, stripeList, watchForCardNumbers } from './helpers';

test.describe.configure({ mode: 'serial' });

test.beforeEach(async () => {
  await resetStripeBehaviour();
});

test('4242 pays: the order page shows Paid and the cart is emptied', async ({ page, baseURL }) => {
  const leaks = watchForCardNumbers(page, new URL(baseURL!).origin);
  await addToCart(page, 'morning-blend', 2);
  await openCheckout(page);
  await expect(page.getByTestId('checkout-total')).toHaveText('$32.00');
  await fillContact(page);
  await fillCard(page, '4242424242424242');
  await page.getByTestId('pay-button').click();
  await expect(page).toHaveURL(/\/orders\/[A-Za-z0-9_-]{32}$/);
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  await expect(page.getByTestId('order-total')).toHaveText('$32.00');
  await expect(page.getByTestId('cart-count')).toHaveText('0');
  expect(leaks).toEqual([]);
});

const SECRET = 'sk_test_brisk_e2e';

async function allPaymentIntents(): Promise<{ id: string; status: string; amount: number; created: number; metadata: Record<string, string> }[]> {
  return stripeList('payment_intents', SECRET);
}

async function stockOf(page: import('@playwright/test').Page, slug: string): Promise<number> {
  await page.goto(`/products/${slug}`);
  return Number((await page.getByTestId('stock').textContent())?.match(/\d+/)?.[0] ?? NaN);
}

async function payWith(page: import('@playwright/test').Page, card: string): Promise<void> {
  await fillCard(page, card);
  await page.getByTestId('pay-button').click();
}

test('a generic decline, then 4242 on the same order, pays exactly once', async ({ page, baseURL }) => {
  const leaks = watchForCardNumbers(page, new URL(baseURL!).origin);
  await addToCart(page, 'earl-grey');
  await openCheckout(page);
  await fillContact(page);
  await payWith(page, '4000000000000002');
  await expect(page.getByTestId('checkout-notice')).toContainText('Your card was declined.');
  // The form and the cart are kept.
  await expect(page.getByLabel('Full name')).toHaveValue('Ada Lovelace');
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  await payWith(page, '4242424242424242');
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  // This order's PaymentIntents: the one that paid, and (when the decline reached us before the
  // second Pay) the declined attempt it superseded, which is then canceled at Stripe so no other
  // tab can pay it. Exactly one ever succeeds.
  const paidPi = (await allPaymentIntents()).filter((pi) => pi.amount === 1200 && pi.status === 'succeeded').sort((a, b) => b.created - a.created)[0];
  const mine = async () => (await allPaymentIntents()).filter((pi) => pi.metadata.order_id === paidPi.metadata.order_id);
  expect((await mine()).filter((pi) => pi.status === 'succeeded').map((pi) => pi.id)).toEqual([paidPi.id]);
  await expect.poll(async () => (await mine()).filter((pi) => pi.id !== paidPi.id).map((pi) => pi.status).filter((st) => st !== 'canceled'), { timeout: 15_000 }).toEqual([]);
  expect(leaks).toEqual([]);
});

test('insufficient funds shows its message inline', async ({ page }) => {
  await addToCart(page, 'paper-filters');
  await openCheckout(page);
  await fillContact(page);
  await payWith(page, '4000000000009995');
  await expect(page.getByTestId('checkout-notice')).toContainText('Your card has insufficient funds.');
  await expect(page).toHaveURL(/\/checkout$/);
});

test('3-D Secure: Complete pays, Fail does not', async ({ page }) => {
  await addToCart(page, 'stoneware-mug');
  await openCheckout(page);
  await fillContact(page);
  await payWith(page, '4000002500003155');
  await page.frameLocator('iframe[src*="/3ds/"]').getByRole('button', { name: 'Fail' }).click();
  await expect(page.getByTestId('checkout-notice')).toContainText('Your bank could not verify this payment');
  await expect(page).toHaveURL(/\/checkout$/);
  await payWith(page, '4000002500003155');
  await page.frameLocator('iframe[src*="/3ds/"]').getByRole('button', { name: 'Complete' }).click();
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
});

test('a double click on Pay creates one PaymentIntent, confirmed on the server in one request', async ({ page }) => {
  await addToCart(page, 'french-press');
  await openCheckout(page);
  await fillContact(page);
  await fillCard(page, '4242424242424242');
  const before = (await allPaymentIntents()).length;
  // The browser no longer confirms: it makes a ConfirmationToken and never calls /confirm.
  const browserCalls: string[] = [];
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith('/v1/')) browserCalls.push(`${r.method()} ${path}`);
  });
  await page.getByTestId('pay-button').dblclick();
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  expect((await allPaymentIntents()).length).toBe(before + 1);
  expect(browserCalls.filter((c) => c.includes('/payment_intents'))).toEqual([]);
  expect(browserCalls).toContain('POST /v1/confirmation_tokens');
});

test('a reload mid-checkout creates no duplicate order or PaymentIntent', async ({ page }) => {
  await addToCart(page, 'cold-brew-bottle');
  await openCheckout(page);
  await fillContact(page);
  // Stripe is slow to create and confirm (the server's one call); the shopper gives up waiting
  // and reloads while it is in flight. The second Pay finds the order paid.
  await emulator('POST', '/faults', { method: 'POST', path: '/v1/payment_intents', delay_ms: 3_000, times: 1 });
  const before = (await allPaymentIntents()).length;
  // The Pay has left the browser (the server's create-and-confirm is in flight at Stripe) when the shopper reloads.
  const confirmSent = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/checkout');
  await payWith(page, '4242424242424242');
  await expect(page.getByTestId('pay-button')).toHaveText('Processing…');
  await confirmSent;
  await page.reload();
  await openCheckout(page);
  await fillContact(page);
  // The shopper pays again once the slow confirmation has gone through at Stripe: a condition, not a guess of 3 s.
  await expect
    .poll(
      async () => {
        const all = await allPaymentIntents();
        return all.slice(0, all.length - before).map((p) => p.status);
      },
      { timeout: 15_000 },
    )
    .toEqual(['succeeded']);
  await payWith(page, '4242424242424242');
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  const pis = await allPaymentIntents();
  expect(pis.length).toBe(before + 1);
  expect(pis[0].status).toBe('succeeded');
});

test('with webhooks held, the order page still shows Paid', async ({ page }) => {
  await emulator('POST', '/webhooks', { mode: 'hold' });
  await addToCart(page, 'tasting-set');
  await openCheckout(page);
  await fillContact(page);
  await payWith(page, '4242424242424242');
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  await emulator('POST', '/webhooks/release');
});

test('with webhooks duplicated and out of order, stock moves exactly once', async ({ page }) => {
  const before = await stockOf(page, 'digital-scale');
  const since = Math.floor(Date.now() / 1000) - 1;
  await emulator('POST', '/webhooks', { mode: 'hold' });
  await addToCart(page, 'digital-scale', 2);
  await openCheckout(page);
  await fillContact(page);
  await payWith(page, '4242424242424242');
  await expect(page.getByTestId('order-status')).toHaveText('Paid');
  // Every event of this payment delivered newest first, twice, then the held originals.
  const events = (await stripeList<{ id: string; created: number }>('events', SECRET)).filter((e) => e.created >= since);
  expect(events.length).toBeGreaterThanOrEqual(3);
  await emulator('POST', '/webhooks', { mode: 'normal' });
  for (const e of events) {
    await emulator('POST', `/events/${e.id}/resend`);
    await emulator('POST', `/events/${e.id}/resend`);
  }
  await emulator('POST', '/webhooks/release');
  // Every copy delivered and acknowledged (the held original and two resends of each event)…
  for (const e of events) {
    await expect
      .poll(async () => (await emulator<{ data: { status: number | null }[] }>('GET', `/deliveries?event=${e.id}`)).data.filter((d) => d.status === 200).length, { timeout: 20_000 })
      .toBeGreaterThanOrEqual(3);
  }
  // …and every stored event processed by the worker: nothing queued, no webhook lag.
  await expect
    .poll(
      async () => {
        const health = (await (await page.request.get('/api/health')).json()) as { webhookLagSeconds?: number | null; queues?: Record<string, { queued: number; active: number }> | null };
        const busy = Object.values(health.queues ?? {}).reduce((n, q) => n + q.queued + q.active, 0);
        return health.webhookLagSeconds === 0 && health.queues != null && busy === 0;
      },
      { timeout: 30_000 },
    )
    .toBe(true);
  // Only then is the stock read: moved by this order's two units, once.
  expect(await stockOf(page, 'digital-scale')).toBe(before - 2);
});
