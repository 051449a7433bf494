// Mutation testing of the code that moves money and stock (issue #16): `npm run test:mutation`
// runs every module below one after another; `npm run test:mutation -- cart refunds` runs some.
// Stryker reads the module from STRYKER_MODULE (scripts/mutation.ts sets it), so each module's
// run mutates only its own files and runs only its own tests: minutes, not hours, on 2 shared cores.
// Results per module: reports/mutation/<module>/ (HTML + JSON, git-ignored) and bench/RESULTS.md.

/** @type {Record<string, { mutate: string[]; testFiles: string[] }>} */
export const MODULES = {
  cart: {
    mutate: ['lib/cart/**/*.ts', '!lib/cart/**/*.test.ts'],
    testFiles: ['lib/cart/**/*.test.ts'],
  },
  checkout: {
    mutate: ['lib/checkout/**/*.ts', '!lib/checkout/**/*.test.ts'],
    testFiles: ['lib/checkout/**/*.test.ts'],
  },
  orders: {
    mutate: ['lib/orders/**/*.ts', '!lib/orders/**/*.test.ts', '!lib/orders/refunds.ts', '!lib/orders/reconcile.ts'],
    // The module's own tests, refund tests included (they drive applyChargeRefunds). The checkout's,
    // jobs' and integration tests also drive this code, but with them one run was estimated at
    // 5 hours on this host (2026-12-07), so the score is that of lib/orders' tests: a floor.
    testFiles: ['lib/orders/**/*.test.ts'],
  },
  refunds: {
    mutate: ['lib/orders/refunds.ts'],
    // STRYKER_BEFORE=1: only the test that existed before issue #16 (the "before" figure).
    testFiles: process.env.STRYKER_BEFORE ? ['lib/orders/refunds-reconcile.db.test.ts'] : ['lib/orders/refunds*.test.ts'],
  },
  reconciliation: {
    mutate: ['lib/orders/reconcile.ts', 'lib/jobs/reconcile-job.ts'],
    testFiles: ['lib/orders/*reconcile*.test.ts', 'lib/jobs/reconcile-job*.test.ts'],
  },
};

const name = process.env.STRYKER_MODULE ?? 'cart';
const chosen = MODULES[name];
if (!chosen) throw new Error(`Unknown mutation module "${name}"; one of: ${Object.keys(MODULES).join(', ')}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
const config = {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false, pool: 'threads' },
  plugins: ['@stryker-mutator/vitest-runner'],
  // STRYKER_MUTATE=a.ts,b.ts narrows a module's run to some of its files (a partial measurement).
  mutate: process.env.STRYKER_MUTATE ? process.env.STRYKER_MUTATE.split(',') : chosen.mutate,
  testFiles: chosen.testFiles,
  coverageAnalysis: 'perTest',
  // 2 cores shared with other work: two test runners at most, generous timeouts against a loaded host.
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
  timeoutMS: 20_000,
  timeoutFactor: 2.5,
  // Static mutants (module-level constants) need a full reload and all tests per mutant; they are
  // counted as "ignored" and the few that matter (limits such as MAX_LINE_QUANTITY) are tested directly.
  ignoreStatic: process.env.STRYKER_IGNORE_STATIC !== '0',
  incremental: true,
  incrementalFile: `reports/mutation/${name}/incremental.json`,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}/index.html` },
  jsonReporter: { fileName: `reports/mutation/${name}/mutation.json` },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: false },
  tempDirName: `.stryker-tmp/${name}`,
  // The sandbox is a copy of the repo; leave out what the Vitest tests never read.
  ignorePatterns: ['.stryker-tmp', '.next', '.next-*', '.data', '.scratch', 'test-results', 'playwright-report', 'reports', 'e2e', 'chaos', 'bench', 'public', 'app', 'components', 'pages'],
  thresholds: { high: 90, low: 80, break: null },
};

export default config;
