// `npm start` on what looks like a production deployment, without Stripe keys, refuses before
// it generates, builds, migrates or starts anything — instead of running the emulator and
// taking test cards as real orders.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'brisk-start-refusal-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function start(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmp, 'run-'));
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['STRIPE_SECRET_KEY', 'NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY', 'STRIPE_WEBHOOK_SECRET', 'STRIPE_API_BASE', 'STRIPE_JS_URL', 'BRISK_DEMO_MODE', 'DATABASE_URL', 'APP_URL', 'NODE_ENV', 'VITEST', 'VITEST_POOL_ID', 'VITEST_WORKER_ID']) delete base[name];
  const distDir = join(dir, 'dist');
  const dataDir = join(dir, 'data');
  const r = spawnSync(process.execPath, [join(root, 'node_modules/.bin/tsx'), 'scripts/start.ts'], {
    cwd: root,
    // A port nothing else uses, and build and data folders of its own: were the check to come
    // after the build, the folders would appear (and the test would time out building).
    env: { ...base, PORT: '3497', EMULATOR_PORT: '12497', BRISK_DIST_DIR: distDir, DATA_DIR: dataDir, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { ...r, distDir, dataDir };
}

describe('npm start without Stripe keys', () => {
  it('refuses with APP_URL on https, and builds nothing', () => {
    const r = start({ APP_URL: 'https://shop.example.com' });
    expect(r.error).toBeUndefined();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('Brisk will not start');
    expect(r.stderr).toContain('APP_URL=https://shop.example.com is on https');
    expect(r.stderr).toContain('BRISK_DEMO_MODE=1');
    expect(r.stdout).not.toMatch(/Stripe emulator/);
    expect(existsSync(r.distDir)).toBe(false);
    expect(existsSync(r.dataDir)).toBe(false);
  });

  it('refuses with the operator\'s NODE_ENV=production and a public APP_URL on http', () => {
    const r = start({ APP_URL: 'http://shop.example.com', NODE_ENV: 'production' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('NODE_ENV=production and APP_URL=http://shop.example.com is a public host');
    expect(existsSync(r.distDir)).toBe(false);
  });

  it('refuses a malformed BRISK_DEMO_MODE too, naming it', () => {
    const r = start({ APP_URL: 'https://shop.example.com', BRISK_DEMO_MODE: 'maybe' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('BRISK_DEMO_MODE');
    expect(existsSync(r.distDir)).toBe(false);
  });
});
