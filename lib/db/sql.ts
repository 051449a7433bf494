// The checkout's and the webhook inbox's hot statements go straight to the database driver
// (pg's pool, shared with Prisma, or the PGlite instance), not through Prisma, and as named
// prepared statements: parsed once per connection, then only bound and executed. Measured per
// checkout, one shopper at a time: 16–18 ms through Prisma's raw path, 9–11 ms through the
// driver, 6–8 ms prepared and (PostgreSQL) pipelined. Everything else keeps using Prisma.
//
// The tagged templates read like Prisma's `$queryRaw`: values become $1, $2, … parameters,
// never text. Rows come back alike on either driver: timestamps as UTC Dates, json parsed, and
// int8 (counts) as numbers — unlike Prisma's bigint, so read counts with Number(). Dates are
// sent as UTC ISO strings: every timestamp column is `timestamp(3)` without time zone, holding
// UTC as Prisma writes it. A parameter whose type PostgreSQL cannot infer from where it stands
// needs a cast in the SQL (`${now}::timestamp`), as with any untyped parameter.
import { createHash } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import type { Prisma, PrismaClient } from '@/lib/generated/prisma/client';
import { oneAtATime, paramText, parseUtcTimestamp } from './query';

const SQL = Symbol.for('brisk.sql');

export interface Sql {
  readonly [SQL]: true;
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

function toParam(v: unknown): unknown {
  if (v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return v.toString();
  return v;
}

const parseInt8 = (s: string) => Number(s);
const TIMESTAMP = 1114;
const INT8 = 20;

/** Statement texts kept prepared; past this, statements are parsed each time (unnamed). */
const MAX_PREPARED = 500;

// ---- PostgreSQL (pg) ----

function pgTypes(base: typeof pg.types) {
  return {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === TIMESTAMP) return parseUtcTimestamp;
      if (oid === INT8) return parseInt8;
      return base.getTypeParser(oid, format as 'text');
    },
  };
}

function pgSql(run: (text: string, values: unknown[]) => Promise<pg.QueryResult>): Sql {
  return {
    [SQL]: true,
    async query<T>(strings: TemplateStringsArray, ...values: unknown[]) {
      const { text, params } = compile(strings, values);
      return (await run(text, params.map(toParam))).rows as T[];
    },
    async execute(strings: TemplateStringsArray, ...values: unknown[]) {
      const { text, params } = compile(strings, values);
      return (await run(text, params.map(toParam))).rowCount ?? 0;
    },
  };
}

/**
 * A prepared statement whose table changed shape under it (a migration added a column while
 * this instance ran: "cached plan must not change result type") fails on that connection every
 * time: the connection is dropped instead of returned, and the next one prepares it afresh.
 */
function staleStatement(err: unknown): Error | undefined {
  const e = err as { code?: string; message?: string };
  return e?.code === '0A000' && /cached plan must not change result type/.test(e.message ?? '') ? (err as Error) : undefined;
}

