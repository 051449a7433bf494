// The typed path for hand-written SQL: Kysely, with table and column types generated from
// prisma/schema.prisma (prisma-kysely → lib/generated/kysely/types.ts), on the same connections
// Prisma uses — pg's pool on PostgreSQL, the one PGlite instance in the embedded default.
//
// Both drivers keep what made the old direct path fast: statements are named prepared
// statements, parsed once per connection (PostgreSQL) or per instance (PGlite), then only bound
// and executed. On PGlite the messages are written and read by pg-protocol (node-postgres's own
// codec) and sent through PGlite's public execProtocolRawStream inside PGlite's public
// transaction(), which holds its lock for as long as Kysely holds the connection.
//
// Rows come back alike on either database: timestamps as UTC Dates (every timestamp column is
// `timestamp(3)` without time zone, holding UTC as Prisma writes it), int8 (counts) as numbers,
// json parsed.
import { createHash } from 'node:crypto';
import type { PGlite, Transaction as PgliteTransaction } from '@electric-sql/pglite';
import {
  CompiledQuery,
  DefaultQueryExecutor,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
} from 'kysely';
import type pg from 'pg';
import { serialize, type DatabaseError } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser';
import type { BackendMessage, CommandCompleteMessage, DataRowMessage, ReadyForQueryMessage, RowDescriptionMessage } from 'pg-protocol/dist/messages';
import type { DB } from '@/lib/generated/kysely/types';

export type { DB };
export type Db = Kysely<DB>;

/** Statement texts kept prepared; past this, statements are parsed each time (unnamed). */
const MAX_PREPARED = 500;

// "2026-11-21 10:00:00.123" (timestamp without time zone, UTC by our convention) → Date.
export const parseUtcTimestamp = (s: string) => new Date(`${s.replace(' ', 'T')}Z`);
const TIMESTAMP = 1114;
const INT8 = 20;

/** A parameter in PostgreSQL's text format (its type is inferred by the server). */
export function paramText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return `{${v.map((e) => (e === null || e === undefined ? 'NULL' : `"${String(paramText(e)).replace(/[\\"]/g, '\\$&')}"`)).join(',')}}`;
  return JSON.stringify(v);
}

/**
 * Parsers every PGlite instance is created with (lib/db/client.ts): timestamps as UTC (PGlite's
 * own use the process's time zone); PGlite already parses int8 as a number. Given per query
 * instead, PGlite copies its whole parser table on every statement.
 */
export const PGLITE_PARSERS = { [TIMESTAMP]: parseUtcTimestamp };

/**
 * A WeakMap shared by every copy of this module in the process. Next.js instantiates server
 * modules more than once (instrumentation, which opens the database, and each route bundle);
 * what must be one per database (its prepared statement names) is kept here, not per copy.
 */
export function processWide<K extends object, V>(name: string): WeakMap<K, V> {
  const g = globalThis as Record<symbol, unknown>;
  const key = Symbol.for(name);
  return (g[key] as WeakMap<K, V> | undefined) ?? ((g[key] = new WeakMap<K, V>()) as WeakMap<K, V>);
}

/** Runs calls one after another in the order made, however many are started at once. */
export function oneAtATime<A extends unknown[], R>(run: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  let last: Promise<unknown> = Promise.resolve();
  return (...args) => {
    const next = last.then(() => run(...args));
    last = next.catch(() => undefined);
    return next;
  };
}

function dialect(createDriver: () => Driver): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver,
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}

// ---- PGlite ----

/** Named statements of one PGlite instance (one backend: names are per instance). */
class PgliteStatements {
  private readonly names = new Map<string, string>();
  private seq = 0;
  constructor(private readonly pglite: PGlite) {}

