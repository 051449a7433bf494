// Stock holds are the order aggregate's: the checkout takes them (checkout.ts), paying takes the
// stock they hold (apply.ts), and the pruning deletes the ended ones through here.
import { deleteInBatches } from '@/lib/db/batches';
import type { Db } from '@/lib/db/query';

/**
 * Deletes holds released, taken or lapsed before `ended`: only active holds count against stock,
 * and a new hold for the same attempt is an insert. Returns how many went.
 */
export function pruneEndedStockHolds(db: Db, ended: Date, batch: number): Promise<number> {
  return deleteInBatches(db, batch, 'StockHold', ['id'], (eb) =>
    eb.and([
      eb(eb.fn.coalesce('releasedAt', 'takenAt', 'expiresAt'), '<', ended),
      eb.or([eb('releasedAt', 'is not', null), eb('takenAt', 'is not', null), eb('expiresAt', '<', ended)]),
    ]),
  );
}
