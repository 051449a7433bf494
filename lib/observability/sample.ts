// Gauges read at scrape time: job queue depths, webhook lag and the gateway's state. Each part
// is best-effort, so a slow or missing database never breaks /api/metrics.
import 'server-only';
import { db, gatewayState } from '@/lib/services';
import { jobsRunning, queueDepths } from '@/lib/jobs';
import { webhookLagSeconds } from '@/lib/orders/stripe-events';
import { metrics, setDeadLetters, setQueueDepth, setWebhookLagSeconds } from './metrics';

export async function sampleAppGauges(): Promise<void> {
  const g = gatewayState();
  const m = metrics();
  m.stripeConcurrencyLimit.set(g.limit);
  m.stripeInFlight.set(g.inFlight);
  m.stripeQueued.set(g.queued);
  m.stripeBreakerState.set(g.breaker === 'closed' ? 0 : g.breaker === 'half_open' ? 1 : 2);
  m.stripeAlertLevel.set(g.alert === 'ok' ? 0 : g.alert === 'elevated' ? 1 : 2);
  m.stripeBudgetPerSecond.set(g.budgetPerSecond);
  await Promise.all([
    (async () => {
      if (!jobsRunning().started) return;
      const depths = await queueDepths();
      for (const [queue, d] of Object.entries(depths)) setQueueDepth(queue, d.queued);
    })().catch(() => {}),
    (async () => setWebhookLagSeconds(await webhookLagSeconds((await db()).prisma)))().catch(() => {}),
    // The dead-letter lists the admin shows: events that used up their retries, emails that failed for good.
    (async () => {
      const { prisma } = await db();
      const [events, emails] = await Promise.all([prisma.stripeEvent.count({ where: { status: 'dead' } }), prisma.email.count({ where: { status: 'failed' } })]);
      setDeadLetters('stripe-event', events);
      setDeadLetters('email-send', emails);
    })().catch(() => {}),
  ]);
}
