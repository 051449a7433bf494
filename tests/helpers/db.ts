// A fresh, migrated database for one test file: in-memory PGlite by default, or a new
// PostgreSQL database on the server of TEST_DATABASE_URL when TEST_DB_KIND=postgres.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { migrationFactory, openDatabase, type Database } from '@/lib/db/client';
import { applyMigrations } from '@/lib/db/migrate';

export const testDbKind = process.env.TEST_DB_KIND === 'postgres' ? 'postgres' : 'pglite';

/** `kind` defaults to TEST_DB_KIND as it was when this module loaded (benchmarks pass it). */
export async function createTestDatabase(kind: 'pglite' | 'postgres' = testDbKind, opts: { poolMax?: number } = {}): Promise<Database & { drop(): Promise<void> }> {
  if (kind === 'pglite') {
    const template = process.env.BRISK_PGLITE_TEMPLATE;
    const database = await openDatabase({ dataDir: 'memory://', loadDataDir: template ? new Blob([readFileSync(template)]) : undefined });
    if (!template) await applyMigrations(database.adapterFactory);
    return { ...database, drop: () => database.close() };
  }
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DB_KIND=postgres needs TEST_DATABASE_URL');
  const name = `brisk_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), poolMax: opts.poolMax ?? 5 });
  const m = migrationFactory(database);
  await applyMigrations(m.factory);
  await m.close();
  return {
    ...database,
    drop: async () => {
      await database.close();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
