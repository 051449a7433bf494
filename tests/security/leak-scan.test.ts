// No secret reaches the browser: every file of the production build that a browser can load
// (<distDir>/static, prerendered pages and their RSC payloads, public/) is scanned for Stripe
// secret keys, webhook secrets and the names of server-only environment variables. The build
// of the current sources is reused when there is one (npm test builds before Vitest); otherwise
// one is made into a separate folder with canary secrets in the environment. A build carries no
// deployment settings either: no publishable key literal may sit anywhere in the build (server
// code included), since keys are read when the server starts and one build serves any keys.
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildIfNeeded, buildIsFresh } from '@/scripts/build';

const root = resolve(import.meta.dirname, '../..');
import { CANARY_MARKER, LEAK_CANARIES as CANARY, canariesBuiltInto } from './leak-canaries';
const SERVER_ONLY_NAMES = ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'STRIPE_WEBHOOK_SECRET_PREVIOUS', 'DATABASE_URL', 'APP_SECRET', 'ADMIN_PASSWORD', 'SMTP_URL', 'METRICS_TOKEN', 'TRUSTED_PROXIES'];
const SECRET_SHAPES: [string, RegExp][] = [
  ['Stripe secret or restricted key', /\b(sk|rk)_(live|test)_[A-Za-z0-9]{6,}/],
  ['webhook signing secret', /\bwhsec_[A-Za-z0-9]{6,}/],
  ['database URL with a password', /postgres(ql)?:\/\/[^:/\s"']+:[^@\s"']+@/],
];

let distDir = process.env.BRISK_DIST_DIR || '.next';
let canaries: string[] = [];

beforeAll(() => {
  // A build made with the canary secrets in its environment (npm test's own) is scanned for
  // their values; any other build, or none, means one of our own with them.
  if (buildIsFresh(distDir)) canaries = canariesBuiltInto(join(root, distDir));
  if (canaries.length > 0) return;
  distDir = '.next-leakscan';
  buildIfNeeded(distDir, (l) => console.log(`[leak-scan] ${l}`), CANARY);
  canaries = Object.values(CANARY);
}, 15 * 60_000);

function files(dir: string, keep: (path: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(full, keep));
    else if (keep(full)) out.push(full);
  }
  return out;
}

function browserFiles(): string[] {
  const dist = join(root, distDir);
  return [
    ...files(join(dist, 'static'), () => true),
    // Prerendered pages and the RSC payloads a browser fetches for them.
    ...files(join(dist, 'server', 'app'), (p) => /\.(html|rsc|body|meta)$/.test(p)),
    ...files(join(root, 'public'), () => true),
  ];
}

/** Every file the build wrote, server code included (not Next's compiler cache or a dev server's output). */
function buildFiles(): string[] {
  const dist = join(root, distDir);
  return files(dist, (p) => {
    const rel = relative(dist, p);
    // Symlinks (.next/node_modules points at installed packages) are not the build's own output.
    // (leak-canaries.json is the scan's own record of the canaries it looks for.)
    return lstatSync(p).isFile() && rel !== CANARY_MARKER && !rel.startsWith('cache/') && !rel.startsWith('dev/') && !/\.(map|nft\.json)$/.test(rel) && !rel.startsWith('trace');
  });
}

describe('leak scan of the production build', () => {
  it('holds no Stripe publishable key anywhere: keys are configuration read at start, not part of the build', () => {
    const scanned = buildFiles();
    expect(scanned.filter((f) => f.includes(`${join(distDir, 'server')}`)).length).toBeGreaterThan(10);
    const findings: string[] = [];
    for (const file of scanned) {
      if (statSync(file).size > 20 * 1024 * 1024) continue;
      const text = readFileSync(file, 'latin1');
      const m = text.match(/\bpk_(live|test)_[A-Za-z0-9]{6,}/);
      if (m) findings.push(`${relative(root, file)}: publishable key literal ${m[0].slice(0, 16)}…`);
    }
    expect(findings).toEqual([]);
  });

  it('finds no secret key, webhook secret or server-only variable name in anything a browser can load', () => {
    const scanned = browserFiles();
    expect(scanned.filter((f) => f.endsWith('.js')).length).toBeGreaterThan(10);
    const findings: string[] = [];
    let bytes = 0;
    for (const file of scanned) {
      if (statSync(file).size > 20 * 1024 * 1024) continue;
      const text = readFileSync(file, 'latin1');
      bytes += text.length;
      const where = relative(root, file);
      for (const [what, re] of SECRET_SHAPES) {
        const m = text.match(re);
        if (m) findings.push(`${where}: ${what} (${m[0].slice(0, 12)}…)`);
      }
      for (const name of SERVER_ONLY_NAMES) if (new RegExp(`\\b${name}\\b`).test(text)) findings.push(`${where}: mentions ${name}`);
      for (const value of canaries) if (text.includes(value)) findings.push(`${where}: contains the value of a server-only variable`);
    }
    expect(bytes).toBeGreaterThan(100_000);
    // The value check ran against real canaries, not an empty list.
    expect(canaries.length).toBeGreaterThanOrEqual(Object.keys(CANARY).length);
    expect(findings).toEqual([]);
  });
});
