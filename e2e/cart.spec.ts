import { expect, test } from './helpers';

test('a shopper browses, fills a cart, changes quantities and finds the same cart after a reload', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('product-grid').getByRole('listitem')).toHaveCount(14);
  await expect(page.getByTestId('cart-count')).toHaveText('0');

  await page.getByRole('link', { name: /Morning Blend Coffee/ }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Morning Blend Coffee');
  await page.getByLabel('Quantity').fill('2');
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByTestId('cart-count')).toHaveText('2');

  await page.goto('/products/earl-grey');
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByTestId('cart-count')).toHaveText('3');

  await page.getByTestId('cart-link').click();
  await expect(page.getByTestId('cart-line')).toHaveCount(2);
  await expect(page.getByTestId('subtotal')).toHaveText('$44.00');

  await page.getByLabel('Quantity of Morning Blend Coffee').fill('3');
  await page.getByTestId('cart-line').filter({ hasText: 'Morning Blend' }).getByRole('button', { name: 'Update' }).click();
  await expect(page.getByTestId('subtotal')).toHaveText('$60.00');

  await page.getByRole('button', { name: 'Remove Earl Grey Supreme' }).click();
  await expect(page.getByTestId('cart-line')).toHaveCount(1);
  await expect(page.getByTestId('subtotal')).toHaveText('$48.00');

  await page.reload();
  await expect(page.getByTestId('cart-count')).toHaveText('3');
  await expect(page.getByTestId('subtotal')).toHaveText('$48.00');
});

test('quantities above stock and nonsense are refused inline and change nothing', async ({ page }) => {
  await page.goto('/products/matcha-kit');
  const stock = Number((await page.getByTestId('stock').textContent())?.match(/\d+/)?.[0]);
  // The browser's own max would stop a person; a hand-made request must be stopped by the server.
  await page.getByLabel('Quantity').evaluate((el) => el.removeAttribute('max'));
  await page.getByLabel('Quantity').fill(String(stock + 1));
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByTestId('cart-error')).toContainText('available');
  await expect(page.getByTestId('cart-count')).toHaveText('0');

  await page.getByLabel('Quantity').evaluate((el) => el.removeAttribute('min'));
  await page.getByLabel('Quantity').fill('-3');
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await expect(page.getByTestId('cart-error')).toContainText('at least 1');
  await expect(page.getByTestId('cart-count')).toHaveText('0');
});

test('a tampered cart cookie gives a fresh empty cart, and an unknown product a 404', async ({ page, context, baseURL }) => {
  await context.addCookies([{ name: 'brisk_cart', value: 'not-a-cart.forged-signature', url: baseURL! }]);
  await page.goto('/cart');
  await expect(page.getByRole('heading', { name: 'Your cart is empty' })).toBeVisible();
  const res = await page.goto('/products/no-such-thing');
  expect(res?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();
});
