// `npm run bench` / `npm run bench:quick`: every benchmark in bench/ (*.bench.ts), one after the
// other in its own process, each appending its dated table to bench/RESULTS.md and its JSON to
// bench/results/. Exits non-zero if any benchmark failed to run.
//   npx tsx bench/run-all.ts [--quick] [--only name,name]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const quick = process.argv.includes('--quick');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1].split(',') : null;
const dir = import.meta.dirname;
const tsx = join(dir, '..', 'node_modules', '.bin', 'tsx');
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort()
  .filter((f) => !only || only.includes(f.replace('.bench.ts', '')));

const summary: { bench: string; seconds: string; result: string }[] = [];
for (const file of benches) {
  console.log(`\n##### ${file}${quick ? ' --quick' : ''}`);
  const started = performance.now();
  const r = spawnSync(process.execPath, [tsx, join('bench', file), ...(quick ? ['--quick'] : [])], { cwd: join(dir, '..'), stdio: 'inherit', env: process.env });
  summary.push({ bench: file, seconds: ((performance.now() - started) / 1000).toFixed(0), result: r.status === 0 ? 'ok' : `FAILED (exit ${r.status ?? r.signal})` });
}
console.log('\nBenchmarks:');
for (const s of summary) console.log(`  ${s.bench.padEnd(28)} ${s.seconds.padStart(5)} s  ${s.result}`);
process.exit(summary.some((s) => s.result !== 'ok') ? 1 : 0);
