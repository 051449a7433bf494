// The production build, made once per version of the sources: a hash of the sources is written
// next to BUILD_ID, by `npm run build` and by `npm start` alike, so nobody builds again what is
// already built. A build carries no deployment settings (keys and URLs are read when the server
// starts), so one build serves any configuration. Builds of one folder take turns under a lock
// file: an instance that finds another one building waits for that build instead of racing it.
// `npm start`, `npm run build`, Playwright, chaos and the leak scan share it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

export function sourceHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === 'generated' || entry.name === 'node_modules') continue;
        walk(full);
      } else if (/\.(tsx?|css|mjs|json|svg)$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name)) {
        // Tests beside the code (lib/**/*.test.ts) are not part of the build.
        hash.update(relative(root, full)).update(readFileSync(full));
      }
    }
  };
  for (const dir of ['app', 'pages', 'components', 'lib', 'public']) if (existsSync(join(root, dir))) walk(join(root, dir));
  for (const file of ['next.config.ts', 'package-lock.json', 'postcss.config.mjs', 'tsconfig.json', 'prisma/schema.prisma', 'proxy.ts', 'instrumentation.ts']) {
    if (!existsSync(join(root, file))) continue;
    let content = readFileSync(join(root, file), 'utf8');
    // `next build` adds its distDir's type folders to tsconfig's include: one build folder
    // must not make every other one look stale.
    if (file === 'tsconfig.json') content = content.replace(/^\s*"\.next[^"]*\/types\/\*\*\/\*\.ts",?\n/gm, '');
    hash.update(file).update(content);
  }
  return hash.digest('hex');
}

/** True when `distDir` holds a build of the current sources. */
export function buildIsFresh(distDir: string): boolean {
  const marker = join(root, distDir, 'brisk-source-hash');
  return existsSync(join(root, distDir, 'BUILD_ID')) && existsSync(marker) && readFileSync(marker, 'utf8') === sourceHash();
}

/**
 * A production start never builds: the operator says so with NODE_ENV=production,
 * BRISK_NO_BUILD=1 or `npm start -- --no-build`. Returns why, or undefined for a plain start.
 */
export function productionStartReason(argv: string[], env: Record<string, string | undefined>): string | undefined {
  if (argv.includes('--no-build')) return '`npm start -- --no-build`';
  if (env.BRISK_NO_BUILD && !['0', 'false', ''].includes(env.BRISK_NO_BUILD)) return 'BRISK_NO_BUILD is set';
  if (env.NODE_ENV === 'production') return 'NODE_ENV=production';
  return undefined;
}

/** `npm start` in production (or with --no-build) found no build of these sources. */
export class BuildMissingError extends Error {
  constructor(distDir: string, why: string) {
    super(`${why}: there is no build of these sources in ${distDir}. A production start never builds: run \`npm run build\` first (once per release), then start the instances.`);
    this.name = 'BuildMissingError';
  }
}

export const BUILD_LOCK_WAIT_MS = 30 * 60_000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The lock file sits beside the build folder (next build empties the folder itself). */
export function buildLockPath(distDir: string): string {
  return join(root, `${distDir.replace(/\/+$/, '')}.build-lock`);
}

interface LockOwner {
  pid: number;
  host: string;
  since: number;
}

function readOwner(path: string): LockOwner | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch {
    return null;
  }
}

function alive(owner: LockOwner | null): boolean {
  // A lock being written right now reads as empty: give it the benefit of the doubt.
  if (!owner) return true;
  if (owner.host !== hostname()) return Date.now() - owner.since < BUILD_LOCK_WAIT_MS;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` holding the build lock of `distDir`. When another process holds it, waits for it
 * (up to BUILD_LOCK_WAIT_MS, then refuses with a message); a lock left by a process that died
 * is taken over. After a wait, `skipAfterWait` may say the other process already did the work:
 * then `fn` does not run and the result is undefined.
 */
export function withBuildLock<T>(distDir: string, fn: () => T, opts: { log?: (line: string) => void; skipAfterWait?: () => boolean; waitMs?: number } = {}): T | undefined {
  const path = buildLockPath(distDir);
  const deadline = Date.now() + (opts.waitMs ?? BUILD_LOCK_WAIT_MS);
  let waited = false;
  for (;;) {
    let fd: number | undefined;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (fd !== undefined) {
      try {
        writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: Date.now() } satisfies LockOwner));
      } finally {
        closeSync(fd);
      }
      try {
        if (waited && opts.skipAfterWait?.()) return undefined;
        return fn();
      } finally {
        rmSync(path, { force: true });
      }
    }
    const owner = readOwner(path);
    if (!alive(owner)) {
      opts.log?.(`Removing a stale build lock left by process ${owner?.pid}.`);
      // Only if it is still that same stale lock.
      if (JSON.stringify(readOwner(path)) === JSON.stringify(owner)) rmSync(path, { force: true });
      continue;
    }
    if (!waited) opts.log?.(`Another process (pid ${owner?.pid}) is building ${distDir}; waiting for it to finish…`);
    waited = true;
    if (Date.now() > deadline) {
      throw new Error(`Gave up waiting for the build of process ${owner?.pid} into ${distDir} (lock ${relative(root, path)}). If no build is running, delete that file.`);
    }
    sleepSync(500);
  }
}

function runNextBuild(distDir: string, log: (line: string) => void, env: Record<string, string>): void {
  const current = sourceHash();
  const marker = join(root, distDir, 'brisk-source-hash');
  if (existsSync(marker)) unlinkSync(marker);
  const r = spawnSync(process.execPath, [join(root, 'node_modules/next/dist/bin/next'), 'build'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...env, NODE_ENV: 'production', BRISK_DIST_DIR: distDir },
  });
  if (r.status !== 0) throw new Error('next build failed');
  writeFileSync(marker, current);
  log(`Build of these sources written to ${distDir}.`);
}

/** Always builds (`npm run build`), under the lock, and writes the marker `npm start` checks. */
export function build(distDir: string, log: (line: string) => void = () => undefined, env: Record<string, string> = {}): void {
  withBuildLock(distDir, () => runNextBuild(distDir, log, env), { log });
}

/**
 * Builds into `distDir` unless it already holds a build of the current sources, whoever made it.
 * `neverBuild` (a production start) refuses instead of building. Processes starting together
 * take turns: the second waits for the first's build and then uses it.
 */
export function buildIfNeeded(distDir: string, log: (line: string) => void = () => undefined, env: Record<string, string> = {}, opts: { neverBuild?: string } = {}): void {
  if (buildIsFresh(distDir)) {
    log('Production build is up to date.');
    return;
  }
  if (opts.neverBuild) throw new BuildMissingError(distDir, opts.neverBuild);
  withBuildLock(
    distDir,
    () => {
      log('Building the app (first start or sources changed)…');
      runNextBuild(distDir, log, env);
    },
    {
      log,
      skipAfterWait: () => {
        if (!buildIsFresh(distDir)) return false;
        log('Production build is up to date (built by the process we waited for).');
        return true;
      },
    },
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // `npm run build`: the Prisma client first (the build imports it), then the build and its marker.
  const { generatedIsFresh, generatePrismaClient } = await import('./generate');
  if (!generatedIsFresh()) generatePrismaClient();
  try {
    build(process.env.BRISK_DIST_DIR || '.next', (line) => console.log(`[brisk] ${line}`));
  } catch (err) {
    console.error(`[brisk] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
