// What /api/health reports: can we reach the database, is its schema current, is the job
// worker running, how deep are the queues, how far behind are webhooks.
import 'server-only';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { sqlOf } from '@/lib/db/sql';
import { jobsRunning, queueDepths, type QueueDepth } from '@/lib/jobs';
import { webhookLagSeconds } from '@/lib/orders/stripe-events';
import { type GatewayState } from '@/lib/stripe/gateway';
import { gatewayState } from '@/lib/services';

export interface HealthReport {
  ready: boolean;
  database: { ok: boolean; error?: string };
  migrations: { ok: boolean; pending: string[] };
  worker: { expected: boolean; running: boolean; jobsStarted: boolean };
  queues: Record<string, QueueDepth> | null;
  webhookLagSeconds: number | null;
  /** `state` is the breaker; the rest is the gateway's full state (limit, queue, alert, budget). */
  gateway: { state: 'closed' | 'open' | 'half_open' } & Partial<GatewayState>;
}

export interface HealthDeps {
  prisma: () => Promise<PrismaClient>;
  /** Whether this process should be running the worker (WORKER_MODE=inline). */
  workerExpected: boolean;
  migrationsDir?: string;
}

/** Prisma's own bookkeeping table (not in the schema, so not in the generated types). */
interface PrismaMigration {
  migration_name: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

function expectedMigrations(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

export async function readHealth(deps: HealthDeps): Promise<HealthReport> {
  const jobs = jobsRunning();
  const report: HealthReport = {
    ready: false,
    database: { ok: false },
    migrations: { ok: false, pending: [] },
    worker: { expected: deps.workerExpected, running: jobs.worker, jobsStarted: jobs.started },
    queues: null,
    webhookLagSeconds: null,
    gateway: gatewayHealth(),
  };
  let prisma: PrismaClient;
  try {
    prisma = await deps.prisma();
    await sql`SELECT 1`.execute(sqlOf(prisma).kysely);
    report.database.ok = true;
  } catch (err) {
    report.database.error = err instanceof Error ? err.message.split('\n')[0].slice(0, 200) : 'unreachable';
    return report;
  }
  try {
    const applied = await sqlOf(prisma)
      .kysely.withTables<{ _prisma_migrations: PrismaMigration }>()
      .selectFrom('_prisma_migrations')
      .select('migration_name')
      .where('finished_at', 'is not', null)
      .where('rolled_back_at', 'is', null)
      .execute();
    const done = new Set(applied.map((m) => m.migration_name));
    report.migrations.pending = expectedMigrations(deps.migrationsDir ?? join(process.cwd(), 'prisma', 'migrations')).filter((m) => !done.has(m));
    report.migrations.ok = report.migrations.pending.length === 0;
  } catch {
    report.migrations.ok = false;
  }
  report.webhookLagSeconds = await webhookLagSeconds(prisma).catch(() => null);
  if (jobs.started) report.queues = await queueDepths().catch(() => null);
  report.ready = report.database.ok && report.migrations.ok && (!deps.workerExpected || report.worker.running);
  return report;
}

// Stripe being down degrades checkout but does not make this instance unready: catalog, cart
// and admin keep working, so the gateway is reported, never counted against `ready`.
function gatewayHealth(): HealthReport['gateway'] {
  const g = gatewayState();
  return { state: g.breaker, ...g };
}