export function pgDatabase(pool: pg.Pool, pgTypesBase: typeof pg.types): SqlDatabase {
  const types = pgTypes(pgTypesBase);
  // Named: each connection parses a statement once and then only binds and executes it.
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (name === undefined && names.size < MAX_PREPARED) {
      name = `brisk_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
      names.set(text, name);
    }
    return name;
  };
  const runOn = (c: pg.PoolClient) => (text: string, values: unknown[]) => c.query({ name: nameOf(text), text, values, types } as pg.QueryConfig);
  return {
    ...pgSql(async (text, values) => {
      const client = await pool.connect();
      try {
        const result = await runOn(client)(text, values);
        client.release();
        return result;
      } catch (err) {
        client.release(staleStatement(err));
        throw err;
      }
    }),
    driver: 'postgres',
    serialTransactions: false,
    async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      // The pool's connections pipeline (lib/db/client.ts): BEGIN goes out with the first
      // statement, in one round trip, and that statement answers only after BEGIN has.
      const begun = client.query('BEGIN');
      begun.catch(() => undefined);
      try {
        const result = await fn(pgSql(runOn(client)));
        await begun;
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackFailed) {
          // The connection itself failed: it is not returned to the pool.
          client.release(rollbackFailed as Error);
          throw err;
        }
        client.release(staleStatement(err));
        throw err;
      }
    },
  };
}

// ---- PGlite ----

/**
 * Parsers every PGlite instance is created with (lib/db/client.ts). PGlite's own parse int8 as a
 * number already, and timestamps in the process's time zone. Given per query instead, PGlite
 * copies its whole parser table on every statement (about 0.1 ms each, measured).
 */
export const PGLITE_PARSERS = { [TIMESTAMP]: parseUtcTimestamp };

// PGlite's query() parses and plans every statement anew, and in WebAssembly planning one of
// the checkout's CTEs costs about as much as running it. The hot statements are instead named
// prepared statements, spoken in PostgreSQL's wire protocol through PGlite's
// execProtocolRawStream: parsed once per text, then only bound and executed (and planned
// generically once PostgreSQL finds that no worse). Measured on a three-CTE statement: 0.53 →
// 0.36 ms. The answer is read here, not by PGlite's general protocol parser, which builds an
// object per message and per field and merges every output chunk: a checkout's 20 statements
// spent about 0.5 ms in it (profiled). This path has no LISTEN/NOTIFY: a notification a
// statement raised would be dropped, so nothing sent this way notifies (lib/jobs keeps those
// on PGlite's own path).

/** A frontend message: type byte, length, body (`size` bytes, written by `fill`). */
function message(type: string, size: number, fill: (b: Buffer, at: number) => void): Buffer {
  const b = Buffer.allocUnsafe(5 + size);
  b[0] = type.charCodeAt(0);
  b.writeInt32BE(4 + size, 1);
  fill(b, 5);
  return b;
}

const cstringSize = (s: string) => Buffer.byteLength(s) + 1;
function writeCstring(b: Buffer, s: string, at: number): number {
  at += b.write(s, at);
  b[at] = 0;
  return at + 1;
}

function parseMessage(name: string, text: string): Buffer {
  return message('P', cstringSize(name) + cstringSize(text) + 2, (b, at) => {
    at = writeCstring(b, text, writeCstring(b, name, at));
    b.writeInt16BE(0, at);
  });
}

function closeStatementMessage(name: string): Buffer {
  return message('C', 1 + cstringSize(name), (b, at) => {
    b[at] = 0x53; // 'S': a statement
    writeCstring(b, name, at + 1);
  });
}

// Describe the portal (its row shape), execute it, end the batch.
const DESCRIBE_PORTAL = message('D', 2, (b, at) => {
  b[at] = 0x50; // 'P': the portal
  b[at + 1] = 0; // unnamed
});
const EXECUTE = message('E', 5, (b, at) => {
  b[at] = 0; // unnamed portal
  b.writeInt32BE(0, at + 1); // every row
});
const SYNC = message('S', 0, () => undefined);
const RUN = Buffer.concat([DESCRIBE_PORTAL, EXECUTE, SYNC]);

/** Bind (parameters as text, typed by the server), then RUN: one buffer. */
function bindAndRun(name: string, params: unknown[], parse: Buffer | null): Buffer {
  const texts = params.map(paramText);
  const sizes = texts.map((t) => (t === null ? -1 : Buffer.byteLength(t)));
  const bodySize = 1 + cstringSize(name) + 2 + 2 + sizes.reduce((n, l) => n + 4 + Math.max(l, 0), 0) + 2;
  const head = parse?.length ?? 0;
  const out = Buffer.allocUnsafe(head + 5 + bodySize + RUN.length);
  if (parse) parse.copy(out, 0);
  let at = head;
  out[at] = 0x42; // 'B'
  out.writeInt32BE(4 + bodySize, at + 1);
  at += 5;
  out[at++] = 0; // unnamed portal
  at = writeCstring(out, name, at);
  at = out.writeInt16BE(0, at); // parameter formats: all text
  at = out.writeInt16BE(texts.length, at);
  for (let i = 0; i < texts.length; i++) {
    at = out.writeInt32BE(sizes[i], at);
    if (sizes[i] > 0) at += out.write(texts[i]!, at);
  }
  at = out.writeInt16BE(0, at); // result formats: all text
  RUN.copy(out, at);
  return out;
}


// ErrorResponse field codes → the names pg's (and PGlite's) DatabaseError use.
const ERROR_FIELDS: Record<string, string> = {
  S: 'severity', V: 'severity', C: 'code', M: 'message', D: 'detail', H: 'hint', P: 'position', p: 'internalPosition', q: 'internalQuery',
  W: 'where', s: 'schema', t: 'table', c: 'column', d: 'dataType', n: 'constraint', F: 'file', L: 'line', R: 'routine',
};

/** PostgreSQL's error, with the fields of pg's DatabaseError (code, detail, constraint, …). */
export class PgliteStatementError extends Error {
  [field: string]: unknown;
  constructor(fields: Record<string, string>) {
    super(fields.message ?? 'database error');
    Object.assign(this, fields);
    this.name = 'error';
  }
}

interface Answer<T> {
  rows: T[];
  affected: number;
  error: PgliteStatementError | null;
}

/** Reads a batch's answer: row shape, rows (through PGlite's parsers), rows affected, error. */
function readAnswer<T>(b: Buffer, parsers: Record<number, ((v: string, oid: number) => unknown) | undefined>): Answer<T> {
  let fields: { name: string; oid: number }[] = [];
  const rows: T[] = [];
  let affected = 0;
  let error: PgliteStatementError | null = null;
  for (let at = 0; at + 5 <= b.length; ) {
    const type = b[at];
    const end = at + 1 + b.readInt32BE(at + 1);
    let p = at + 5;
    if (type === 0x54) {
      // RowDescription: name, table oid (4), column (2), type oid (4), size (2), modifier (4), format (2)
      const n = b.readInt16BE(p);
      p += 2;
      fields = new Array(n);
      for (let i = 0; i < n; i++) {
        const z = b.indexOf(0, p);
        fields[i] = { name: b.toString('utf8', p, z), oid: b.readInt32BE(z + 7) };
        p = z + 19;
      }
    } else if (type === 0x44) {
      // DataRow: per column a length (-1: NULL) and the text
      const n = b.readInt16BE(p);
      p += 2;
      const row: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const len = b.readInt32BE(p);
        p += 4;
        const f = fields[i];
        if (len < 0) row[f.name] = null;
        else {
          const v = b.toString('utf8', p, p + len);
          p += len;
          const parse = parsers[f.oid];
          row[f.name] = parse ? parse(v, f.oid) : v;
        }
      }
      rows.push(row as T);
    } else if (type === 0x43) {
      // CommandComplete: "INSERT 0 3", "UPDATE 2", "SELECT 5"
      const tag = b.toString('utf8', p, end - 1);
      const n = Number(tag.slice(tag.lastIndexOf(' ') + 1));
      if (Number.isInteger(n)) affected = n;
    } else if (type === 0x45 && !error) {
      const f: Record<string, string> = {};
      while (p < end && b[p] !== 0) {
        const code = String.fromCharCode(b[p]);
        const z = b.indexOf(0, p + 1);
        const name = ERROR_FIELDS[code];
        if (name && !(code === 'V' && f.severity)) f[name] = b.toString('utf8', p + 1, z);
        p = z + 1;
      }
      error = new PgliteStatementError(f);
    }
    // Others (ParseComplete, BindComplete, NoData, notices, ReadyForQuery) carry nothing we use.
    at = end;
  }
  return { rows, affected, error };
}

class PglitePrepared {
  private readonly names = new Map<string, string>();
  private seq = 0;
  constructor(private readonly pglite: PGlite) {}

  private async send(batch: Buffer, syncToFs: boolean): Promise<Buffer> {
    const chunks: Buffer[] = [];
    // The chunk is a view of PGlite's memory, reused for the next: copied at once.
    await this.pglite.execProtocolRawStream(batch, { syncToFs, onRawData: (d) => void chunks.push(Buffer.from(d)) });
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  }

  /** Runs one statement; the caller holds PGlite (its transaction, or both its locks). */
  async run<T>(text: string, params: unknown[], inTransaction: boolean): Promise<{ rows: T[]; affected: number }> {
    let name = this.names.get(text);
    let preparing: string | null = null;
    if (name === undefined) {
      name = this.names.size < MAX_PREPARED ? `brisk_${++this.seq}` : '';
      preparing = name;
    }
    const answer = readAnswer<T>(await this.send(bindAndRun(name, params, preparing === null ? null : parseMessage(name, text)), !inTransaction), this.pglite.parsers);
    if (answer.error) {
      // Sync ended the batch, so the session is ready for the next. The statement may have been
      // prepared before the bind failed: close it, or every such failure would leave one behind
      // (it is prepared again, under a new name, next time).
      if (preparing) await this.send(Buffer.concat([closeStatementMessage(preparing), SYNC]), false).catch(() => undefined);
      throw answer.error;
    }
    if (preparing) this.names.set(text, preparing);
    return { rows: answer.rows, affected: answer.affected };
  }
}


function pgliteSql(run: (text: string, params: unknown[]) => Promise<{ rows: unknown[]; affected: number }>): Sql {
  return {
    [SQL]: true,
    async query<T>(strings: TemplateStringsArray, ...values: unknown[]) {
      const { text, params } = compile(strings, values);
      return (await run(text, params)).rows as T[];
    },
    async execute(strings: TemplateStringsArray, ...values: unknown[]) {
      const { text, params } = compile(strings, values);
      return (await run(text, params)).affected;
    },
  };
}

/**
 * A WeakMap shared by every copy of this module in the process: a Next.js build instantiates
 * it more than once (instrumentation, which opens the database, and the route bundles).
 */
function processWide<K extends object, V>(name: string): WeakMap<K, V> {
  const g = globalThis as Record<symbol, unknown>;
  const key = Symbol.for(name);
  return (g[key] as WeakMap<K, V> | undefined) ?? ((g[key] = new WeakMap<K, V>()) as WeakMap<K, V>);
}

// One per instance, so statement names never collide between its users (the tagged templates
// here and pg-boss's adapter in lib/jobs).
const preparedByInstance = processWide<PGlite, PglitePrepared>('brisk.pglitePrepared');
function preparedOf(pglite: PGlite): PglitePrepared {
  let p = preparedByInstance.get(pglite);
  if (!p) preparedByInstance.set(pglite, (p = new PglitePrepared(pglite)));
  return p;
}

/**
 * Runs `fn` with PGlite to itself, as its query() does: after any transaction in progress has
 * ended (PGlite's transaction lock), and then alone (its query lock). runExclusive() alone takes
 * only the query lock, so a statement could run between two statements of another caller's
 * transaction, inside it: committed or rolled back with it, and seeing its uncommitted rows.
 */
function exclusive(pglite: PGlite): <T>(fn: () => Promise<T>) => Promise<T> {
  const transactionLock = (pglite as unknown as { _runExclusiveTransaction?: <T>(fn: () => Promise<T>) => Promise<T> })._runExclusiveTransaction;
  if (typeof transactionLock !== 'function') throw new Error('this PGlite has no transaction lock (_runExclusiveTransaction); lib/db/sql.ts needs it');
  const lock = transactionLock.bind(pglite) as <T>(fn: () => Promise<T>) => Promise<T>;
  return (fn) => lock(() => pglite.runExclusive(fn));
}

/**
 * Runs one statement with `$n` parameters on PGlite as a named prepared statement, outside any
 * transaction (it waits for a running one, as PGlite's query() does). Values are sent as text
 * and typed by the server. For callers that hold SQL text rather than a template (pg-boss).
 */
export function pglitePreparedStatement(pglite: PGlite): (text: string, params: unknown[]) => Promise<{ rows: unknown[]; affected: number }> {
  const prepared = preparedOf(pglite);
  const alone = exclusive(pglite);
  return (text, params) => alone(() => prepared.run(text, params, false));
}

/** `pglite` must have been created with PGLITE_PARSERS. */
export function pgliteDatabase(pglite: PGlite): SqlDatabase {
  const prepared = preparedOf(pglite);
  const alone = exclusive(pglite);
  return {
    // execProtocol does not wait for PGlite's locks: outside a transaction, take them.
    ...pgliteSql((text, params) => alone(() => prepared.run(text, params, false))),
    driver: 'pglite',
    serialTransactions: true,
    // Inside, the transaction holds the lock; statements started together take turns.
    transaction: (fn) => pglite.transaction(() => fn(pgliteSql(oneAtATime((text, params) => prepared.run(text, params, true))))),
  };
}

// ---- Prisma (any other client: the same statements through $queryRawUnsafe) ----

type RawCapable = Pick<PrismaClient, '$queryRawUnsafe' | '$executeRawUnsafe'>;

function prismaSql(p: RawCapable): Sql {
  return {
    [SQL]: true,
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
