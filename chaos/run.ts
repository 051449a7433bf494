// `npm run chaos` / `npm run chaos:quick`: scenarios that try hard to break Brisk's promises —
// no double charges, no lost payments, exactly-once side effects — each stating its invariant,
// checking it against our database and the emulator's records, printing its figures, and
// failing the run (exit 1) on any violation.
//   npx tsx chaos/run.ts [--quick] [--only name,name] [--skip name,name]
// The real app runs as child processes (production build in .next-bench, or BRISK_DIST_DIR);
// PostgreSQL scenarios (scale-out, stale-tabs-pg) create and drop their own databases on
// CHAOS_DATABASE_URL's server (default postgresql://postgres@127.0.0.1:5432/postgres).
// Everything is bound to 127.0.0.1; CHAOS_PORTS=3500-3599 and CHAOS_EMULATOR_PORTS=12500-12599
// keep the app, mailbox and emulator to those ranges (default: any free port).
import { rmSync } from 'node:fs';
import { BENCH_DIST_DIR, cleanupAll, runDir } from '../bench/lib/app-process';
import { buildIfNeeded } from '../scripts/build';
import { formatTable } from '../bench/lib/results';
import type { Scenario, ScenarioResult } from './lib/harness';
import { checkoutsScenario } from './scenarios/checkouts';
import { eventOrderingsScenario } from './scenarios/event-orderings';
import { scaleOutScenario } from './scenarios/scale-out';
import { staleTabsPostgresScenario, staleTabsScarceScenario, staleTabsScenario } from './scenarios/stale-tabs';
import { stripeOutageScenario } from './scenarios/stripe-outage';
import { webhookKillsScenario } from './scenarios/webhook-kills';

process.env.LOG_LEVEL ??= 'warn';
const quick = process.argv.includes('--quick') || process.env.CHAOS_QUICK === '1';
const onlyArg = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1].split(',') : null;

/** Scenarios that run the product code in this process, not a built app. */
const IN_PROCESS = ['event-orderings'];

const ALL: Scenario[] = [
  eventOrderingsScenario,
  checkoutsScenario,
  webhookKillsScenario,
  scaleOutScenario,
  stripeOutageScenario,
  staleTabsScenario,
  staleTabsScarceScenario,
  staleTabsPostgresScenario,
];
const skipArg = process.argv.includes('--skip') ? process.argv[process.argv.indexOf('--skip') + 1].split(',') : [];
const scenarios = (onlyArg ? ALL.filter((s) => onlyArg.includes(s.name)) : ALL).filter((s) => !skipArg.includes(s.name));
if (scenarios.length === 0) {
  console.error(`no such scenario; choose from ${ALL.map((s) => s.name).join(', ')}`);
  process.exit(2);
}

// Build once up front (scripts/start.ts would otherwise do it inside the first scenario);
// event-orderings runs the code in this process and needs no build.
if (scenarios.some((s) => !IN_PROCESS.includes(s.name))) buildIfNeeded(BENCH_DIST_DIR, (line) => console.log(line));
const dir = runDir(`chaos${quick ? '-quick' : ''}`);
console.log(`Chaos run (${quick ? 'quick' : 'full'}): ${scenarios.map((s) => s.name).join(', ')}; logs in ${dir}`);
const results: ScenarioResult[] = [];
const t0 = performance.now();
for (const s of scenarios) {
  console.log(`\n=== ${s.name} ===\nInvariant: ${s.invariant}`);
  const started = performance.now();
  let r: { figures: Record<string, string | number>; violations: string[] };
  try {
    r = await s.run({ quick, dir, log: (line) => console.log(`  [${s.name} ${((performance.now() - started) / 1000).toFixed(0)}s] ${line}`) });
  } catch (err) {
    r = { figures: {}, violations: [`the scenario crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`] };
  }
  await cleanupAll();
  const result: ScenarioResult = { name: s.name, invariant: s.invariant, ...r, seconds: (performance.now() - started) / 1000 };
  results.push(result);
  console.log(formatTable(Object.entries(result.figures).map(([figure, value]) => ({ figure, value }))));
  if (result.violations.length) console.log(`VIOLATED (${result.violations.length}):\n${result.violations.map((v) => `  - ${v}`).join('\n')}`);
  else console.log(`held (${result.seconds.toFixed(0)} s)`);
}

console.log(`\n=== Summary (${((performance.now() - t0) / 1000).toFixed(0)} s) ===`);
console.log(formatTable(results.map((r) => ({ scenario: r.name, result: r.violations.length ? `VIOLATED ×${r.violations.length}` : 'held', seconds: r.seconds.toFixed(0) }))));
const failed = results.some((r) => r.violations.length > 0);
if (!failed) rmSync(dir, { recursive: true, force: true });
else console.log(`Logs kept in ${dir}`);
process.exit(failed ? 1 : 0);
