// Shared by every benchmark: print figures, append a dated section to bench/RESULTS.md
// and write the raw figures as JSON to bench/results/, always with the command that made them.
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';

const benchDir = join(import.meta.dirname, '..');

export type Row = Record<string, string | number>;

export function formatTable(rows: Row[]): string {
  if (rows.length === 0) return '(no rows)\n';
  const cols = Object.keys(rows[0]);
  const head = `| ${cols.join(' | ')} |\n| ${cols.map(() => '---').join(' | ')} |\n`;
  return head + rows.map((r) => `| ${cols.map((c) => String(r[c] ?? '')).join(' | ')} |`).join('\n') + '\n';
}

export function recordResults(opts: {
  name: string;
  title: string;
  command: string;
  rows: Row[];
  notes?: string[];
  data?: unknown;
}): void {
  const stamp = new Date().toISOString();
  const table = formatTable(opts.rows);
  const section =
    `\n## ${opts.title} — ${stamp.slice(0, 16).replace('T', ' ')} UTC\n\n` +
    `Command: \`${opts.command}\`  \nMachine: ${process.platform} ${process.arch}, Node ${process.version}, ` +
    `${availableParallelism()} cores\n\n` +
    table +
    (opts.notes?.length ? '\n' + opts.notes.map((n) => `- ${n}`).join('\n') + '\n' : '');
  process.stdout.write(section);
  // BENCH_JSON_OUT: the rows also go to this file (bench/compare.ts reads them).
  if (process.env.BENCH_JSON_OUT) writeFileSync(process.env.BENCH_JSON_OUT, JSON.stringify({ name: opts.name, command: opts.command, at: stamp, rows: opts.rows }, null, 2));
  // BENCH_RECORD=0: print only (trying a runner out on a busy machine).
  if (process.env.BENCH_RECORD === '0') return;
  const resultsMd = join(benchDir, 'RESULTS.md');
  if (!existsSync(resultsMd)) writeFileSync(resultsMd, '# Benchmark results\n\nEach section is appended by the benchmark named in its command.\n');
  appendFileSync(resultsMd, section);
  const dir = join(benchDir, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, `${opts.name}-${stamp.replace(/[:.]/g, '-')}.json`),
    JSON.stringify({ name: opts.name, command: opts.command, at: stamp, rows: opts.rows, data: opts.data ?? null }, null, 2),
  );
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export const isQuick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';

/** The cells of `rows` that judged a goal missed ("NOT met", "MISSED"), described for the log. */
export function missedGoals(rows: Row[]): string[] {
  const missed: string[] = [];
  for (const r of rows) {
    for (const [col, v] of Object.entries(r)) {
      if (typeof v === 'string' && /\bNOT met\b|\bMISSED\b/.test(v)) {
        const what = Object.entries(r)
          .filter(([k, x]) => k !== col && typeof x === 'string' && x.length <= 40)
          .slice(0, 3)
          .map(([, x]) => x)
          .join(', ');
        missed.push(`${what}: ${col} — ${v}`);
      }
    }
  }
  return missed;
}

/**
 * Ends a benchmark: exit 1 when any goal was missed, 0 otherwise. A benchmark is not a test
 * (it is not part of `npm test`), but a missed goal must never read as success to a script.
 */
export function exitForGoals(missed: string[]): never {
  if (missed.length > 0) {
    console.error(`\nGoal NOT met (${missed.length}):\n${missed.map((m) => `  - ${m}`).join('\n')}`);
    process.exit(1);
  }
  console.log('\nEvery goal met.');
  process.exit(0);
}
