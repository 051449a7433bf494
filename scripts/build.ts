// The production build, made only when the sources changed since the last one: a hash of the
// sources is written next to BUILD_ID. `npm start`, Playwright and the leak scan share it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
      } else if (/\.(tsx?|css|mjs|json|svg)$/.test(entry.name)) {
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

/** Builds into `distDir` unless it already holds a build of the current sources. */
export function buildIfNeeded(distDir: string, log: (line: string) => void = () => undefined, env: Record<string, string> = {}): void {
  if (buildIsFresh(distDir)) {
    log('Production build is up to date.');
    return;
  }
  log('Building the app (first start or sources changed)…');
  const current = sourceHash();
  const r = spawnSync(process.execPath, [join(root, 'node_modules/next/dist/bin/next'), 'build'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...env, NODE_ENV: 'production', BRISK_DIST_DIR: distDir },
  });
  if (r.status !== 0) throw new Error('next build failed');
  writeFileSync(join(root, distDir, 'brisk-source-hash'), current);
}
