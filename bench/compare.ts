// Before and after, side by side in one run on one machine, for an older commit's app and for
// this checkout's, one after the other per database:
// - the checkout through the real server (bench/server-checkout.bench.ts), each beside the same
//   bare Next.js floor measured in its own run, with the SQL statements per paid checkout (counted
//   in the app's processes by a preload, bench/lib/count-statements.mjs, the same way on both);
// - webhook acknowledgements (bench/webhook.bench.ts): POST /api/stripe/webhook against the
//   verify-only floor on the same server, each side against the floor measured in its own run.
//
//   npx tsx bench/compare.ts --base <commit> [--quick] [--db pglite|postgres|both] [--rates 10,20,40] [--no-webhook] [--no-statements]
//
// The older commit is checked out as a git worktree in the system's temp folder (installed with
// `npm ci`, its Prisma client generated) and driven by this checkout's benchmark code
// (BENCH_APP_ROOT), so both are measured the same way; each side builds its own app. On a shared
// machine the absolute figures move between the two runs: read the ratios to each run's own floor
// ("vs floor") as the comparison, and the head/base ratio of the raw figures as a second view.
// Leaves out: 3-D Secure; webhooks with the inline workers processing them (the ack path only,
// WORKER_MODE=off, as bench:webhook's default); statements the database runs on its own
// (autovacuum, triggers' inner statements) — only what the app sends is counted.
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
  console.error('usage: npx tsx bench/compare.ts --base <commit> [--quick] [--db pglite|postgres|both] [--rates 10,20,40] [--no-webhook] [--no-statements]');
  process.exit(2);
}
const dbArg = argValue('--db') ?? 'both';
const kinds = dbArg === 'both' ? ['pglite', 'postgres'] : [dbArg];
const rates = argValue('--rates');
const webhook = !process.argv.includes('--no-webhook');
const statements = !process.argv.includes('--no-statements');

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
const hooks = new Map<string, Map<Side, Row[]>>();
const probeBefore = await probeMachine();
for (const [i, kind] of kinds.entries()) {
  // Alternate which side goes first, so a machine growing busier does not always fall on one.
  const order: Side[] = i % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
  const bySide = new Map<Side, Row[]>();
  const hookBySide = new Map<Side, Row[]>();
  for (const side of order) {
    const env = { ...process.env, BENCH_RECORD: '0', ...(side === 'base' ? { BENCH_APP_ROOT: baseDir } : {}) };
    const file = join(out, `${kind}-${side}.json`);
    const args = ['--import', 'tsx', join(root, 'bench', 'server-checkout.bench.ts'), '--db', kind, ...(isQuick ? ['--quick'] : []), ...(rates ? ['--rates', rates] : []), ...(statements ? [] : ['--no-statements'])];
    // Exit 1 means goals missed, which is a figure, not a failure; no JSON means it did not run.
    run(process.execPath, args, root, { ...env, BENCH_JSON_OUT: file });
    if (!existsSync(file)) throw new Error(`the ${side} run on ${kind} wrote no results`);
    bySide.set(side, (JSON.parse(readFileSync(file, 'utf8')) as { rows: Row[] }).rows);
    if (webhook) {
      const hookFile = join(out, `${kind}-${side}-webhook.json`);
      run(process.execPath, ['--import', 'tsx', join(root, 'bench', 'webhook.bench.ts'), '--db', kind, ...(isQuick ? ['--quick'] : [])], root, { ...env, BENCH_JSON_OUT: hookFile });
      if (!existsSync(hookFile)) throw new Error(`the ${side} webhook run on ${kind} wrote no results`);
      hookBySide.set(side, (JSON.parse(readFileSync(hookFile, 'utf8')) as { rows: Row[] }).rows);
    }
  }
  results.set(kind, bySide);
  if (webhook) hooks.set(kind, hookBySide);
}
const probeAfter = await probeMachine();

const lead = (v: unknown) => {
  const m = /-?\d+(?:\.\d+)?/.exec(String(v ?? ''));
  return m ? Number(m[0]) : NaN;
};
const baseCol = `base ${baseSha.slice(0, 7)}`;
const headCol = `head ${headSha.slice(0, 7)}${dirty ? '+' : ''}`;
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
      [baseCol]: b?.shop ?? '—',
      [headCol]: h.shop,
      'base vs floor': b?.['shop/floor'] ?? '—',
      'head vs floor': h['shop/floor'],
      'head/base (first figure)': Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—',
    });
  }
  rows.push(...webhookRows(kind, hooks.get(kind)));
}

