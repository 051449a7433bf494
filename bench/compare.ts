// Before and after, side by side in one run on one machine: the checkout through the real
// server (bench/server-checkout.bench.ts) for an older commit's app and for this checkout's, one
// after the other per database, each beside the same bare Next.js floor measured in its own run.
//
//   npx tsx bench/compare.ts --base <commit> [--quick] [--db pglite|postgres|both] [--rates 10,20,40]
//
// The older commit is checked out as a git worktree in the system's temp folder (installed with
// `npm ci`, its Prisma client generated) and driven by this checkout's benchmark code
// (BENCH_APP_ROOT), so both are measured the same way; each side builds its own app. On a shared
// machine the absolute figures move between the two runs: read the ratios to each run's own floor
// ("vs floor") as the comparison, and the head/base ratio of the raw figures as a second view.
// Leaves out: statements per checkout (not counted by the server benchmark), 3-D Secure, webhooks
// delivered apart from the checkout's own.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, runDir } from './lib/app-process';
import { describeProbes, probeMachine } from './lib/probe';
import { isQuick, recordResults, type Row } from './lib/results';

const argValue = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const baseArg = argValue('--base');
if (!baseArg) {
  console.error('usage: npx tsx bench/compare.ts --base <commit> [--quick] [--db pglite|postgres|both] [--rates 10,20,40]');
  process.exit(2);
}
const dbArg = argValue('--db') ?? 'both';
const kinds = dbArg === 'both' ? ['pglite', 'postgres'] : [dbArg];
const rates = argValue('--rates');

function git(...args: string[]): string {
  const r = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): number {
  console.log(`\n$ (${cwd}) ${cmd} ${args.join(' ')}`);
  return spawnSync(cmd, args, { cwd, env, stdio: 'inherit' }).status ?? 1;
}

const baseSha = git('rev-parse', baseArg);
const headSha = git('rev-parse', 'HEAD');
const dirty = git('status', '--porcelain').length > 0;
const baseDir = join(tmpdir(), `brisk-compare-${baseSha.slice(0, 12)}`);
if (!existsSync(join(baseDir, 'node_modules', '.bin', 'tsx'))) {
  if (!existsSync(baseDir)) git('worktree', 'add', '--detach', baseDir, baseSha);
  if (run('npm', ['ci', '--no-audit', '--no-fund'], baseDir) !== 0) throw new Error('npm ci failed in the base checkout');
  if (run('npm', ['run', 'db:generate'], baseDir) !== 0) throw new Error('db:generate failed in the base checkout');
}

type Side = 'base' | 'head';
const out = runDir('compare');
const results = new Map<string, Map<Side, Row[]>>();
const probeBefore = await probeMachine();
for (const [i, kind] of kinds.entries()) {
  // Alternate which side goes first, so a machine growing busier does not always fall on one.
  const order: Side[] = i % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
  const bySide = new Map<Side, Row[]>();
  for (const side of order) {
    const file = join(out, `${kind}-${side}.json`);
    const args = ['--import', 'tsx', join(root, 'bench', 'server-checkout.bench.ts'), '--db', kind, ...(isQuick ? ['--quick'] : []), ...(rates ? ['--rates', rates] : [])];
    const env = { ...process.env, BENCH_RECORD: '0', BENCH_JSON_OUT: file, ...(side === 'base' ? { BENCH_APP_ROOT: baseDir } : {}) };
    // Exit 1 means goals missed, which is a figure, not a failure; no JSON means it did not run.
    run(process.execPath, args, root, env);
    if (!existsSync(file)) throw new Error(`the ${side} run on ${kind} wrote no results`);
    bySide.set(side, (JSON.parse(readFileSync(file, 'utf8')) as { rows: Row[] }).rows);
  }
  results.set(kind, bySide);
}
const probeAfter = await probeMachine();

const lead = (v: unknown) => {
  const m = /-?\d+(?:\.\d+)?/.exec(String(v ?? ''));
  return m ? Number(m[0]) : NaN;
};
const rows: Row[] = [];
for (const [kind, bySide] of results) {
  const base = bySide.get('base')!;
  const head = bySide.get('head')!;
  for (const h of head) {
    const b = base.find((r) => r.database === h.database && r.rate === h.rate && r.measure === h.measure);
    const ratio = b ? lead(h.shop) / lead(b.shop) : NaN;
    rows.push({
      database: kind,
      rate: h.rate,
      measure: h.measure,
      [`base ${baseSha.slice(0, 7)}`]: b?.shop ?? '—',
      [`head ${headSha.slice(0, 7)}${dirty ? '+' : ''}`]: h.shop,
      'base vs floor': b?.['shop/floor'] ?? '—',
      'head vs floor': h['shop/floor'],
      'head/base (first figure)': Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—',
    });
  }
}

recordResults({
  name: 'compare',
  title: `Before/after: the checkout through the real server, ${baseSha.slice(0, 7)} (base) vs ${headSha.slice(0, 7)}${dirty ? ' with uncommitted changes' : ''} (head), side by side`,
  command: `npx tsx bench/compare.ts --base ${baseArg}${isQuick ? ' --quick' : ''} --db ${dbArg}${rates ? ` --rates ${rates}` : ''}`,
  rows,
  notes: [
    `Each side is a full run of bench/server-checkout.bench.ts (this checkout's code) against that side's app, beside the same floor; the order of the sides alternates per database. Per-run JSON in ${out}.`,
    'Read "vs floor" (each run against the floor measured in the same run) as the comparison on a shared machine; "head/base" compares the first figure of each cell (p50 where a cell has p50 / p99).',
    describeProbes(probeBefore, probeAfter),
  ],
});