  /** One statement; the caller holds PGlite's transaction lock. */
  async run<R>(text: string, params: readonly unknown[]): Promise<QueryResult<R>> {
    let name = this.names.get(text);
    let preparing: string | null = null;
    if (name === undefined) {
      name = this.names.size < MAX_PREPARED ? `q_${++this.seq}` : '';
      preparing = name;
    }
    const batch = [
      ...(preparing !== null ? [serialize.parse({ name, text })] : []),
      serialize.bind({ statement: name, values: params.map(paramText) }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ];
    const answer = await this.send(Buffer.concat(batch));
    if (answer.error) {
      // Sync ended the batch. A statement prepared before its bind failed is closed, or every
      // such failure would leave one behind.
      if (preparing) await this.send(Buffer.concat([serialize.close({ type: 'S', name: preparing }), serialize.sync()])).catch(() => undefined);
      throw answer.error;
    }
    if (preparing) this.names.set(text, preparing);
    return answer.result as QueryResult<R>;
  }

  /**
   * The backend's transaction status, read with a lone Sync (no statement): 'I' idle, 'T' in a
   * transaction, 'E' in a failed one. The caller holds PGlite's query lock.
   */
  async status(): Promise<string> {
    let status = 'I';
    const parser = new Parser();
    await this.pglite.execProtocolRawStream(serialize.sync(), {
      syncToFs: false,
      onRawData: (d) => parser.parse(Buffer.from(d), (m) => void (m.name === 'readyForQuery' && (status = (m as ReadyForQueryMessage).status))),
    });
    return status;
  }

  private async send(batch: Buffer): Promise<{ result: QueryResult<unknown>; error: DatabaseError | null }> {
    const parser = new Parser();
    const parsers = this.pglite.parsers;
    let fields: RowDescriptionMessage['fields'] = [];
    const rows: Record<string, unknown>[] = [];
    let affected: bigint | undefined;
    let error: DatabaseError | null = null;
    const onMessage = (m: BackendMessage) => {
      if (m.name === 'rowDescription') fields = (m as RowDescriptionMessage).fields;
      else if (m.name === 'dataRow') {
        const values = (m as DataRowMessage).fields;
        const row: Record<string, unknown> = {};
        for (let i = 0; i < values.length; i++) {
          const f = fields[i];
          const v = values[i];
          const parse = parsers[f.dataTypeID];
          row[f.name] = v === null ? null : parse ? parse(v, f.dataTypeID) : v;
        }
        rows.push(row);
      } else if (m.name === 'commandComplete') {
        const tag = (m as CommandCompleteMessage).text;
        const n = tag.slice(tag.lastIndexOf(' ') + 1);
        if (/^\d+$/.test(n) && !tag.startsWith('SELECT')) affected = BigInt(n);
      } else if (m.name === 'error' && !error) error = m as DatabaseError;
    };
    // The chunk is a view of PGlite's memory, reused for the next: parsed before returning.
    await this.pglite.execProtocolRawStream(batch, { syncToFs: false, onRawData: (d) => parser.parse(Buffer.from(d), onMessage) });
    return { result: { rows, ...(affected !== undefined ? { numAffectedRows: affected } : {}) }, error };
  }
}

class PgliteConnection implements DatabaseConnection {
  /** Statements started together (Promise.all) take turns. */
  readonly run: (text: string, params: readonly unknown[]) => Promise<QueryResult<unknown>>;
  rollback = false;
  /** In a Kysely transaction (else each statement stands alone). */
  transaction = false;
  constructor(
    statements: PgliteStatements,
    /**
     * 'exclusive': the connection holds PGlite's query lock with no transaction open, and sends
     * its own BEGIN / COMMIT when Kysely asks for a transaction (a lone statement is only itself).
     * 'transaction': it lives inside a PGlite transaction() (PGlite sent BEGIN and ends it).
     */
    readonly mode: 'exclusive' | 'transaction',
    /** Gives the lock back (in 'transaction' mode: commits, or rolls back when asked). */
    readonly end: () => Promise<void>,
  ) {
    this.run = oneAtATime((text, params) => statements.run(text, params));
  }
  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return (await this.run(q.sql, q.parameters)) as QueryResult<R>;
    } catch (err) {
      // A lone statement's failure ends its own transaction: rolled back, not committed (whose
      // "rolled back instead of committed" would replace the statement's own error).
      if (!this.transaction) this.rollback = true;
      throw err;
    }
  }
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported on PGlite');
  }
}

