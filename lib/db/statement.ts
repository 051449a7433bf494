// Hot statements built and compiled once. Kysely builds a statement as a tree of frozen nodes
// and compiles that tree to SQL text on every call; on the checkout's and the webhook's paths
// that was most of the web process's extra CPU against the hand-written SQL it replaced
// (bench/RESULTS.md, the profiles of 2026-12-07). A statement made with `statement()` is
// written with the same typed builder (or `sql` tag), built once on first use with a marker
// for each parameter, and compiled once; each call only binds its values to the compiled text
// and runs it on the caller's connection or transaction — the same text, so the same prepared
// statement on the database.
//
// A parameter must reach the statement as a value (a bound $n): its shape may not depend on it.
// Build-time checks make a misuse loud: a parameter read as text, iterated or compared fails the
// build, and one that does not end up among the statement's values is an error.
import { CompiledQuery, DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, type QueryResult } from 'kysely';
import type { Db, DB } from './query';
import type { Sql } from './sql';

/** Stands for a parameter while the statement is built. */
class Marker {
  constructor(readonly name: string) {}
  toString(): never {
    throw new Error(`statement parameter "${this.name}" was used as text while building; pass it as a value`);
  }
  [Symbol.toPrimitive](): never {
    throw new Error(`statement parameter "${this.name}" was used as a primitive while building; pass it as a value`);
  }
}

/** Builds only: the statements are compiled for PostgreSQL (PGlite speaks the same). */
const builder = new Kysely<DB>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

/** What a builder function may return: a query builder or a `sql` template. */
interface Buildable<R> {
  compile(executorProvider: Db): CompiledQuery<R>;
}

type Compiled = { sql: string; slots: ({ param: string } | { constant: unknown })[]; query: CompiledQuery['query']; queryId: CompiledQuery['queryId'] };

function compile(build: (db: Db, p: Record<string, unknown>) => Buildable<unknown>): Compiled {
  const used = new Set<string>();
  const markers = new Map<string, Marker>();
  const p = new Proxy({} as Record<string, unknown>, {
    get(_, name) {
      if (typeof name !== 'string') return undefined;
      used.add(name);
      let m = markers.get(name);
      if (!m) markers.set(name, (m = new Marker(name)));
      return m;
    },
  });
  const q = build(builder, p).compile(builder);
  const bound = new Set<string>();
  const slots = q.parameters.map((v) => {
    if (v instanceof Marker) {
      bound.add(v.name);
      return { param: v.name };
    }
    return { constant: v };
  });
  for (const name of used) if (!bound.has(name)) throw new Error(`statement parameter "${name}" is not one of the statement's values; a statement's shape may not depend on its parameters`);
  return { sql: q.sql, slots, query: q.query, queryId: q.queryId };
}

/**
 * A statement compiled once. `build` receives a Kysely that only builds and the parameters as
 * markers, typed as their values; the returned function runs the statement with real values on
 * `on` (a connection, a transaction, or a Prisma transaction through lib/db/sql) and returns
 * Kysely's QueryResult: `rows` typed by the builder, `numAffectedRows` for writes.
 */
export function statement<P extends Record<string, unknown>, R>(build: (db: Db, p: P) => Buildable<R>): (on: Sql, params: P) => Promise<QueryResult<R>> {
  let compiled: Compiled | undefined;
  // Async: a statement that cannot be built rejects like one that fails. The statement is still
  // sent before the first await, so statements started together go out in the order started.
  return async (on, params) => {
    compiled ??= compile(build as unknown as (db: Db, p: Record<string, unknown>) => Buildable<unknown>);
    const { sql, slots, query, queryId } = compiled;
    const parameters = slots.map((s) => ('param' in s ? (params[s.param] ?? null) : s.constant));
    return on.kysely.executeQuery<R>({ sql, parameters, query, queryId } as CompiledQuery<R>);
  };
}
