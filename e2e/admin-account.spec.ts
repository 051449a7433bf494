// Admin → Account: the signed-in admin changes their password; the current one is checked on
// the server, the new one confirmed, and only the new one signs in afterwards.
import { expect, test } from './helpers';
import { type Page } from '@playwright/test';

const EMAIL = 'admin@brisk.test';
const ORIGINAL = 'correct-horse-battery';
const CHANGED = 'a-brand-new-passphrase';

async function signIn(page: Page, password: string): Promise<void> {
  await page.goto('/admin/login');
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function change(page: Page, current: string, next: string, confirm = next): Promise<void> {
  await page.goto('/admin/account');
  await page.getByLabel('Current password').fill(current);
  await page.getByLabel('New password', { exact: true }).fill(next);
  await page.getByLabel('Confirm new password').fill(confirm);
  await page.getByRole('button', { name: 'Change password' }).click();
}

test('an admin changes their password from the Account page', async ({ page, browser }) => {
  // Not signed in: the page sends you to sign in.
  await page.goto('/admin/account');
  await expect(page).toHaveURL(/\/admin\/login/);

  await signIn(page, ORIGINAL);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  // A second session of the same admin, which the change must sign out.
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await signIn(otherPage, ORIGINAL);
  await expect(otherPage.getByRole('heading', { name: 'Dashboard' })).toBeVisible();

  await change(page, 'not-my-password', CHANGED);
  await expect(page.getByTestId('account-notice')).toHaveText('The current password is wrong.');
  await change(page, ORIGINAL, CHANGED, `${CHANGED}x`);
  await expect(page.getByTestId('account-notice')).toHaveText('The new password and its confirmation differ.');
  await change(page, ORIGINAL, CHANGED);
  await expect(page.getByTestId('account-notice')).toContainText('Password changed');

  await otherPage.goto('/admin');
  await expect(otherPage).toHaveURL(/\/admin\/login/);
  await other.close();

  await page.context().clearCookies();
  await signIn(page, ORIGINAL);
  await expect(page.getByTestId('login-error')).toBeVisible();
  await signIn(page, CHANGED);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();

  // Back to the password the other specs sign in with.
  await change(page, CHANGED, ORIGINAL);
  await expect(page.getByTestId('account-notice')).toContainText('Password changed');
});