/**
 * Each connection Kysely acquires holds PGlite's lock until it is released, so nothing else
 * reaches the database meanwhile. Normally that lock is PGlite's public runExclusive() (the
 * query lock, meant for the execProtocol methods): a lone statement is sent as it is, and a
 * Kysely transaction sends its own BEGIN and COMMIT. runExclusive does not wait for a
 * transaction another path holds open between its statements (Prisma's adapter uses PGlite's
 * transaction()), so the connection first reads the backend's status; when a transaction is
 * open it lets go and waits in PGlite's transaction() instead, which queues behind it (and
 * costs a BEGIN and a COMMIT around a lone statement).
 */
// One per instance: statement names are the backend's, shared by every user of it.
const statementsByInstance = processWide<PGlite, PgliteStatements>('brisk.pgliteStatements');

class PgliteDriver implements Driver {
  private readonly statements: PgliteStatements;
  constructor(private readonly pglite: PGlite) {
    let statements = statementsByInstance.get(pglite);
    if (!statements) statementsByInstance.set(pglite, (statements = new PgliteStatements(pglite)));
    this.statements = statements;
  }
  async init() {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return (await this.exclusive()) ?? this.inTransaction();
  }
  /** The connection under runExclusive, or null when another path's transaction is open. */
  private exclusive(): Promise<PgliteConnection | null> {
    return new Promise((resolveConnection, rejectConnection) => {
      let finish!: () => void;
      const released = new Promise<void>((r) => (finish = r));
      let connection: PgliteConnection | undefined;
      const ended = this.pglite.runExclusive(async () => {
        if ((await this.statements.status()) !== 'I') return resolveConnection(null);
        connection = new PgliteConnection(this.statements, 'exclusive', async () => {
          finish();
          await ended;
        });
        resolveConnection(connection);
        await released;
      });
      ended
        .then(
          () => (connection ? this.pglite.syncToFs() : undefined),
          (err) => {
            if (!connection) rejectConnection(err);
          },
        )
        // A failed flush (a no-op on the Node filesystem) must not become an unhandled rejection
        // that ends the process; PGlite's next statement flushes again.
        .catch(() => undefined);
    });
  }
  private inTransaction(): Promise<PgliteConnection> {
    return new Promise((resolveConnection, rejectConnection) => {
      let finish!: () => void;
      const released = new Promise<void>((r) => (finish = r));
      let connection: PgliteConnection | undefined;
      const ended = this.pglite.transaction(async (tx: PgliteTransaction) => {
        connection = new PgliteConnection(this.statements, 'transaction', async () => {
          finish();
          await ended;
        });
        resolveConnection(connection);
        await released;
        if (connection.rollback) await tx.rollback();
      });
      ended.catch((err) => {
        if (!connection) rejectConnection(err);
      });
    });
  }
  async beginTransaction(c: DatabaseConnection) {
    const conn = c as PgliteConnection;
    if (conn.mode === 'exclusive') await conn.run('BEGIN', []);
    conn.transaction = true;
  }
  async commitTransaction(c: DatabaseConnection) {
    const conn = c as PgliteConnection;
    if (conn.mode === 'exclusive') {
      conn.transaction = false;
      await conn.run('COMMIT', []);
    }
    await conn.end();
  }
  async rollbackTransaction(c: DatabaseConnection) {
    const conn = c as PgliteConnection;
    conn.rollback = true;
    if (conn.mode === 'exclusive' && conn.transaction) {
      conn.transaction = false;
      await conn.run('ROLLBACK', []);
    }
    await conn.end();
  }
  async releaseConnection(c: DatabaseConnection) {
    const conn = c as PgliteConnection;
    // A transaction Kysely neither committed nor rolled back must not outlive the lock.
    if (conn.mode === 'exclusive' && conn.transaction) {
      conn.transaction = false;
      await conn.run('ROLLBACK', []).catch(() => undefined);
    }
    await conn.end();
  }
  async destroy() {}
}

