// Shows that a chaos scenario's checks can fail: plants a known bug in the product code, builds
// the app with it into a build folder of its own, puts the source back at once (nothing planted
// is ever left in lib/ or read from the environment by product code), and runs the scenario on
// that build. Exit 0 when the scenario caught the bug (it failed), 1 when it held anyway.
//
//   npx tsx chaos/plant.ts <bug> [scenario] [--quick|--full]
//   bugs: stale-pays, no-stray-refund, oversell, email-lost, email-unsent, lost-webhook,
//   refund-double-booked (each has a default scenario, below)
// event-orderings runs the product code in this process: for it the bug stays planted in the
// source while the scenario runs (no build), and is taken out when it ends.
//
// Run it alone: while the bug is planted (the build, a few minutes) any other `npm start`,
// chaos or bench run from this tree would see the sources changed and build them too.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../bench/lib/app-process';
import { buildIfNeeded, sourceHash } from '../scripts/build';

interface Bug {
  file: string;
  find: string;
  replace: string;
  what: string;
  /** The scenario that should catch it, when none is named. */
  scenario?: string;
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
    scenario: 'stale-tabs-scarce',
  },
  // The crash-lost confirmation this run found: the sweep requeues only `queued` emails.
  'email-lost': {
    file: 'lib/jobs/index.ts',
    find: `where: { status: { in: ['queued', 'sending'] }, createdAt: { lt: before } }`,
    replace: `where: { status: { in: ['queued'] }, createdAt: { lt: before } }`,
    what: 'an email left sending by a killed process is never sent',
  },
  // The row says sent, the mailbox never got it: a quarter of the confirmations are not handed
  // to the mail server. Email rows alone (unique keys, status sent) cannot tell.
  'email-unsent': {
    file: 'lib/jobs/email.ts',
    find: `    await mailer.send({ to: email.to, subject: email.subject, text: email.text, html: email.html, messageId: messageIdFor(email.id) });`,
    replace: `    if (!/^[0-3]/.test(email.orderId ?? '')) await mailer.send({ to: email.to, subject: email.subject, text: email.text, html: email.html, messageId: messageIdFor(email.id) });`,
    what: 'a confirmation email is marked sent without being handed to the mail server (orders whose id starts 0-3)',
    scenario: 'checkouts',
  },
  // Stripe's success events of one PaymentIntent in six are acknowledged and dropped: only the
  // order page or reconciliation would ever learn that the payment went through.
  'lost-webhook': {
    file: 'lib/orders/webhook.ts',
    find: `  if (!isWellFormedEvent(event)) return { status: 400, body: { error: 'malformed event' } };`,
    replace: `  if (!isWellFormedEvent(event)) return { status: 400, body: { error: 'malformed event' } };
  { const o = event.data.object as { object?: string; id?: string; payment_intent?: string }; const pi = o.object === 'payment_intent' ? o.id : o.payment_intent;
    if (event.type.endsWith('succeeded') && /[0-9]$/.test(String(pi))) return { status: 200, body: { received: true } }; }`,
    what: "the success webhooks of PaymentIntents whose id ends in a digit are acknowledged and dropped (healed only by the order page or reconciliation)",
    scenario: 'checkouts',
  },
  // Every refund is booked at the payment's whole amount: a partial refund of $10 of $48 goes
  // on the ledger as $48, and the order is refunded twice over on our books. Deterministic, so
  // every shuffled replay agrees with the in-order one; only absolute values catch it.
  'refund-double-booked': {
    file: 'lib/orders/apply.ts',
    find: `          [ofSale ? ACCOUNTS.refunds : ACCOUNTS.unexpectedPayments, re.amount],
          [ACCOUNTS.stripeBalance, -re.amount],`,
    replace: `          [ofSale ? ACCOUNTS.refunds : ACCOUNTS.unexpectedPayments, pi.amount],
          [ACCOUNTS.stripeBalance, -pi.amount],`,
    what: 'each refund is booked on the ledger at the whole payment, not its own amount',
    scenario: 'event-orderings',
  },
};

/** Scenarios that run the product code in this process (no build). */
const IN_PROCESS = new Set(['event-orderings']);

const [bugName, scenarioArg] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
// Several bugs at once ("a+b"): one build, each caught by its own check (their violations differ).
const bugs = (bugName ?? '').split('+').map((name) => BUGS[name]);
if (!bugName || bugs.some((b) => !b)) {
  console.error(`usage: npx tsx chaos/plant.ts <${Object.keys(BUGS).join('|')}>[+<bug>…] [scenario] [--quick|--full]`);
  process.exit(2);
}
const scenario = scenarioArg ?? bugs[0].scenario ?? 'stale-tabs';
const full = process.argv.includes('--full');
const distDir = `.next-plant-${bugName.replace(/\+/g, '-')}`;
const originals = new Map<string, string>();
for (const bug of bugs) originals.set(bug.file, readFileSync(join(root, bug.file), 'utf8'));
for (const bug of bugs) {
  if (!originals.get(bug.file)!.includes(bug.find)) {
    console.error(`${bug.file} no longer contains the line to plant the bug at; update chaos/plant.ts`);
    process.exit(2);
  }
}
const what = bugs.map((b) => `${b.what} (${b.file})`).join('; ');
const plant = () => {
  const planted = new Map(originals);
  for (const bug of bugs) planted.set(bug.file, planted.get(bug.file)!.replace(bug.find, bug.replace));
  for (const [file, text] of planted) writeFileSync(join(root, file), text);
};
const restore = () => {
  for (const [file, text] of originals) writeFileSync(join(root, file), text);
};
const restored = () => [...originals].every(([file, text]) => readFileSync(join(root, file), 'utf8') === text);

if (IN_PROCESS.has(scenario)) {
  console.log(`Planting "${bugName}": ${what}, for the in-process scenario ${scenario}…`);
  plant();
  let status: number | null = null;
  try {
    // The source goes back as soon as the run has loaded it (its first scenario header), so no
    // other run or build from this tree sees it for longer than that.
    const child = spawn(process.execPath, [join(root, 'node_modules/.bin/tsx'), 'chaos/run.ts', ...(full ? [] : ['--quick']), '--only', scenario], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      if (chunk.toString().includes('=== ')) restore();
    });
    status = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  } finally {
    restore();
  }
  console.log(`\nPlanted bug "${bugName}" (source restored: ${restored()}): ${status === 1 ? 'CAUGHT — the scenario failed (see the violations above)' : `NOT caught — the scenario exited ${status}`}`);
  process.exit(status === 1 ? 0 : 1);
}
console.log(`Planting "${bugName}": ${what}; building into ${distDir}…`);
plant();
try {
  buildIfNeeded(distDir, (line) => console.log(line));
} finally {
  restore();
}
// The build holds the bug; the sources are clean again. Mark the build as the one to serve so
// the run does not rebuild it from the clean sources.
writeFileSync(join(root, distDir, 'brisk-source-hash'), sourceHash());
console.log(`Source restored (${restored()}). Running ${scenario} on the planted build…`);
const r = spawnSync(process.execPath, [join(root, 'node_modules/.bin/tsx'), 'chaos/run.ts', ...(full ? [] : ['--quick']), '--only', scenario], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, BRISK_DIST_DIR: distDir },
});
const caught = r.status === 1;
console.log(`\nPlanted bug "${bugName}": ${caught ? 'CAUGHT — the scenario failed (see the violations above)' : `NOT caught — the scenario exited ${r.status}`}`);
process.exit(caught ? 0 : 1);
