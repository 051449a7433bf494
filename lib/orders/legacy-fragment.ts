// A bridge while lib/risk/score.ts (signalsQuery) and lib/cart/cart.ts (CART_*) still hand out
// pieces of SQL as lib/db/sql.ts fragments: this module's statements are Kysely's, and a fragment
// embedded in Kysely's `sql` tag would be sent as a parameter. A piece that is Kysely's already
// passes through, so the callers keep working once those modules move to Kysely; delete this
// file then.
import { sql, type RawBuilder } from 'kysely';

/** A lib/db/sql.ts fragment, by shape: text pieces with values (or nested fragments) between. */
interface Fragment {
  readonly strings: readonly string[];
  readonly values: readonly unknown[];
}

function isKysely(piece: unknown): piece is RawBuilder<unknown> {
  return typeof piece === 'object' && piece !== null && typeof (piece as { toOperationNode?: unknown }).toOperationNode === 'function';
}

function isFragment(v: unknown): v is Fragment {
  return typeof v === 'object' && v !== null && Array.isArray((v as Fragment).strings) && Array.isArray((v as Fragment).values);
}

/** The same SQL, values still parameters, as a piece of Kysely's `sql` tag. */
export function kyselyPiece<T = unknown>(piece: Fragment | RawBuilder<T>): RawBuilder<T> {
  if (isKysely(piece)) return piece as RawBuilder<T>;
  const parts: RawBuilder<unknown>[] = [];
  piece.strings.forEach((text, i) => {
    parts.push(sql.raw(text));
    if (i < piece.values.length) {
      const v = piece.values[i];
      parts.push(isFragment(v) || isKysely(v) ? kyselyPiece(v) : sql.val(v));
    }
  });
  return sql<T>`${sql.join(parts, sql.raw(''))}`;
}