/** `pglite` must have been created with PGLITE_PARSERS. */
export function pgliteKysely(pglite: PGlite): Db {
  return new Kysely<DB>({ dialect: dialect(() => new PgliteDriver(pglite)) });
}

// ---- PostgreSQL (pg) ----

function pgTypes(base: typeof pg.types) {
  return {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === TIMESTAMP) return parseUtcTimestamp;
      if (oid === INT8) return (s: string) => Number(s);
      return base.getTypeParser(oid, format as 'text');
    },
  };
}

function staleStatement(err: unknown): Error | undefined {
  const e = err as { code?: string; message?: string };
  return e?.code === '0A000' && /cached plan must not change result type/.test(e.message ?? '') ? (err as Error) : undefined;
}

class PgConnection implements DatabaseConnection {
  failed: Error | undefined;
  begun: Promise<unknown> | undefined;
  constructor(
    readonly client: pg.PoolClient,
    private readonly nameOf: (text: string) => string | undefined,
    private readonly types: ReturnType<typeof pgTypes>,
  ) {}
  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    try {
      const r = await this.client.query({ name: this.nameOf(q.sql), text: q.sql, values: q.parameters.map(paramText), types: this.types } as pg.QueryConfig);
      const write = r.command === 'INSERT' || r.command === 'UPDATE' || r.command === 'DELETE' || r.command === 'MERGE';
      return { rows: r.rows as R[], ...(write && r.rowCount !== null ? { numAffectedRows: BigInt(r.rowCount) } : {}) };
    } catch (err) {
      this.failed ??= staleStatement(err);
      throw err;
    }
  }
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not used');
  }
}

