// Builds take turns (issue 15 §6): instances started together must not run `next build` into the
// same folder at once. Real processes take the lock scripts/build.ts uses around `next build`.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildLockPath, productionStartReason } from '@/scripts/build';

const root = resolve(import.meta.dirname, '../..');
const fixture = join(root, 'tests/integration/fixtures/lock-holder.ts');
const cleanup: string[] = [];
afterEach(() => {
  for (const p of cleanup.splice(0)) rmSync(p, { recursive: true, force: true });
});

function scratch(): { dir: string; distDir: string; journal: string; marker: string } {
  const dir = mkdtempSync(join(tmpdir(), 'brisk-build-lock-'));
  // A build folder name relative to the project, unique to this test.
  const distDir = relative(root, join(dir, 'dist'));
  cleanup.push(dir, buildLockPath(distDir));
  return { dir, distDir, journal: join(dir, 'journal'), marker: join(dir, 'marker') };
}

function holder(distDir: string, journal: string, marker: string, holdMs: number): Promise<number | null> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, distDir, journal, marker, String(holdMs)], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((r) => child.once('exit', r));
}

function entries(journal: string): { kind: string; pid: number; at: number }[] {
  return readFileSync(journal, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('log '))
    .map((l) => {
      const [kind, pid, at] = l.split(' ');
      return { kind, pid: Number(pid), at: Number(at) };
    });
}

describe('the build lock', () => {
  it('two processes started together never hold it at once', async () => {
    const s = scratch();
    const codes = await Promise.all([holder(s.distDir, s.journal, '-', 1500), holder(s.distDir, s.journal, '-', 1500)]);
    expect(codes).toEqual([0, 0]);
    const e = entries(s.journal);
    expect(e.map((x) => x.kind)).toEqual(['start', 'end', 'start', 'end']);
    expect(e[0].pid).toBe(e[1].pid);
    expect(e[2].at).toBeGreaterThanOrEqual(e[1].at);
    expect(existsSync(buildLockPath(s.distDir))).toBe(false);
  }, 60_000);

  it('the second waits for the first build and then uses it instead of building again', async () => {
    const s = scratch();
    const codes = await Promise.all([holder(s.distDir, s.journal, s.marker, 1500), holder(s.distDir, s.journal, s.marker, 1500)]);
    expect(codes).toEqual([0, 0]);
    expect(entries(s.journal).map((x) => x.kind)).toEqual(['start', 'end', 'skipped']);
    expect(readFileSync(s.journal, 'utf8')).toContain('waiting for it to finish');
  }, 60_000);

  it('a lock left by a process that died is taken over', async () => {
    const s = scratch();
    // A pid that is not running (pid_max is below 2^22 on Linux).
    writeFileSync(buildLockPath(s.distDir), JSON.stringify({ pid: 4_194_300, host: (await import('node:os')).hostname(), since: Date.now() }));
    expect(await holder(s.distDir, s.journal, '-', 10)).toBe(0);
    expect(entries(s.journal).map((x) => x.kind)).toEqual(['start', 'end']);
  }, 60_000);
});

describe('what counts as a production start (it never builds)', () => {
  it('NODE_ENV=production, BRISK_NO_BUILD or --no-build; a plain start may build', () => {
    expect(productionStartReason([], {})).toBeUndefined();
    expect(productionStartReason([], { NODE_ENV: 'development' })).toBeUndefined();
    expect(productionStartReason([], { BRISK_NO_BUILD: '0' })).toBeUndefined();
    expect(productionStartReason([], { NODE_ENV: 'production' })).toMatch(/NODE_ENV/);
    expect(productionStartReason([], { BRISK_NO_BUILD: '1' })).toMatch(/BRISK_NO_BUILD/);
    expect(productionStartReason(['--no-build'], {})).toMatch(/no-build/);
  });
});