/**
 * bench/webhook.bench.ts's rows, side by side: at the closed-loop maximum the acks per second
 * (first, higher is better) with p50 / p99, at the fixed rate the p99 (first, lower is better);
 * each side's "vs floor" against the verify-only floor of its own run.
 */
function webhookRows(kind: string, bySide: Map<Side, Row[]> | undefined): Row[] {
  if (!bySide) return [];
  const out: Row[] = [];
  const find = (side: Side, route: 'floor' | 'webhook', load: string) => bySide.get(side)?.find((r) => r.load === load && (route === 'floor' ? String(r.route).startsWith('floor') : String(r.route).includes('/api/stripe/webhook')));
  const loads = [...new Set((bySide.get('head') ?? []).map((r) => String(r.load)))];
  const num = (v: unknown) => Number(v);
  for (const load of loads) {
    const max = load.startsWith('max');
    const cell = (r: Row | undefined) =>
      !r ? '—' : max ? `${r['acks/s']} acks/s (p50 ${r['p50 ms']} / p99 ${r['p99 ms']} ms, ${r.errors} errors)` : `p99 ${r['p99 ms']} ms (p50 ${r['p50 ms']}; ${r['acks/s']} acks/s, ${r.errors} errors or skipped)`;
    const vsFloor = (side: Side) => {
      const h = find(side, 'webhook', load);
      const f = find(side, 'floor', load);
      if (!h || !f) return '—';
      return max
        ? `${((num(h['acks/s']) / num(f['acks/s'])) * 100).toFixed(0)}% of the floor's acks/s; p50 ${(num(h['p50 ms']) / num(f['p50 ms'])).toFixed(1)}×`
        : `p99 ${(num(h['p99 ms']) / num(f['p99 ms'])).toFixed(1)}×, p50 ${(num(h['p50 ms']) / num(f['p50 ms'])).toFixed(1)}× the floor's`;
    };
    for (const route of ['floor', 'webhook'] as const) {
      const b = find('base', route, load);
      const h = find('head', route, load);
      const first = max ? 'acks/s' : 'p99 ms';
      const ratio = b && h ? num(h[first]) / num(b[first]) : NaN;
      out.push({
        database: kind,
        rate: `webhook, ${load}`,
        measure: route === 'floor' ? 'floor: verify-only route (same server), each side its own run' : `POST /api/stripe/webhook, ${max ? 'acks/s (higher is better)' : 'p99 ms (lower is better)'}`,
        [baseCol]: cell(b),
        [headCol]: cell(h),
        'base vs floor': route === 'floor' ? '—' : vsFloor('base'),
        'head vs floor': route === 'floor' ? '—' : vsFloor('head'),
        'head/base (first figure)': Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—',
      });
    }
  }
  return out;
}

recordResults({
  name: 'compare',
  title: `Before/after: the checkout through the real server, ${baseSha.slice(0, 7)} (base) vs ${headSha.slice(0, 7)}${dirty ? ' with uncommitted changes' : ''} (head), side by side`,
  command: `npx tsx bench/compare.ts --base ${baseArg}${isQuick ? ' --quick' : ''} --db ${dbArg}${rates ? ` --rates ${rates}` : ''}${webhook ? '' : ' --no-webhook'}${statements ? '' : ' --no-statements'}`,
  rows,
  notes: [
    `Each side is a full run of bench/server-checkout.bench.ts (this checkout's code) against that side's app, beside the same floor; the order of the sides alternates per database. Per-run JSON in ${out}.`,
    'Read "vs floor" (each run against the floor measured in the same run) as the comparison on a shared machine; "head/base" compares the first figure of each cell (p50 where a cell has p50 / p99): above 1× is worse for times, CPU and statements, better for acks/s.',
    ...(statements
      ? ["SQL statements per paid checkout: counted in each side's server processes by the same preload (bench/lib/count-statements.mjs through NODE_OPTIONS; neither side's code changed): a Query or Execute message sent through pg or into PGlite is one statement, whoever sends it (Prisma, lib/db, pg-boss, the jobs); BEGIN/COMMIT count, a multi-statement simple Query counts once; statements the database runs inside functions or triggers are not seen. \"1 at a time\" is the uncontended count (one shopper after another, webhooks and jobs included); at a rate, turned-away shoppers' statements are divided over the paid ones; both less the idle statements/s (the job queue's polling) × the window."]
      : []),
    ...(webhook
      ? [`Webhook acks: a full run of bench/webhook.bench.ts${isQuick ? ' --quick' : ''} per side and database (the ack path alone, WORKER_MODE=off; closed loop at 16 in flight and open loop at 500/s, alternating 1 s slices with the verify-only floor on the same server), after that side's checkout run.`]
      : []),
    describeProbes(probeBefore, probeAfter),
  ],
});
