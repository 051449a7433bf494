// Canary values for server-only settings. `npm test` builds the app with them in its
// environment and records that it did (leak-canaries.json beside the build), so the leak scan
// can look for each value in everything a browser can load.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LEAK_CANARIES = {
  APP_SECRET: 'leakcanary-app-secret-0123456789abcdef0123456789',
  ADMIN_PASSWORD: 'leakcanary-admin-password',
  STRIPE_SECRET_KEY: 'sk_test_leakcanary0123456789',
  STRIPE_WEBHOOK_SECRET: 'whsec_leakcanary0123456789',
  STRIPE_WEBHOOK_SECRET_PREVIOUS: 'whsec_leakcanaryprevious0123',
  NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: 'pk_test_leakcanary0123456789',
  SMTP_URL: 'smtp://leak:canarypassword@smtp.example:587',
  METRICS_TOKEN: 'leakcanary-metrics-token-0123456789',
};

export const CANARY_MARKER = 'leak-canaries.json';

/** Records, beside a build just made with `values` in its environment, which canaries it saw. */
export function recordCanaries(distPath: string, values: Record<string, string>): void {
  writeFileSync(join(distPath, CANARY_MARKER), JSON.stringify(Object.values(values)));
}

/** The canary values a build was made with ([] when it was not made with any). */
export function canariesBuiltInto(distPath: string): string[] {
  const file = join(distPath, CANARY_MARKER);
  if (!existsSync(file)) return [];
  const values: unknown = JSON.parse(readFileSync(file, 'utf8'));
  return Array.isArray(values) ? values.filter((v): v is string => typeof v === 'string') : [];
}
