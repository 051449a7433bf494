// Per-minute aggregates of Stripe calls for the admin latency chart (GatewayCallStat). Calls
// are summed in memory and flushed in one statement every few seconds, off the request path;
// concurrent instances add to the same rows.
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { sqlOf } from '@/lib/db/sql';

interface Agg {
  bucket: Date;
  operation: string;
  outcome: string;
  count: number;
  totalMs: number;
  maxMs: number;
}

export class CallStatsRecorder {
  private pending = new Map<string, Agg>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly prisma: () => Promise<PrismaClient>,
    private readonly flushEveryMs = 10_000,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  record(operation: string, outcome: string, durationMs: number, at = Date.now()): void {
    const bucket = new Date(Math.floor(at / 60_000) * 60_000);
    const key = `${bucket.getTime()}|${operation}|${outcome}`;
    const ms = Math.max(0, Math.round(durationMs));
    const agg = this.pending.get(key);
    if (agg) {
      agg.count++;
      agg.totalMs += ms;
      agg.maxMs = Math.max(agg.maxMs, ms);
    } else {
      this.pending.set(key, { bucket, operation, outcome, count: 1, totalMs: ms, maxMs: ms });
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.flush();
      }, this.flushEveryMs);
      this.timer.unref();
    }
  }

  async flush(): Promise<void> {
    if (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const rows = [...this.pending.values()];
    this.pending = new Map();
    this.flushing = (async () => {
      try {
        const prisma = await this.prisma();
        for (const r of rows) {
          await sqlOf(prisma)
            .kysely.insertInto('GatewayCallStat')
            .values({ bucket: r.bucket, operation: r.operation, outcome: r.outcome, count: r.count, totalMs: r.totalMs, maxMs: r.maxMs })
            .onConflict((oc) =>
              oc.columns(['bucket', 'operation', 'outcome']).doUpdateSet((eb) => ({
                count: eb('GatewayCallStat.count', '+', eb.ref('excluded.count')),
                totalMs: eb('GatewayCallStat.totalMs', '+', eb.ref('excluded.totalMs')),
                maxMs: eb.fn('GREATEST', [eb.ref('GatewayCallStat.maxMs'), eb.ref('excluded.maxMs')]),
              })),
            )
            .execute();
        }
      } catch (err) {
        this.onError(err);
      }
    })();
    await this.flushing;
    this.flushing = null;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }
}
