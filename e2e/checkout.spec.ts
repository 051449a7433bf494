import { expect, test } from '@playwright/test';
import { addToCart, emulator, fillCard, fillContact, openCheckout, resetStripeBehaviour, watchForCardNumbers } from './helpers';

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
