// One Prisma client for either database: PGlite (in-process, files under DATA_DIR) when
// DATABASE_URL is unset, PostgreSQL through @prisma/adapter-pg when it is set. This file opens
// databases; which one a process uses is decided once, in lib/services.ts.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '@/lib/generated/prisma/client';
import { logger } from '@/lib/observability/logger';
import { PGLITE_PARSERS, pgKysely, pgliteKysely, pgTransactions, type Db } from './query';
import { kyselyDatabase, registerSqlDatabase } from './sql';

export type { PrismaClient };

export interface Database {
  kind: 'pglite' | 'postgres';
  prisma: PrismaClient;
  /** Typed hand-written SQL (lib/db/query.ts), on Prisma's connections. */
  db: Db;
  /** The PGlite instance, for pg-boss's PGlite backend (embedded mode only). */
  pglite?: PGlite;
  /** The connection string (PostgreSQL mode only). */
  url?: string;
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** postgresql:// URL; when absent, PGlite. */
  url?: string;
  /** PGlite data directory, or `memory://` for an in-memory database. */
  dataDir?: string;
  /** A PGlite data directory dump (tar) to start from, e.g. an already migrated template. */
  loadDataDir?: Blob;
  poolMax?: number;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (opts.url) {
    // One pool, shared by Prisma and the typed path (lib/db/query.ts).
    // Pipelining: a query issued while another is in flight is sent at once rather than after
    // it answers (the server still runs them in order); what awaits each query sees no change.
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolMax ?? 10, pipeline: true } as pg.PoolConfig);
    // An idle connection the server closes (a restart, a dropped database) is discarded by the
    // pool and the next query opens a new one; without a listener the error would crash us.
    pool.on('error', (err) => logger().warn({ err: err.message }, 'idle database connection closed'));
    const adapterFactory = new PrismaPg(pool);
    const prisma = new PrismaClient({ adapter: adapterFactory });
    const db = pgKysely(pool, pg.types);
    registerSqlDatabase(prisma, kyselyDatabase(db, 'postgres', pgTransactions(pool, pg.types)));
    return {
      kind: 'postgres',
      prisma,
      db,
      url: opts.url,
      adapterFactory,
      close: async () => {
        await prisma.$disconnect();
        await pool.end();
      },
    };
  }
  const dataDir = opts.dataDir ?? 'memory://';
  // PGlite does not create missing parent folders.
  if (!dataDir.startsWith('memory://')) mkdirSync(resolve(/*turbopackIgnore: true*/ dataDir), { recursive: true });
  const pglite = await PGlite.create(dataDir, { parsers: PGLITE_PARSERS, ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}) });
  const adapterFactory = new PrismaPGlite(pglite) as unknown as SqlMigrationAwareDriverAdapterFactory;
  const prisma = new PrismaClient({ adapter: adapterFactory as never });
  const db = pgliteKysely(pglite);
  registerSqlDatabase(prisma, kyselyDatabase(db, 'pglite'));
  return {
    kind: 'pglite',
    prisma,
    db,
    pglite,
    adapterFactory,
    close: async () => {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}

/**
 * The adapter factory for running migrations. On PostgreSQL it uses a single connection:
 * the engine's advisory lock must be released on the session that took it.
 */
export function migrationFactory(database: Database): { factory: SqlMigrationAwareDriverAdapterFactory; close(): Promise<void> } {
  if (database.kind === 'pglite') return { factory: database.adapterFactory, close: async () => {} };
  const pool = openSidePool(database.url!, 1, 'migration');
  return { factory: new PrismaPg(pool), close: () => pool.end() };
}

export function pgliteDataDir(dataRoot: string): string {
  return join(resolve(/*turbopackIgnore: true*/ dataRoot), 'pglite');
}

/**
 * A small pool beside a Database's own, for work that must not queue behind its queries (the
 * Stripe rate budget's checks) or needs a session of its own (a migration's advisory lock).
 */
export function openSidePool(url: string, max: number, purpose: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', (err) => logger().warn({ err: err.message }, `idle ${purpose} connection closed`));
  return pool;
}
