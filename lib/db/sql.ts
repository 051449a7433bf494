// Hand-shaped SQL as tagged templates, run on the typed path's drivers (lib/db/query.ts: Kysely
// on pg's pool shared with Prisma, or on the PGlite instance), so every statement is a named
// prepared statement: parsed once per connection, then only bound and executed. Everything else
// keeps using Prisma.
//
// The tagged templates read like Prisma's `$queryRaw`: values become $1, $2, … parameters,
// never text. Rows come back alike on either driver: timestamps as UTC Dates, json parsed, and
// int8 (counts) as numbers — unlike Prisma's bigint, so read counts with Number(). Dates are
// sent as UTC ISO strings: every timestamp column is `timestamp(3)` without time zone, holding
// UTC as Prisma writes it. A parameter whose type PostgreSQL cannot infer from where it stands
// needs a cast in the SQL (`${now}::timestamp`), as with any untyped parameter.
//
// Inside a Prisma interactive transaction the same templates go through that transaction
// ($queryRawUnsafe): one path per transaction, since on PGlite a second path would wait for the
// transaction holding the only backend.
import { CompiledQuery } from 'kysely';
import type { Prisma, PrismaClient } from '@/lib/generated/prisma/client';
import { oneAtATime, prismaTxKysely, processWide, type Db } from './query';

const SQL = Symbol.for('brisk.sql');

export interface Sql {
  readonly [SQL]: true;
  /** The same connection (or transaction) as a typed Kysely, for statements written with its builder. */
  readonly kysely: Db;
  /** Rows of one statement. */
  query<T = Record<string, unknown>>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]>;
  /** Rows affected by one statement. */
  execute(strings: TemplateStringsArray, ...values: unknown[]): Promise<number>;
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

// Next.js instantiates this module more than once (instrumentation, which opens the database,
// and the route bundles): the driver registered by one copy compiles statements holding
// fragments made by another copy's class. The brand, in the global symbol registry, makes
// `instanceof` hold across copies; without it a fragment was sent as a JSON parameter and, in
// production, the order page never found the order its PaymentIntent paid.
const FRAGMENT = Symbol.for('brisk.SqlFragment');

/** A piece of SQL with its values, to embed in another statement (`${fragment}`). */
export class SqlFragment {
  readonly [FRAGMENT] = true;
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
  ) {}

  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[FRAGMENT] === true;
  }
}

export function sqlFragment(strings: TemplateStringsArray, ...values: unknown[]): SqlFragment {
  return new SqlFragment(strings, values);
}

/** Statement text with $n placeholders and its parameters, fragments spliced in. */
function compile(strings: readonly string[], values: readonly unknown[], params: unknown[] = []): { text: string; params: unknown[] } {
  let text = strings[0];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v instanceof SqlFragment) text += compile(v.strings, v.values, params).text;
    else {
      params.push(v);
      text += `$${params.length}`;
    }
    text += strings[i + 1];
  }
  return { text, params };
}

// ---- Kysely (lib/db/query.ts): the drivers on pg's pool and on PGlite ----

function kyselySql(db: Db): Sql {
  const run = (strings: TemplateStringsArray, values: unknown[]) => {
    const { text, params } = compile(strings, values);
    return db.executeQuery(CompiledQuery.raw(text, params));
  };
  return {
    [SQL]: true,
    kysely: db,
    query: async <T>(strings: TemplateStringsArray, ...values: unknown[]) => (await run(strings, values)).rows as T[],
    execute: async (strings: TemplateStringsArray, ...values: unknown[]) => Number((await run(strings, values)).numAffectedRows ?? 0),
  };
}

/**
 * The tagged templates on a Kysely database: one driver, one set of prepared statements.
 * `transactions`, when given, runs each transaction as a Kysely of its own (PostgreSQL:
 * pgTransactions in lib/db/query.ts); without it, Kysely's transaction().
 */
export function kyselyDatabase(db: Db, kind: 'postgres' | 'pglite', transactions?: <T>(fn: (trx: Db) => Promise<T>) => Promise<T>): SqlDatabase {
  return {
    ...kyselySql(db),
    driver: kind,
    serialTransactions: kind === 'pglite',
    // PostgreSQL: statements started together in one transaction are pipelined (lib/db/client.ts),
    // which Kysely's transaction() would undo (it sends each after the previous answered).
    // PGlite: the transaction holds PGlite's lock; statements started together take turns.
    transaction: transactions ? (fn) => transactions((trx) => fn(kyselySql(trx))) : (fn) => db.transaction().execute((trx) => fn(kyselySql(trx))),
  };
}

// ---- Prisma (any other client: the same statements through $queryRawUnsafe) ----

type RawCapable = Pick<PrismaClient, '$queryRawUnsafe' | '$executeRawUnsafe'>;

function prismaSql(p: RawCapable): Sql {
  let kysely: Db | undefined;
  return {
    [SQL]: true,
    get kysely() {
      return (kysely ??= prismaTxKysely(p));
    },
    query: <T>(strings: TemplateStringsArray, ...values: unknown[]) => {
      const { text, params } = compile(strings, values);
      return p.$queryRawUnsafe<T[]>(text, ...params);
    },
    execute: (strings: TemplateStringsArray, ...values: unknown[]) => {
      const { text, params } = compile(strings, values);
      return p.$executeRawUnsafe(text, ...params);
    },
  };
}

function prismaDatabase(prisma: PrismaClient): SqlDatabase {
  return {
    ...prismaSql(prisma),
    driver: 'prisma',
    serialTransactions: false,
    transaction: (fn) =>
      prisma.$transaction(
        (tx) => {
          // One connection: statements started together take turns.
          const turn = oneAtATime(<R>(run: () => Promise<R>) => run());
          const sql = prismaSql(tx);
          return fn({
            [SQL]: true,
            get kysely() {
              return sql.kysely;
            },
            query: (strings, ...values) => turn(() => sql.query(strings, ...values)),
            execute: (strings, ...values) => turn(() => sql.execute(strings, ...values)),
          });
        },
        { maxWait: 20_000, timeout: 20_000 },
      ),
  };
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

/** A statement runner for any handle: a direct driver or transaction, a client, or a Prisma transaction. */
export function sqlOf(db: Sql | PrismaClient | Prisma.TransactionClient): Sql {
  if (isSql(db)) return db;
  if (registry.has(db)) return registry.get(db)!;
  if ('$transaction' in db) return sqlDatabase(db as PrismaClient);
  return prismaSql(db);
}
