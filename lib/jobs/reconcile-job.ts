// The scheduled reconciliation: every 15 minutes, Stripe's last 24 hours against our orders.
// Registered by the job worker (lib/jobs/index.ts) when it runs handlers:
//   await registerReconcileJob(boss, { prisma, gateway: () => stripeGateway() });
import 'server-only';
import type { PgBoss } from 'pg-boss';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { defaultWindow, runReconciliation } from '@/lib/orders/reconcile';
import type { StripeGateway } from '@/lib/stripe/gateway';

export const RECONCILE_QUEUE = 'reconcile';
export const RECONCILE_CRON = '*/15 * * * *';

export interface ReconcileJobDeps {
  prisma: PrismaClient;
  gateway: () => StripeGateway;
  /** RECONCILE_CRON (config): when to run; blank or unset: every 15 minutes. */
  cron?: string;
  /** Schedule the cron (default true); false registers only the handler. */
  schedule?: boolean;
}

export async function registerReconcileJob(boss: PgBoss, deps: ReconcileJobDeps): Promise<string> {
  // One run at a time is enough; a run that outlives 10 minutes is expired and retried next time.
  if (!(await boss.getQueue(RECONCILE_QUEUE))) await boss.createQueue(RECONCILE_QUEUE, { retryLimit: 0, expireInSeconds: 600, policy: 'singleton' });
  const id = await boss.work(RECONCILE_QUEUE, { pollingIntervalSeconds: 5 }, async () => {
    const summary = await runReconciliation(deps.prisma, deps.gateway(), { ...defaultWindow(), trigger: 'schedule' });
    return { runId: summary.runId, status: summary.status, healed: summary.healed, unresolved: summary.unresolved };
  });
  // RECONCILE_CRON overrides the schedule; 'off' leaves only the admin's "Run now" (the browser
  // specs use it so a scheduled run cannot heal an order before the test's own run).
  const cron = deps.cron?.trim() || RECONCILE_CRON;
  if (deps.schedule ?? true) {
    if (cron === 'off') await boss.unschedule(RECONCILE_QUEUE).catch(() => {});
    else await boss.schedule(RECONCILE_QUEUE, cron, null, { retryLimit: 0 });
  }
  return id;
}
