// Mutation runs only (vitest.mutation.config.ts aliases '@/tests/helpers/db' here). Stryker runs
// a module's test files again for every mutant, each time in a new Vitest worker, and a fresh
// database per file per mutant (PGlite opened from the template, or CREATE DATABASE + migrations)
// cost seconds against milliseconds for the tests themselves. With TEST_DB_KIND=postgres this
// hands every test file the same already-migrated database (one per Stryker test runner,
// made by db-reuse-setup.ts), emptied first: every table but the migrations record truncated
// and pg-boss's schema dropped, which is what createTestDatabase promises (migrated, no rows).
// On PGlite it is the ordinary helper (correct, only slower).
import pg from 'pg';
import { openDatabase } from '@/lib/db/client';
import * as real from './db.ts';

export const testDbKind = real.testDbKind;
type TestDatabase = Awaited<ReturnType<typeof real.createTestDatabase>>;

/** The database db-reuse-setup.ts migrated for this Stryker test runner. */
export function reusedDatabaseUrl(): string {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DB_KIND=postgres needs TEST_DATABASE_URL');
  const url = new URL(base);
  url.pathname = `/brisk_mutation_${process.env.STRYKER_MUTATOR_WORKER ?? 'x'}`;
  return url.toString();
}

const EMPTY = `
  DROP SCHEMA IF EXISTS pgboss CASCADE;
  DO $$ DECLARE t text; BEGIN
    SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') INTO t
      FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations';
    IF t IS NOT NULL THEN EXECUTE 'TRUNCATE ' || t || ' RESTART IDENTITY CASCADE'; END IF;
  END $$;`;

export async function createTestDatabase(kind: 'pglite' | 'postgres' = testDbKind, opts: { poolMax?: number } = {}): Promise<TestDatabase> {
  if (kind !== 'postgres') return real.createTestDatabase(kind, opts);
  const url = reusedDatabaseUrl();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(EMPTY);
  } finally {
    await client.end();
  }
  const database = await openDatabase({ url, poolMax: opts.poolMax ?? 5 });
  return { ...database, drop: () => database.close() };
}
