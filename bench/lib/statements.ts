// Reading what bench/lib/count-statements.mjs (a preload given to an app's processes) counted:
// the SQL statements they sent, in total, pipelined (pg), and by first word.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The preload, as NODE_OPTIONS takes it: `--import <url>`, with BRISK_COUNT_STATEMENTS_DIR set. */
export const STATEMENT_COUNTER = pathToFileURL(join(import.meta.dirname, 'count-statements.mjs')).href;

export interface StatementTotals {
  statements: number;
  pipelined: number;
  byKind: Record<string, number>;
}

/** The environment that makes an app's processes count their statements into `dir`. */
export function countingEnv(dir: string, nodeOptions = process.env.NODE_OPTIONS ?? ''): Record<string, string> {
  return { BRISK_COUNT_STATEMENTS_DIR: dir, NODE_OPTIONS: `${nodeOptions} --import ${STATEMENT_COUNTER}`.trim() };
}

/** Every process's totals so far, summed (a file per process). */
export function statementTotals(dir: string): StatementTotals {
  const sum: StatementTotals = { statements: 0, pipelined: 0, byKind: {} };
  if (!existsSync(dir)) return sum;
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    let t: StatementTotals;
    try {
      t = JSON.parse(readFileSync(join(dir, f), 'utf8')) as StatementTotals;
    } catch {
      continue; // caught mid-write: its next write has it
    }
    sum.statements += t.statements;
    sum.pipelined += t.pipelined;
    for (const [k, n] of Object.entries(t.byKind)) sum.byKind[k] = (sum.byKind[k] ?? 0) + n;
  }
  return sum;
}

export function statementsBetween(a: StatementTotals, b: StatementTotals): StatementTotals {
  const byKind: Record<string, number> = {};
  for (const [k, n] of Object.entries(b.byKind)) if (n - (a.byKind[k] ?? 0) > 0) byKind[k] = n - (a.byKind[k] ?? 0);
  return { statements: b.statements - a.statements, pipelined: b.pipelined - a.pipelined, byKind };
}

/** The counts of `t` less `perS` (idle statements per second) × `seconds`, kind by kind. */
export function lessIdle(t: StatementTotals, perS: StatementTotals, seconds: number): StatementTotals {
  const byKind: Record<string, number> = {};
  for (const [k, n] of Object.entries(t.byKind)) byKind[k] = n - (perS.byKind[k] ?? 0) * seconds;
  return { statements: t.statements - perS.statements * seconds, pipelined: t.pipelined - perS.pipelined * seconds, byKind };
}

/** Counts per second over `seconds`. */
export function perSecond(t: StatementTotals, seconds: number): StatementTotals {
  const byKind: Record<string, number> = {};
  for (const [k, n] of Object.entries(t.byKind)) byKind[k] = n / seconds;
  return { statements: t.statements / seconds, pipelined: t.pipelined / seconds, byKind };
}

/** "23.0 (pipelined 4.0; SELECT 9.0, BEGIN 4.0, …)", per `per` (paid checkouts). */
export function describeStatements(t: StatementTotals, per: number, kind: 'pglite' | 'postgres'): string {
  const d = Math.max(1, per);
  const kinds = Object.entries(t.byKind)
    .filter(([, n]) => n / d >= 0.05)
    .sort((x, y) => y[1] - x[1])
    .map(([k, n]) => `${k} ${(n / d).toFixed(1)}`)
    .join(', ');
  return `${(t.statements / d).toFixed(1)} (${kind === 'postgres' ? `pipelined ${(t.pipelined / d).toFixed(1)}; ` : ''}${kinds})`;
}