class PgDriver implements Driver {
  private readonly names = new Map<string, string>();
  private readonly types: ReturnType<typeof pgTypes>;
  constructor(
    private readonly pool: pg.Pool,
    pgTypesBase: typeof pg.types,
  ) {
    this.types = pgTypes(pgTypesBase);
  }
  private readonly nameOf = (text: string) => {
    let name = this.names.get(text);
    if (name === undefined && this.names.size < MAX_PREPARED) {
      // Named by the text: two drivers on one pool can never give one name to two statements.
      name = `k_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      this.names.set(text, name);
    }
    return name;
  };
  async init() {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return new PgConnection(await this.pool.connect(), this.nameOf, this.types);
  }
  async beginTransaction(c: DatabaseConnection) {
    // The pool pipelines (lib/db/client.ts): BEGIN goes out with the first statement.
    const begun = (c as PgConnection).client.query('BEGIN');
    begun.catch(() => undefined);
    (c as PgConnection).begun = begun;
  }
  async commitTransaction(c: DatabaseConnection) {
    await (c as PgConnection).begun;
    await (c as PgConnection).client.query('COMMIT');
  }
  async rollbackTransaction(c: DatabaseConnection) {
    try {
      await (c as PgConnection).client.query('ROLLBACK');
    } catch (err) {
      (c as PgConnection).failed = err as Error;
    }
  }
  async releaseConnection(c: DatabaseConnection) {
    (c as PgConnection).client.release((c as PgConnection).failed);
  }
  async destroy() {}
}

export function pgKysely(pool: pg.Pool, pgTypesBase: typeof pg.types): Db {
  return new Kysely<DB>({ dialect: dialect(() => new PgDriver(pool, pgTypesBase)) });
}

/**
 * One connection, already inside a transaction (ours on pg, or a Prisma interactive one): a
 * Kysely on it sends each statement as it comes, and cannot begin another.
 */
class InTransactionDriver implements Driver {
  constructor(
    private readonly connection: DatabaseConnection,
    private readonly whose: string,
  ) {}
  async init() {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.connection;
  }
  async beginTransaction() {
    throw new Error(`already inside ${this.whose}`);
  }
  async commitTransaction() {}
  async rollbackTransaction() {}
  async releaseConnection() {}
  async destroy() {}
}

/**
 * Transactions on the pool whose statements are pipelined. Kysely's own transaction() runs a
 * transaction's statements one at a time (its SingleConnectionProvider waits for each answer
 * before sending the next), so statements started together (`Promise.all`: the checkout's row
 * locks and its read, the webhook's order lock and read) cost a round trip each, with the
 * transaction's locks held across all of them. Here the transaction is a Kysely of its own on
 * the one connection, and statements go to pg as they are started: with the pool's pipelining
 * (lib/db/client.ts) they are on the wire together and run in the order started.
 */
export function pgTransactions(pool: pg.Pool, pgTypesBase: typeof pg.types): <T>(fn: (trx: Db) => Promise<T>) => Promise<T> {
  // Statement names come from their text: this driver's names are pgKysely's, prepared once per connection.
  const driver = new PgDriver(pool, pgTypesBase);
  // Shared by every transaction's Kysely (a compile is synchronous: no state outlives it).
  const compiler = new PostgresQueryCompiler();
  const adapter = new PostgresAdapter();
  const trxDialect = dialect(() => {
    throw new Error('a transaction has no driver of its own');
  });
  return async (fn) => {
    const connection = (await driver.acquireConnection()) as PgConnection;
    try {
      // Built from its parts, not from a dialect: no driver to initialise, and each statement
      // goes to the connection as it is started (no await before it), in the order started.
      const trx = new Kysely<DB>({
        config: { dialect: trxDialect },
        dialect: trxDialect,
        driver: new InTransactionDriver(connection, 'a transaction'),
        executor: new DefaultQueryExecutor(compiler, adapter, { provideConnection: (consume) => consume(connection) }),
      });
      await driver.beginTransaction(connection);
      try {
        const result = await fn(trx);
        await driver.commitTransaction(connection);
        return result;
      } catch (err) {
        await driver.rollbackTransaction(connection);
        throw err;
      }
    } finally {
      await driver.releaseConnection(connection);
    }
  };
}

// ---- Inside a Prisma interactive transaction ----

/** What a Prisma transaction client offers for raw SQL. */
export interface RawCapable {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

/**
 * Kysely on a Prisma interactive transaction, for statements that belong to it (one path per
 * transaction: on PGlite a second path would wait for the transaction holding the only backend).
 * A write without RETURNING is run for its row count, anything else for its rows. No nested
 * transactions: the Prisma transaction is the transaction.
 */
class PrismaTxConnection implements DatabaseConnection {
  private readonly run: (q: CompiledQuery) => Promise<QueryResult<unknown>>;
  constructor(tx: RawCapable) {
    // One connection: statements started together take turns.
    this.run = oneAtATime(async (q: CompiledQuery) => {
      if (/^\s*(?:insert|update|delete|merge)\b/i.test(q.sql) && !/\breturning\b/i.test(q.sql)) {
        return { rows: [], numAffectedRows: BigInt(await tx.$executeRawUnsafe(q.sql, ...q.parameters)) };
      }
      return { rows: await tx.$queryRawUnsafe<unknown[]>(q.sql, ...q.parameters) };
    });
  }
  executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    return this.run(q) as Promise<QueryResult<R>>;
  }
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported in a Prisma transaction');
  }
}


export function prismaTxKysely(tx: RawCapable): Db {
  return new Kysely<DB>({ dialect: dialect(() => new InTransactionDriver(new PrismaTxConnection(tx), 'a Prisma transaction')) });
}
