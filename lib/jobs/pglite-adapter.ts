// pg-boss on PGlite, with its parameterized statements prepared once. pg-boss's own adapter
// (fromPglite) sends each through PGlite's query(), which parses, plans and describes the
// statement every time: for the job insert the webhook inbox issues, about 1 ms of the server's
// only thread before the first row is written (measured: 1.0 ms for 1 job, 1.6 ms for 12), paid
// again on every enqueue. Here those statements go through the typed path's PGlite driver
// (lib/db/query.ts), as named prepared statements. Everything else (statements without parameters, which may be several at once;
// array or object values, which PGlite serializes by the described parameter type; anything that
// notifies) keeps to pg-boss's adapter and its behaviour.
import 'server-only';
import type { PGlite } from '@electric-sql/pglite';
import { fromPglite } from 'pg-boss';
import { CompiledQuery } from 'kysely';
import type { Db } from '@/lib/db/query';

type Adapter = ReturnType<typeof fromPglite>;

function preparable(text: string, values: unknown[] | undefined): values is (string | number | boolean | null)[] {
  if (!values || values.length === 0) return false;
  if (/\b(?:pg_notify|NOTIFY|LISTEN)\b/i.test(text)) return false;
  return values.every((v) => v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)));
}

/** `db` is the Kysely on the same `pglite` (Database.db). */
export function preparedPgliteAdapter(pglite: PGlite, db: Db): Adapter {
  const base = fromPglite(pglite);
  return {
    ...base,
    async executeSql(text: string, values?: unknown[]) {
      if (!preparable(text, values)) return base.executeSql(text, values);
      // A statement alone is a PGlite transaction of its own: a failure leaves none open.
      const { rows } = await db.executeQuery(CompiledQuery.raw(text, values));
      return { rows } as Awaited<ReturnType<Adapter['executeSql']>>;
    },
  };
}
