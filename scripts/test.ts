// `npm test`: unit and integration tests (Vitest) on PGlite, the database tests again on
// PostgreSQL when TEST_DATABASE_URL is set, then the Playwright specs against a production
// build in Chromium.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildIfNeeded } from './build';
import { generatedIsFresh, generatePrismaClient } from './generate';

const root = resolve(import.meta.dirname, '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

function run(title: string, cmd: string, args: string[], env: Record<string, string> = {}): void {
  console.log(`\n=== ${title} ===`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) {
    console.error(`\n${title} failed.`);
    process.exit(r.status ?? 1);
  }
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

const only = process.argv[2];
if (!generatedIsFresh()) generatePrismaClient();

if (!only || only === 'unit') {
  run('TypeScript', bin('tsc'), ['--noEmit', '-p', '.']);
  run('ESLint', bin('eslint'), ['.', '--max-warnings', '0']);
  // The browser specs need the production build anyway; making it first lets the leak scan
  // (tests/security/leak-scan.test.ts) read it instead of building one of its own.
  if (!only) {
    console.log('\n=== Production build ===');
    buildIfNeeded(process.env.BRISK_DIST_DIR || '.next', (line) => console.log(line));
  }
  run('Vitest on PGlite', bin('vitest'), ['run'], { TEST_DB_KIND: 'pglite' });
  if (process.env.TEST_DATABASE_URL) {
    run('Vitest database tests on PostgreSQL', bin('vitest'), ['run', '.db.test.ts'], { TEST_DB_KIND: 'postgres' });
  } else {
    console.log('\n(TEST_DATABASE_URL is not set: skipping the PostgreSQL pass of the database tests.)');
  }
}
if (!only || only === 'chaos') {
  // The quick chaos run: SIGKILLs, faults, reorderings, stale tabs and (on PostgreSQL) two instances and
  // two workers, each checked against our database and the emulator. Reuses the build above.
  run('Chaos (quick)', bin('tsx'), ['chaos/run.ts', '--quick', ...(process.env.TEST_DATABASE_URL ? [] : ['--skip', 'scale-out,stale-tabs-pg'])], {
    BRISK_DIST_DIR: process.env.BRISK_DIST_DIR || '.next',
    ...(process.env.TEST_DATABASE_URL ? { CHAOS_DATABASE_URL: process.env.TEST_DATABASE_URL } : {}),
  });
}
if (!only || only === 'e2e') {
  const chromium = ensureChromium();
  run('Playwright in Chromium', bin('playwright'), ['test'], { CHROMIUM_PATH: chromium });
}
