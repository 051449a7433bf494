/**
 * Shares one piece of asynchronous work per key, in this process, for `ttlMs` after it started:
 * callers with the same key within that time get the same answer instead of doing the work again
 * (a double submit, copies of a PaymentIntent creation, order-page reads of one PaymentIntent).
 *
 * Built for a long-running server's heap:
 * - Expired entries go at once: each new entry drops the expired ones from the front (a Map keeps
 *   insertion order), so the map holds about `ttlMs` of traffic, never more.
 * - Once the work settles, the entry keeps only its value, not the promise: a promise carries the
 *   AsyncLocalStorage store of the request that made it, and through it Next's request context,
 *   the IncomingMessage and its socket. The maps this replaced kept every answered submit's
 *   promise until they passed 5,000 entries: the soak's heap snapshots (2026-12-07) found 3,785
 *   requests retained that way after ten minutes at two checkouts a second.
 * - Failed work is not shared: the next caller tries again. `keep` can refuse other answers too.
 */
export class RecentResults<K, V> {
  private readonly entries = new Map<K, { at: number; pending?: Promise<V>; value?: V }>();

  constructor(private readonly ttlMs: number) {}

  /** The shared answer for `key` if its work started less than `ttlMs` before `now`, else `run()`'s, shared from now on. */
  share(key: K, run: () => Promise<V>, now = Date.now(), keep: (value: V) => boolean = () => true): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.pending ?? Promise.resolve(hit.value as V);
    this.entries.delete(key);
    for (const [k, e] of this.entries) {
      if (now - e.at < this.ttlMs) break;
      this.entries.delete(k);
    }
    const pending = run();
    const entry: { at: number; pending?: Promise<V>; value?: V } = { at: now, pending };
    this.entries.set(key, entry);
    const forget = () => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    };
    pending.then(
      (value) => {
        if (!keep(value)) return forget();
        entry.value = value;
        entry.pending = undefined;
      },
      forget,
    );
    return pending;
  }

  /** Entries held now, expired ones not yet dropped included. */
  get size(): number {
    return this.entries.size;
  }
}
