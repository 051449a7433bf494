// Read models for the admin pages that are more than one query: order detail, review queue,
// reconciliation runs, operations. Our database only.
import 'server-only';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { refundPlan } from '@/lib/orders/refunds';

export async function loadOrderDetail(prisma: PrismaClient, orderId: string) {
  if (!/^[0-9a-f-]{36}$/i.test(orderId)) return null;
  const order = await prisma.order.findUnique({
    where: { id: orderId },
    include: {
      items: true,
      attempts: { orderBy: { attemptNumber: 'asc' } },
      events: { orderBy: { createdAt: 'asc' }, take: 500 },
      emails: { orderBy: { createdAt: 'asc' } },
      ledgerEntries: { orderBy: [{ createdAt: 'asc' }, { txKey: 'asc' }] },
      refunds: { orderBy: { refundNumber: 'asc' } },
      fulfillment: true,
    },
  });
  if (!order) return null;
  const piIds = order.attempts.map((a) => a.paymentIntentId);
  const [stripeEvents, audit, plan] = await Promise.all([
    piIds.length ? prisma.stripeEvent.findMany({ where: { objectId: { in: piIds } }, orderBy: { apiCreated: 'asc' }, take: 200, select: { id: true, type: true, status: true, apiCreated: true, receivedAt: true, processedAt: true, lastError: true } }) : [],
    prisma.auditLog.findMany({ where: { target: orderId }, orderBy: { createdAt: 'asc' }, take: 200 }),
    refundPlan(prisma, orderId),
  ]);
  return { order, stripeEvents, audit, plan: plan! };
}
export type OrderDetail = NonNullable<Awaited<ReturnType<typeof loadOrderDetail>>>;

export type TimelineItem = { at: Date; what: string; source: string; detail?: string };

/** The order's own events, its Stripe events and the admins' actions on it, in time order. */
export function orderTimeline({ order, stripeEvents, audit }: OrderDetail): TimelineItem[] {
  return [
    ...order.events.map((e) => ({
      at: e.createdAt,
      what: e.kind === 'status_changed' ? `Status ${e.fromStatus ?? '—'} → ${e.toStatus}` : e.kind.replace(/_/g, ' '),
      source: `${e.source}${e.actor ? ` · ${e.actor}` : ''}`,
      detail: e.detail ? JSON.stringify(e.detail) : undefined,
    })),
    ...stripeEvents.map((e) => ({ at: e.receivedAt, what: `Stripe ${e.type}`, source: `webhook · ${e.status}`, detail: `${e.id}${e.lastError ? ` · ${e.lastError}` : ''}` })),
    ...audit.map((a) => ({ at: a.createdAt, what: `Admin: ${a.action}`, source: a.actor, detail: a.detail ? JSON.stringify(a.detail) : undefined })),
  ].sort((a, b) => a.at.getTime() - b.at.getTime());
}

export function loadReviewQueue(prisma: PrismaClient) {
  return prisma.order.findMany({
    where: { reviewStatus: 'pending_review' },
    orderBy: { createdAt: 'asc' },
    take: 200,
    select: { id: true, createdAt: true, email: true, total: true, currency: true, amountRefunded: true, riskScore: true, riskLevel: true, riskReasons: true, status: true, refunds: { select: { refundNumber: true } } },
  });
}

export function loadReconciliationRuns(prisma: PrismaClient, take = 20) {
  return prisma.reconciliationRun.findMany({ orderBy: { startedAt: 'desc' }, take, include: { findings: { orderBy: [{ healed: 'asc' }, { createdAt: 'asc' }], take: 200 } } });
}

export async function loadOpsData(prisma: PrismaClient) {
  const since = new Date(Date.now() - 15 * 60_000);
  const [dead, eventCounts, emailCounts, recentEmails, calls, sessions] = await Promise.all([
    prisma.stripeEvent.findMany({ where: { status: { in: ['dead', 'failed'] } }, orderBy: { receivedAt: 'desc' }, take: 100, select: { id: true, type: true, objectId: true, status: true, attempts: true, lastError: true, receivedAt: true } }),
    prisma.stripeEvent.groupBy({ by: ['status'], _count: true }),
    prisma.email.groupBy({ by: ['status'], _count: true }),
    prisma.email.findMany({ orderBy: { createdAt: 'desc' }, take: 50, select: { id: true, to: true, subject: true, kind: true, status: true, createdAt: true, sentAt: true, error: true, orderId: true } }),
    prisma.gatewayCallStat.groupBy({ by: ['operation', 'outcome'], where: { bucket: { gte: since } }, _sum: { count: true, totalMs: true }, _max: { maxMs: true } }),
    prisma.adminSession.findMany({ where: { revokedAt: null, expiresAt: { gt: new Date() } }, orderBy: { lastSeenAt: 'desc' }, take: 50, include: { user: { select: { email: true } } } }),
  ]);
  return {
    dead,
    eventCounts: Object.fromEntries(eventCounts.map((c) => [c.status, c._count])) as Record<string, number>,
    emailCounts: Object.fromEntries(emailCounts.map((c) => [c.status, c._count])) as Record<string, number>,
    recentEmails,
    calls: calls.map((c) => ({ operation: c.operation, outcome: c.outcome, count: c._sum.count ?? 0, avgMs: c._sum.count ? Math.round((c._sum.totalMs ?? 0) / c._sum.count) : 0, maxMs: c._max.maxMs ?? 0 })),
    sessions,
  };
}
