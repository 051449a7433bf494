// Mutation runs only (vitest.mutation.config.ts aliases '@/tests/helpers/db' here). Stryker runs
// a module's test files again for every mutant, each time in a new Vitest worker, and a fresh
// database per file per mutant (PGlite opened from the template, or CREATE DATABASE + migrations)
// cost seconds against milliseconds for the tests themselves. With TEST_DB_KIND=postgres this
// hands every test file the same already-migrated database (one per Stryker test runner,
// made by db-reuse-setup.ts), emptied first: every row of every table but the migrations record deleted
// and pg-boss's schema dropped, which is what createTestDatabase promises (migrated, no rows).
// On PGlite it is the ordinary helper (correct, only slower).
import pg from 'pg';
import { openDatabase } from '@/lib/db/client';
import * as real from './db';

export const testDbKind = real.testDbKind;
type TestDatabase = Awaited<ReturnType<typeof real.createTestDatabase>>;

/** The database db-reuse-setup.ts migrated for this Stryker test runner. */
export function reusedDatabaseUrl(): string {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DB_KIND=postgres needs TEST_DATABASE_URL');
  const url = new URL(base);
  // One per module and test runner: two modules' runs side by side must not share (or drop) one.
  // Named after TEST_DATABASE_URL's database, so runs given different databases (people sharing
  // one server, each with their own prefix) never drop each other's.
  const tag = (process.env.STRYKER_MODULE ?? 'any').replace(/[^a-z0-9]/gi, '_').toLowerCase();
  const prefix = url.pathname.slice(1).replace(/[^a-z0-9_]/gi, '_').toLowerCase() || 'brisk';
  url.pathname = `/${prefix}_mutation_${tag}_${process.env.STRYKER_MUTATOR_WORKER ?? 'x'}`;
  return url.toString();
}

// DELETE with foreign-key triggers off (session_replication_role = replica, as the superuser the
// test server's trust auth gives) empties a few rows per table several times faster than TRUNCATE,
// which makes new files for every table and index. No table has a sequence to reset.
const EMPTY = `
  DROP SCHEMA IF EXISTS pgboss CASCADE;
  SET session_replication_role = replica;
  DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' LOOP
      EXECUTE format('DELETE FROM public.%I', r.tablename);
    END LOOP;
  END $$;
  SET session_replication_role = DEFAULT;`;

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
