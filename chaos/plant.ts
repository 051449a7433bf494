// Shows that a chaos scenario's checks can fail: plants a known bug in the product code, builds
// the app with it into a build folder of its own, puts the source back at once (nothing planted
// is ever left in lib/ or read from the environment by product code), and runs the scenario on
// that build. Exit 0 when the scenario caught the bug (it failed), 1 when it held anyway.
//
//   npx tsx chaos/plant.ts <bug> [scenario] [--quick|--full]
//   bugs: stale-pays, no-stray-refund, oversell, email-lost   (default scenario: stale-tabs)
//
// Run it alone: while the bug is planted (the build, a few minutes) any other `npm start`,
// chaos or bench run from this tree would see the sources changed and build them too.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../bench/lib/app-process';
import { buildIfNeeded, sourceHash } from '../scripts/build';

interface Bug {
  file: string;
  find: string;
  replace: string;
  what: string;
}

const BUGS: Record<string, Bug> = {
  // The $6-for-$86 hole: any success on an open order pays it, whichever attempt it belongs to.
  'stale-pays': {
    file: 'lib/orders/payment-decision.ts',
    find: `  if (order.status === 'canceled') return { kind: 'stray', reason: 'order_canceled' };`,
    replace: `  if (order.status === 'canceled') return { kind: 'stray', reason: 'order_canceled' };\n  return { kind: 'pay' };`,
    what: 'a succeeded PaymentIntent of any attempt pays an open order (stale tabs pay)',
  },
  // The stray payment is recorded but its refund is never made at Stripe.
  'no-stray-refund': {
    file: 'lib/orders/remedies.ts',
    find: `  if (row.stripeRefundId) return 'done';`,
    replace: `  if (row.stripeRefundId || row.requestedBy === 'system') return 'done';`,
    what: 'the automatic refund of a stray payment is skipped',
  },
  // Stock is taken on payment whatever other orders hold or what is left.
  oversell: {
    file: 'lib/orders/apply.ts',
    find: `    enough AS (SELECT (SELECT count(*) FROM avail WHERE available >= wanted) = (SELECT count(*) FROM want) AS ok),
    claimed AS (`,
    replace: `    enough AS (SELECT true AS ok),
    claimed AS (`,
    what: 'a payment takes its stock even when it is not there',
  },
  // The crash-lost confirmation this run found: the sweep requeues only `queued` emails.
  'email-lost': {
    file: 'lib/jobs/index.ts',
    find: `where: { status: { in: ['queued', 'sending'] }, createdAt: { lt: before } }`,
    replace: `where: { status: { in: ['queued'] }, createdAt: { lt: before } }`,
    what: 'an email left sending by a killed process is never sent',
  },
};

const [bugName, scenario = 'stale-tabs'] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const bug = BUGS[bugName];
if (!bug) {
  console.error(`usage: npx tsx chaos/plant.ts <${Object.keys(BUGS).join('|')}> [scenario] [--quick|--full]`);
  process.exit(2);
}
const full = process.argv.includes('--full');
const distDir = `.next-plant-${bugName}`;
const path = join(root, bug.file);
const original = readFileSync(path, 'utf8');
if (!original.includes(bug.find)) {
  console.error(`${bug.file} no longer contains the line to plant the bug at; update chaos/plant.ts`);
  process.exit(2);
}
console.log(`Planting "${bugName}" (${bug.what}) in ${bug.file}, building into ${distDir}…`);
writeFileSync(path, original.replace(bug.find, bug.replace));
try {
  buildIfNeeded(distDir, (line) => console.log(line));
} finally {
  writeFileSync(path, original);
}
// The build holds the bug; the sources are clean again. Mark the build as the one to serve so
// the run does not rebuild it from the clean sources.
writeFileSync(join(root, distDir, 'brisk-source-hash'), sourceHash());
console.log(`Source restored (${bug.file} unchanged: ${readFileSync(path, 'utf8') === original}). Running ${scenario} on the planted build…`);
const r = spawnSync(process.execPath, [join(root, 'node_modules/.bin/tsx'), 'chaos/run.ts', ...(full ? [] : ['--quick']), '--only', scenario], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, BRISK_DIST_DIR: distDir },
});
const caught = r.status === 1;
console.log(`\nPlanted bug "${bugName}": ${caught ? 'CAUGHT — the scenario failed (see the violations above)' : `NOT caught — the scenario exited ${r.status}`}`);
process.exit(caught ? 0 : 1);
