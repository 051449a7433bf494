// What the order outbox holds for one order (lib/orders/outbox.ts): the work its transactions
// left for after commit, as the job system's relay would find it.
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { sqlDatabase } from '@/lib/db/sql';
import { pendingOutbox } from '@/lib/orders/outbox';

export interface OrderOutbox {
  /** Emails to send (email.queued). */
  emails: string[];
  /** Reserved refunds to execute (refund.reserved). */
  refunds: string[];
  /** Attempts whose PaymentIntent to cancel (attempt.superseded), as [orderId, attemptNumber]. */
  superseded: [string, number][];
}

export async function outboxOfOrder(prisma: PrismaClient, orderId: string): Promise<OrderOutbox> {
  const messages = await pendingOutbox(sqlDatabase(prisma), 100_000);
  const [emails, refunds] = await Promise.all([
    prisma.email.findMany({ where: { orderId }, select: { id: true } }),
    prisma.refund.findMany({ where: { orderId }, select: { id: true } }),
  ]);
  const emailIds = new Set(emails.map((e) => e.id));
  const refundIds = new Set(refunds.map((r) => r.id));
  const out: OrderOutbox = { emails: [], refunds: [], superseded: [] };
  for (const m of messages) {
    if (m.topic === 'email.queued' && emailIds.has(m.emailId)) out.emails.push(m.emailId);
    if (m.topic === 'refund.reserved' && refundIds.has(m.refundId)) out.refunds.push(m.refundId);
    if (m.topic === 'attempt.superseded' && m.orderId === orderId) out.superseded.push([m.orderId, m.attemptNumber]);
  }
  return out;
}
