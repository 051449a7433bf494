// `npm run test:mutation [-- <module>...]`: StrykerJS over the code that moves money and stock,
// one module at a time (see stryker.config.mjs), then a score table per module. Not part of
// `npm test`: even restricted to each module's own tests it takes many minutes on a shared host.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MODULES } from '../stryker.config.mjs';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const unknown = args.filter((a) => !(a in MODULES));
if (unknown.length > 0) {
  console.error(`Unknown module(s): ${unknown.join(', ')}. Modules: ${Object.keys(MODULES).join(', ')}`);
  process.exit(2);
}
const modules = args.length > 0 ? args : Object.keys(MODULES);

interface Counts { mutants: number; killed: number; survived: number; timeout: number; noCoverage: number; ignored: number; errors: number }
type Report = { files: Record<string, { mutants: { status: string }[] }> };

function count(report: Report, keep: (file: string) => boolean = () => true): Counts {
  const c: Counts = { mutants: 0, killed: 0, survived: 0, timeout: 0, noCoverage: 0, ignored: 0, errors: 0 };
  for (const [file, { mutants }] of Object.entries(report.files)) {
    if (!keep(file)) continue;
    for (const m of mutants) {
      c.mutants++;
      if (m.status === 'Killed') c.killed++;
      else if (m.status === 'Survived') c.survived++;
      else if (m.status === 'Timeout') c.timeout++;
      else if (m.status === 'NoCoverage') c.noCoverage++;
      else if (m.status === 'Ignored') c.ignored++;
      else c.errors++; // CompileError / RuntimeError: not valid mutants, left out of the score
    }
  }
  return c;
}

/** Stryker's mutation score: detected (killed + timed out) over valid, covered or not. */
const score = (c: Counts) => {
  const valid = c.killed + c.timeout + c.survived + c.noCoverage;
  return valid === 0 ? 'n/a' : `${((100 * (c.killed + c.timeout)) / valid).toFixed(1)} %`;
};
const row = (name: string, c: Counts) =>
  `| ${name} | ${c.mutants} | ${c.killed} | ${c.survived} | ${c.timeout} | ${c.noCoverage} | ${c.ignored} | ${c.errors} | ${score(c)} |`;

let failed = false;
const rows: string[] = [];
for (const name of modules) {
  console.log(`\n=== mutation: ${name} ===`);
  const started = Date.now();
  const r = spawnSync(join(root, 'node_modules', '.bin', 'stryker'), ['run', 'stryker.config.mjs'], {
    cwd: root,
    stdio: 'inherit',
    // With a PostgreSQL server (TEST_DATABASE_URL) each test runner reuses one migrated database,
    // emptied per test file (tests/helpers/db-reuse.ts): several times faster than PGlite here.
    env: { ...process.env, STRYKER_MODULE: name, ...(process.env.TEST_DATABASE_URL ? { TEST_DB_KIND: 'postgres' } : {}) },
  });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const file = join(root, 'reports', 'mutation', name, 'mutation.json');
  if (r.status !== 0 || !existsSync(file)) {
    console.error(`mutation run for ${name} failed (exit ${r.status})`);
    failed = true;
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  rows.push(`${row(name, count(report))} ${minutes} min |`);
}

console.log('\n| module | mutants | killed | survived | timeout | no coverage | ignored (static) | errors | score | run time |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
process.exit(failed ? 1 : 0);
