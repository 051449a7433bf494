// `npm test`: unit and integration tests (Vitest) on PGlite, the database tests again on
// PostgreSQL when TEST_DATABASE_URL is set, then the Playwright specs against a production
// build in Chromium. Without TEST_DATABASE_URL the concurrency tests prove little (PGlite runs
// one transaction at a time): the summary says so loudly, and under CI that is a failure.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildIfNeeded, buildIsFresh } from './build';
import { LEAK_CANARIES, recordCanaries } from '../tests/security/leak-canaries';
import { generatedIsFresh, generatePrismaClient } from './generate';

const root = resolve(import.meta.dirname, '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

const ran: string[] = [];
const skipped: string[] = [];

function run(title: string, cmd: string, args: string[], env: Record<string, string> = {}): void {
  console.log(`\n=== ${title} ===`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) {
    console.error(`\n${title} failed.`);
    printSummary();
    process.exit(r.status ?? 1);
  }
  ran.push(title);
}

/** What ran and, louder, what did not: a green run that skipped the PostgreSQL pass proved less. */
function printSummary(): void {
  console.log('\n=== Summary ===');
  for (const t of ran) console.log(`  passed   ${t}`);
  if (skipped.length === 0) return;
  const bar = '!'.repeat(78);
  console.log(`\n${bar}`);
  for (const t of skipped) console.log(`!! SKIPPED  ${t}`);
  console.log('!! PGlite runs one transaction at a time, so the concurrency tests (row locks, races');
  console.log('!! between checkouts, webhooks and the worker) were NOT exercised. Set TEST_DATABASE_URL');
  console.log('!! to a PostgreSQL database you may write to, e.g.');
  console.log('!!   TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test npm test');
  console.log(bar);
}

/** CI=true (or any value but "false"/"0"), as CI services and .ci/run set it. */
function underCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI?.trim().toLowerCase();
  return Boolean(v) && v !== 'false' && v !== '0';
}

function ensureChromium(): string {
  const configured = process.env.CHROMIUM_PATH || process.env.CHROME_PATH;
  if (configured) {
    if (!existsSync(configured)) throw new Error(`CHROMIUM_PATH=${configured} does not exist`);
    return configured;
  }
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  if (process.getuid?.() === 0) {
    console.log('Installing Debian chromium for the browser tests…');
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    const r = spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status === 0 && existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  }
  console.error('The browser tests need Chromium: run `apt-get install -y chromium` as root, or set CHROMIUM_PATH to an installed Chrome/Chromium.');
  process.exit(1);
}

// Deployment settings put in the build's environment on purpose: a build must keep none of them.
// The leak scan fails on any publishable key in the build, and every browser spec pays with the
// emulator's own keys given at start, so a build that kept these would fail them all.
const BUILD_TIME_SETTINGS = {
  NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: 'pk_test_buildtimesetting0123456789',
  STRIPE_JS_URL: 'http://build-time-setting.invalid/v3/',
};

const only = process.argv[2];
const needsPostgres = !only || only === 'unit' || only === 'chaos';
if (needsPostgres && !process.env.TEST_DATABASE_URL && underCi()) {
  // Fail before spending minutes on the rest: under CI a skipped PostgreSQL pass is a broken setup.
  console.error('CI is set but TEST_DATABASE_URL is not: the PostgreSQL pass of the database tests (and the scale-out chaos scenario) cannot run.');
  console.error('Point TEST_DATABASE_URL at a PostgreSQL database the tests may write to (.ci/run creates one).');
  process.exit(1);
}
if (!generatedIsFresh()) generatePrismaClient();

if (!only || only === 'unit') {
  run('TypeScript', bin('tsc'), ['--noEmit', '-p', '.']);
  run('ESLint', bin('eslint'), ['.', '--max-warnings', '0']);
  // The browser specs need the production build anyway; making it first lets the leak scan
  // (tests/security/leak-scan.test.ts) read it instead of building one of its own.
  if (!only) {
    console.log('\n=== Production build ===');
    // Made with canary secrets in its environment, so the leak scan can look for their values.
    const dist = process.env.BRISK_DIST_DIR || '.next';
    const settings = { ...LEAK_CANARIES, ...BUILD_TIME_SETTINGS };
    const fresh = buildIsFresh(dist);
    buildIfNeeded(dist, (line) => console.log(line), settings);
    if (!fresh) recordCanaries(join(root, dist), settings);
  }
  run('Vitest on PGlite', bin('vitest'), ['run'], { TEST_DB_KIND: 'pglite' });
  if (process.env.TEST_DATABASE_URL) {
    run('Vitest database tests on PostgreSQL', bin('vitest'), ['run', '.db.test.ts'], { TEST_DB_KIND: 'postgres' });
  } else {
    skipped.push('Vitest database tests on PostgreSQL (TEST_DATABASE_URL is not set)');
    console.log('\n!! TEST_DATABASE_URL is not set: SKIPPING the PostgreSQL pass of the database tests (see the summary).');
  }
}
if (!only || only === 'chaos') {
  // The quick chaos run: SIGKILLs, faults, reorderings, stale tabs and (on PostgreSQL) two instances and
  // two workers, each checked against our database and the emulator. Reuses the build above.
  // stale-tabs-pg stays out of the quick run: on PostgreSQL, events a killed server had picked up
  // wait for pg-boss's 5-minute job expiry, longer than the quick run waits (an open issue; the
  // full run holds). Run it with `npm run chaos -- --only stale-tabs-pg`.
  if (!process.env.TEST_DATABASE_URL) skipped.push('chaos scenario scale-out (needs PostgreSQL: TEST_DATABASE_URL is not set)');
  run('Chaos (quick)', bin('tsx'), ['chaos/run.ts', '--quick', '--skip', process.env.TEST_DATABASE_URL ? 'stale-tabs-pg' : 'scale-out,stale-tabs-pg'], {
    BRISK_DIST_DIR: process.env.BRISK_DIST_DIR || '.next',
    ...(process.env.TEST_DATABASE_URL ? { CHAOS_DATABASE_URL: process.env.TEST_DATABASE_URL } : {}),
  });
}
if (!only || only === 'e2e') {
  const chromium = ensureChromium();
  run('Playwright in Chromium', bin('playwright'), ['test'], { CHROMIUM_PATH: chromium });
}
printSummary();
