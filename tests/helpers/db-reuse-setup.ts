// Global setup of vitest.mutation.config.ts: on PostgreSQL, (re)creates and migrates the one
// database this Stryker test runner's test files share (see db-reuse.ts); on PGlite, the usual
// migrated template.
import pg from 'pg';
import { migrationFactory, openDatabase } from '@/lib/db/client';
import { applyMigrations } from '@/lib/db/migrate';
import pgliteTemplate from '../global-setup';
import { reusedDatabaseUrl, testDbKind } from './db-reuse';

export default async function setup(): Promise<void | (() => void)> {
  if (testDbKind !== 'postgres') return pgliteTemplate();
  const url = reusedDatabaseUrl();
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const database = await openDatabase({ url, poolMax: 1 });
  const m = migrationFactory(database);
  await applyMigrations(m.factory);
  await m.close();
  await database.close();
}
