// Which Kysely a statement runs on: the database behind a PrismaClient (lib/db/query.ts's
// drivers, on pg's pool shared with Prisma or on the PGlite instance, every statement a named
// prepared statement), one of its transactions, or a Prisma interactive transaction. Hand-written
// SQL is Kysely's — its builder, typed from prisma/schema.prisma, and its `sql` tag where the
// builder cannot say it — run on `sqlOf(db).kysely`. Everything else keeps using Prisma.
//
// Rows come back alike on either driver: timestamps as UTC Dates, json parsed, and int8 (counts)
// as numbers. Dates are sent as UTC ISO strings: every timestamp column is `timestamp(3)` without
// time zone, holding UTC as Prisma writes it. A parameter whose type PostgreSQL cannot infer from
// where it stands needs a cast in the SQL (`${now}::timestamp`).
//
// Inside a Prisma interactive transaction the statements go through that transaction: one path
// per transaction, since on PGlite a second path would wait for the transaction holding the only
// backend.
import type { Prisma, PrismaClient } from '@/lib/generated/prisma/client';
import { prismaTxKysely, processWide, type Db } from './query';

// A brand in the global symbol registry: Next.js instantiates this module more than once
// (instrumentation, which opens the database, and the route bundles), and a handle made by one
// copy must be recognised by another.
const SQL = Symbol.for('brisk.sql');

/** A connection or transaction to write statements on. */
export interface Sql {
  readonly [SQL]: true;
  /** The connection (or transaction) as a typed Kysely. */
  readonly kysely: Db;
}

export interface SqlDatabase extends Sql {
  readonly driver: 'postgres' | 'pglite' | 'prisma';
  /**
   * True when transactions can never run side by side (PGlite has one backend, and every
   * transaction holds it until it ends): a row lock there is never contended, so callers may
   * skip a statement whose only purpose is to take one.
   */
  readonly serialTransactions: boolean;
  /**
   * BEGIN … COMMIT around `fn`; ROLLBACK and rethrow when it throws. On PostgreSQL statements
   * started together (`Promise.all`) are pipelined: sent at once, run one after the other in
   * the order started, each with its own snapshot — one round trip.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
}

const handle = (kysely: Db): Sql => ({ [SQL]: true, kysely });

/**
 * A Kysely database as the app's: one driver, one set of prepared statements. `transactions`,
 * when given, runs each transaction as a Kysely of its own (PostgreSQL: pgTransactions in
 * lib/db/query.ts, which pipelines); without it, Kysely's transaction().
 */
export function kyselyDatabase(db: Db, kind: 'postgres' | 'pglite', transactions?: <T>(fn: (trx: Db) => Promise<T>) => Promise<T>): SqlDatabase {
  return {
    ...handle(db),
    driver: kind,
    serialTransactions: kind === 'pglite',
    // Kysely's own transaction() sends each statement after the previous one answered, which
    // would undo PostgreSQL's pipelining. PGlite: the transaction holds PGlite's lock;
    // statements started together take turns.
    transaction: transactions ? (fn) => transactions((trx) => fn(handle(trx))) : (fn) => db.transaction().execute((trx) => fn(handle(trx))),
  };
}

// ---- Prisma (a client no driver was registered for: statements through Prisma's own raw queries) ----

function prismaDatabase(prisma: PrismaClient): SqlDatabase {
  return {
    [SQL]: true,
    get kysely() {
      return prismaTxKysely(prisma);
    },
    driver: 'prisma',
    serialTransactions: false,
    transaction: (fn) => prisma.$transaction((tx) => fn(prismaSql(tx)), { maxWait: 20_000, timeout: 20_000 }),
  };
}

// One Kysely per Prisma transaction client, however often it is asked for.
const prismaKyselies = new WeakMap<object, Sql>();
function prismaSql(tx: Prisma.TransactionClient): Sql {
  let s = prismaKyselies.get(tx);
  if (!s) prismaKyselies.set(tx, (s = handle(prismaTxKysely(tx))));
  return s;
}

// ---- which one ----

// Process-wide: a registry per module copy left every route on the Prisma fallback in production.
const registry = processWide<object, SqlDatabase>('brisk.sqlRegistry');

/** Called where a PrismaClient is opened: its direct driver, sharing its connections. */
export function registerSqlDatabase(prisma: PrismaClient, database: SqlDatabase): void {
  registry.set(prisma, database);
}

/** The direct driver behind a PrismaClient (Prisma itself when none was registered). */
export function sqlDatabase(prisma: PrismaClient): SqlDatabase {
  let d = registry.get(prisma);
  if (!d) {
    d = prismaDatabase(prisma);
    registry.set(prisma, d);
  }
  return d;
}

export function isSql(db: unknown): db is Sql {
  return typeof db === 'object' && db !== null && SQL in db;
}

/** The handle for any of: a direct driver or its transaction, a client, or a Prisma transaction. */
export function sqlOf(db: Sql | PrismaClient | Prisma.TransactionClient): Sql {
  if (isSql(db)) return db;
  if (registry.has(db)) return registry.get(db)!;
  if ('$transaction' in db) return sqlDatabase(db as PrismaClient);
  return prismaSql(db);
}
