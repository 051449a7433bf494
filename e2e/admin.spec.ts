// The admin in a real browser: sign-in gate, refunds that reach Stripe once on double click,
// filters/search/CSV, and reconciliation healing an order whose webhooks were dropped.
import { expect, test } from './helpers';
import { type Page } from '@playwright/test';
import { addToCart, emulator, emulatorUrl, fillCard, fillContact, openCheckout, resetStripeBehaviour } from './helpers';

test.describe.configure({ mode: 'serial' });

const SK = 'sk_test_brisk_e2e';
const ADMIN = { email: 'admin@brisk.test', password: 'correct-horse-battery' };
const run = Date.now().toString(36);
const emails = { refunded: `refund-${run}@example.com`, declined: `declined-${run}@example.com`, healed: `healed-${run}@example.com` };

async function stripeGet<T>(path: string): Promise<T> {
  const res = await fetch(`${emulatorUrl}/v1/${path}`, { headers: { authorization: `Bearer ${SK}` } });
  expect(res.ok).toBe(true);
  return (await res.json()) as T;
}

async function stripePost<T>(path: string, form: Record<string, string>): Promise<T> {
  const res = await fetch(`${emulatorUrl}/v1/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SK}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  expect(res.ok).toBe(true);
  return (await res.json()) as T;
}

type Pi = { id: string; status: string; amount: number; metadata: Record<string, string> };
const paymentIntentOf = async (orderId: string) => (await stripeGet<{ data: Pi[] }>('payment_intents?limit=100')).data.find((p) => p.metadata.order_id === orderId);

async function signIn(page: Page): Promise<void> {
  await page.goto('/admin/login');
  await page.getByLabel('Email').fill(ADMIN.email);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
}

/** Pays with the given card as a shopper; returns when the shop has answered. */
async function buy(page: Page, email: string, card: string, quantity: number): Promise<void> {
  await addToCart(page, 'morning-blend', quantity);
  await openCheckout(page);
  await fillContact(page, email);
  await fillCard(page, card);
  await page.getByTestId('pay-button').click();
}

async function openOrderByEmail(page: Page, email: string): Promise<string> {
  await page.goto(`/admin/orders?q=${encodeURIComponent(email)}`);
  const rows = page.getByTestId('order-row');
  await expect(rows).toHaveCount(1);
  await rows.first().getByRole('link').click();
  const id = (await page.getByTestId('admin-order-id').textContent())!.trim();
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  return id;
}

test.beforeEach(async () => {
  await resetStripeBehaviour();
});
test.afterEach(async () => {
  await emulator('POST', '/webhooks', { mode: 'normal' });
});

test('every admin URL sends a signed-out visitor to sign-in', async ({ page, request }) => {
  for (const path of ['/admin', '/admin/orders', '/admin/orders/00000000-0000-4000-8000-000000000000', '/admin/review', '/admin/reconciliation', '/admin/ops', '/admin/emails', '/admin/orders/export?status=paid']) {
    await page.goto(path);
    await expect(page, path).toHaveURL(/\/admin\/login$/);
  }
  const csv = await request.get('/admin/orders/export', { maxRedirects: 0 });
  expect(csv.status()).toBe(303);
  expect(csv.headers()['location']).toMatch(/\/admin\/login$/);
});

test('a wrong password fails and sets no session', async ({ page, context }) => {
  await page.goto('/admin/login');
  await page.getByLabel('Email').fill(ADMIN.email);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('login-error')).toHaveText('Wrong email or password.');
  await expect(page).toHaveURL(/\/admin\/login\?error=invalid$/);
  expect((await context.cookies()).find((c) => c.name === 'brisk_admin')).toBeUndefined();
  await page.goto('/admin');
  await expect(page).toHaveURL(/\/admin\/login$/);
});

test('a partial and a full refund each reach Stripe once, even on double click', async ({ page, context }) => {
  await buy(page, emails.refunded, '4242424242424242', 2);
  await expect(page.getByTestId('order-status')).toHaveText('Paid');

  await signIn(page);
  const cookie = (await context.cookies()).find((c) => c.name === 'brisk_admin')!;
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/admin' });
  expect(cookie.expires).toBeGreaterThan(Date.now() / 1000);

  const orderId = await openOrderByEmail(page, emails.refunded);
  await expect(page.getByTestId('admin-order-status')).toHaveText('Paid');

  await page.getByLabel('Amount (USD)').fill('5.00');
  await page.getByRole('button', { name: 'Review refund' }).click();
  await expect(page.getByTestId('refund-confirm-text')).toContainText('Refund $5.00 of $32.00 remaining');
  await page.getByTestId('confirm-refund').dblclick();
  await expect(page.getByTestId('admin-notice')).toHaveText('Refund #1 succeeded.');
  await expect(page.getByTestId('admin-order-status')).toHaveText('Partially refunded');
  await expect(page.getByTestId('admin-order-refundable')).toHaveText('$27.00');

  // Full refund of what remains (the form is pre-filled with it).
  await page.getByRole('button', { name: 'Review refund' }).click();
  await expect(page.getByTestId('refund-confirm-text')).toContainText('full refund of what remains');
  await page.getByTestId('confirm-refund').dblclick();
  await expect(page.getByTestId('admin-notice')).toHaveText('Refund #2 succeeded.');
  await expect(page.getByTestId('admin-order-status')).toHaveText('Refunded');

  const pi = await paymentIntentOf(orderId);
  const refunds = (await stripeGet<{ data: { amount: number; payment_intent: string }[] }>(`refunds?payment_intent=${pi!.id}&limit=100`)).data;
  expect(refunds.map((r) => r.amount).sort((a, b) => a - b)).toEqual([500, 2700]);
  await expect(page.getByTestId('refunds-table').locator('tbody tr')).toHaveCount(2);
  await expect(page.getByTestId('timeline')).toContainText('order.refund_requested');
});

test('filters and search find the right orders, and the CSV matches the filter', async ({ page }) => {
  // A declined order stays pending at $16.00 next to the refunded one at $32.00.
  await buy(page, emails.declined, '4000000000000002', 1);
  await expect(page.getByText('Your card was declined.')).toBeVisible();
  await signIn(page);
  const refundedId = await openOrderByEmail(page, emails.refunded);
  const declinedId = await openOrderByEmail(page, emails.declined);
  const pi = await paymentIntentOf(refundedId);

  const idsFor = async (query: string) => {
    await page.goto(`/admin/orders?${query}`);
    await expect(page.getByTestId('orders-table')).toBeVisible();
    return page.getByTestId('order-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-order-id')));
  };
  expect(await idsFor(`q=${pi!.id}`)).toEqual([refundedId]);
  expect(await idsFor(`q=${refundedId}`)).toEqual([refundedId]);
  expect(await idsFor(`q=${refundedId.slice(0, 8)}`)).toContain(refundedId);

  // Through the form, as an admin would.
  await page.goto('/admin/orders');
  await page.getByLabel('Status').selectOption('refunded');
  const today = new Date().toISOString().slice(0, 10);
  await page.getByLabel('From date').fill(today);
  await page.getByLabel('To date').fill(today);
  await page.getByLabel('Min amount').fill('20');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page).toHaveURL(/status=refunded/);
  const refundedRows = await page.getByTestId('order-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-order-id')));
  expect(refundedRows).toContain(refundedId);
  expect(refundedRows).not.toContain(declinedId);

  const pending = await idsFor('status=pending&max=20');
  expect(pending).toContain(declinedId);
  expect(pending).not.toContain(refundedId);
  expect(await idsFor(`status=pending&q=${emails.refunded}`)).toEqual([]);

  // The CSV export of the same filter: same rows, nothing else.
  const res = await page.request.get(`/admin/orders/export?status=refunded&from=${today}&to=${today}&min=20`);
  expect(res.status()).toBe(200);
  expect(res.headers()['content-type']).toContain('text/csv');
  const lines = (await res.text()).trim().split('\r\n');
  expect(lines[0].split(',').slice(0, 4)).toEqual(['order_id', 'created_at', 'status', 'email']);
  const csvIds = lines.slice(1).map((l) => l.split(',')[0]);
  expect(lines.slice(1).every((l) => l.split(',')[2] === 'refunded')).toBe(true);
  expect(csvIds.sort()).toEqual([...refundedRows].sort());
  // A cross-site request for the export is refused.
  const cross = await page.request.get('/admin/orders/export', { headers: { 'sec-fetch-site': 'cross-site' } });
  expect(cross.status()).toBe(403);
});

test('reconciliation heals an order whose webhooks were dropped and reports a payment it cannot match', async ({ page, context }) => {
  await emulator('POST', '/webhooks', { mode: 'hold' });
  const before = new Set((await stripeGet<{ data: Pi[] }>('payment_intents?limit=100')).data.map((p) => p.id));
  // A 3-D Secure card: the server's create-and-confirm answers requires_action and the bank's
  // challenge opens. The shopper's tab closes there (a phone that died); the challenge is then
  // completed at Stripe. Stripe took the money, and our side heard nothing: the webhooks are
  // held and no browser is left to open the order page, so only reconciliation can tell us.
  await buy(page, emails.healed, '4000002500003155', 1);
  await expect(page.frameLocator('iframe[src*="/3ds/"]').getByRole('button', { name: 'Complete' })).toBeVisible();
  await page.close();
  const [challenged] = (await stripeGet<{ data: (Pi & { client_secret: string })[] }>('payment_intents?limit=100')).data.filter((p) => !before.has(p.id));
  expect(challenged.status).toBe('requires_action');
  const done = await fetch(`${emulatorUrl}/3ds/${challenged.id}/complete`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_secret: challenged.client_secret }) });
  expect(done.ok).toBe(true);
  expect((await stripeGet<Pi>(`payment_intents/${challenged.id}`)).status).toBe('succeeded');
  page = await context.newPage();

  // Money at Stripe that no order of ours asked for: reconciliation cannot heal it.
  const orphan = await stripePost<Pi>('payment_intents', { amount: '777', currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true', 'payment_method_types[]': 'card' });
  expect(orphan.status).toBe('succeeded');

  await signIn(page);
  const orderId = await openOrderByEmail(page, emails.healed);
  await expect(page.getByTestId('admin-order-status')).not.toHaveText('Paid');
  expect((await paymentIntentOf(orderId))?.status).toBe('succeeded');

  await page.goto('/admin/reconciliation');
  await page.getByTestId('run-reconciliation').click();
  await expect(page.getByTestId('admin-notice')).toContainText('healed');
  const latest = page.getByTestId('reconciliation-run').first();
  await expect(latest.locator('[data-kind="missed_payment_update"]').filter({ hasText: orderId.slice(0, 8) })).toHaveCount(1);
  await expect(latest.locator('[data-kind="payment_without_order"]').filter({ hasText: orphan.id })).toHaveCount(1);
  await expect(latest.locator('[data-kind="payment_without_order"]').filter({ hasText: orphan.id })).toContainText('Needs review');

  await page.goto(`/admin/orders/${orderId}`);
  await expect(page.getByTestId('admin-order-status')).toHaveText('Paid');
  await expect(page.getByTestId('timeline')).toContainText('reconcile');
});
