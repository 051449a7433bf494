// Batched deletes for the pruning of rows that only grow (lib/jobs/prune.ts, and the owners of
// the tables it prunes, e.g. lib/orders/stock-holds.ts).
import type { Expression, ExpressionBuilder, Kysely, SqlBool } from 'kysely';
import type { Db, DB } from './query';

/** The tables pruned in batches and the columns of each one's key (one column, or three). */
export interface PrunedKeys {
  StripeEvent: ['id'];
  AdminSession: ['id'];
  StockHold: ['id'];
  ThrottleCounter: ['key'];
  GatewayCallStat: ['bucket', 'operation', 'outcome'];
}

/**
 * Deletes, `batch` rows per statement, the rows of one table that `where` selects, by their key:
 * a first pass over a year of rows must not hold one huge transaction.
 */
export async function deleteInBatches<T extends keyof PrunedKeys>(
  db: Db,
  batch: number,
  table: T,
  key: PrunedKeys[T],
  where: (eb: ExpressionBuilder<DB, T>) => Expression<SqlBool>,
): Promise<number> {
  // The builder cannot type a table picked by a type parameter: the statement is built untyped
  // here, and typed where it is called (the table, its key and its condition).
  const untyped = db as unknown as Kysely<Record<string, Record<string, unknown>>>;
  const name: string = table;
  const cols: readonly string[] = key;
  const oldest = untyped.selectFrom(name).select(cols).where(where as never).limit(batch);
  let total = 0;
  for (;;) {
    const { numDeletedRows } = await untyped
      .deleteFrom(name)
      .where((eb) => eb(cols.length === 1 ? eb.ref(cols[0]) : eb.refTuple(cols[0], cols[1], cols[2]), 'in', oldest))
      .executeTakeFirst();
    const n = Number(numDeletedRows);
    total += n;
    if (n < batch) return total;
  }
}

