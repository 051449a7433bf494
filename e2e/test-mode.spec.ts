// The shop under test runs on the bundled Stripe emulator, so every shop and admin page must say
// "Test mode: no real payments" — server-rendered (there before any script runs, and on the
// catalog and product pages, which load none) and announced as a status to screen readers.
import { expect, test } from './helpers';
import { type Page } from '@playwright/test';
import { addToCart } from './helpers';

async function expectBanner(page: Page, path: string): Promise<void> {
  const banner = page.getByRole('status').filter({ hasText: 'Test mode: no real payments' });
  await expect(banner, path).toHaveCount(1);
  await expect(banner, path).toBeVisible();
}

test('every shop page says the payments are not real, in the server-rendered HTML', async ({ page, request }) => {
  for (const path of ['/', '/products/morning-blend', '/cart']) {
    const html = await (await request.get(path)).text();
    expect(html, path).toMatch(/role="status"[^>]*>.*Test mode: no real payments/s);
    await page.goto(path);
    await expectBanner(page, path);
  }
  await addToCart(page, 'morning-blend', 1);
  await page.goto('/checkout');
  await expectBanner(page, '/checkout');
});

test('every admin page says so too, signed out and signed in', async ({ page }) => {
  await page.goto('/admin/login');
  await expectBanner(page, '/admin/login');
  await page.getByLabel('Email').fill('admin@brisk.test');
  await page.getByLabel('Password').fill('correct-horse-battery');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await expectBanner(page, '/admin');
  for (const path of ['/admin/orders', '/admin/ops']) {
    await page.goto(path);
    await expectBanner(page, path);
  }
});
