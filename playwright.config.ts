import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Playwright cannot download its browsers here: use an installed Chromium.
const executablePath = process.env.CHROMIUM_PATH || process.env.CHROME_PATH || '/usr/bin/chromium';

// The app under test: the production build, started by the same script as `npm start`,
// on its own ports and a fresh embedded database, with the bundled Stripe emulator.
export const APP_PORT = Number(process.env.E2E_APP_PORT ?? 3100);
export const EMULATOR_PORT = Number(process.env.E2E_EMULATOR_PORT ?? 12199);
export const E2E_STRIPE_SECRET_KEY = 'sk_test_brisk_e2e';
process.env.E2E_DATA_DIR ??= mkdtempSync(join(tmpdir(), 'brisk-e2e-'));

export default defineConfig({
  testDir: 'e2e',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    headless: true,
    baseURL: `http://127.0.0.1:${APP_PORT}`,
    launchOptions: {
      executablePath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    },
    trace: 'off',
  },
  webServer: {
    command: 'npx tsx scripts/start.ts',
    url: `http://127.0.0.1:${APP_PORT}/`,
    timeout: 240_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      PORT: String(APP_PORT),
      EMULATOR_PORT: String(EMULATOR_PORT),
      DATA_DIR: process.env.E2E_DATA_DIR,
      STRIPE_SECRET_KEY: '',
      EMULATOR_SECRET_KEY: E2E_STRIPE_SECRET_KEY,
      EMULATOR_PUBLISHABLE_KEY: 'pk_test_brisk_e2e',
      EMULATOR_WEBHOOK_SECRET: 'whsec_brisk_e2e',
      DATABASE_URL: '',
      ADMIN_EMAIL: 'admin@brisk.test',
      RECONCILE_CRON: 'off',
      ADMIN_PASSWORD: 'correct-horse-battery',
      // Every spec's browser is this machine's one address; the per-address checkout limit would
      // otherwise carry over from spec to spec. Carts and emails keep their own limits.
      CHECKOUT_ADDRESS_ATTEMPTS: '100000',
      TRUSTED_PROXIES: '',
      METRICS_TOKEN: '',
    },
  },
});
