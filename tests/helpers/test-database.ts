// The database of one test file: opened (fresh and migrated, see ./db.ts) before its tests and
// dropped after them, instead of the same beforeAll/afterAll pair in every file.
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase } from './db';

export type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

/**
 * `const database = databaseForThisFile()` at the top of a file; read `database.prisma` (and the rest)
 * inside tests and hooks, once the file's beforeAll has opened it. `setup` runs right after.
 */
export function databaseForThisFile(setup?: (database: TestDatabase) => Promise<unknown>): TestDatabase {
  let current: TestDatabase | undefined;
  beforeAll(async () => {
    current = await createTestDatabase();
    await setup?.(current);
  });
  afterAll(() => current?.drop());
  return new Proxy({} as TestDatabase, {
    get(_, key) {
      if (!current) throw new Error('the test database opens in beforeAll: use it inside a test or a hook');
      return Reflect.get(current, key, current);
    },
  });
}
