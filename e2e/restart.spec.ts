// The cart lives in the database behind a signed cookie: it survives a full server restart
// (`npm start` stopped and started again on the same embedded database).
import { expect, test } from './helpers';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PORT = Number(process.env.E2E_APP_PORT ?? 3100) + 7;
const EMULATOR_PORT = Number(process.env.E2E_EMULATOR_PORT ?? 12199) + 7;
const dataDir = mkdtempSync(join(tmpdir(), 'brisk-restart-'));

async function startShop(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    env: { ...process.env, PORT: String(PORT), EMULATOR_PORT: String(EMULATOR_PORT), DATA_DIR: dataDir, STRIPE_SECRET_KEY: '', DATABASE_URL: '' },
    stdio: 'ignore',
  });
  for (let i = 0; i < 120; i++) {
    if (child.exitCode !== null) throw new Error(`the shop exited with ${child.exitCode}`);
    if (await fetch(`http://127.0.0.1:${PORT}/`).then((r) => r.ok, () => false)) return child;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('the shop did not start');
}

async function stopShop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

test('a cart survives a server restart', async ({ page }) => {
  test.setTimeout(180_000);
  let shop = await startShop();
  try {
    await page.goto(`http://127.0.0.1:${PORT}/products/gooseneck-kettle`);
    await page.getByLabel('Quantity').fill('2');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await expect(page.getByTestId('cart-count')).toHaveText('2');
    await stopShop(shop);
    shop = await startShop();
    await page.goto(`http://127.0.0.1:${PORT}/cart`);
    await expect(page.getByTestId('cart-count')).toHaveText('2');
    await expect(page.getByTestId('subtotal')).toHaveText('$128.00');
  } finally {
    await stopShop(shop);
  }
});
