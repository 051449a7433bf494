// Vitest as Stryker drives it (stryker.config.mjs): the same tests, but with TEST_DB_KIND=postgres
// every test file gets one already-migrated database, emptied, instead of a new one per file per
// mutant (tests/helpers/db-reuse.ts): creating databases was nearly all of a mutant's run time.
import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default mergeConfig(
  { ...base, test: { ...base.test, globalSetup: [] } },
  defineConfig({
    resolve: { alias: [{ find: /^@\/tests\/helpers\/db$/, replacement: here('./tests/helpers/db-reuse.ts') }] },
    test: { globalSetup: [here('./tests/helpers/db-reuse-setup.ts')], fileParallelism: false },
  }),
);
