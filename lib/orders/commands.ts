// Changes to an order that people make (an admin), not Stripe: through the same lock, status
// change and timeline writer as a payment's (apply.ts), inside the caller's transaction so the
// caller records who did it (the audit log) in the same commit.
import 'server-only';
import type { Prisma } from '@/lib/generated/prisma/client';
import { sqlOf, type SqlDatabase } from '@/lib/db/sql';
import { writeOutbox } from './outbox';
import { findAndLockOrder, lockOrder, moveOrder, releaseHolds } from './apply';
import type { OrderStatus } from '@/lib/generated/prisma/enums';
import { planAdminCancel, planReviewDecision, type ReviewDecision } from './transition-plans';

type Tx = Prisma.TransactionClient;

export interface ByPerson {
  actor: string;
}

/**
 * Cancels an order nobody paid: its held stock goes back on sale. Null when it can no longer be
 * canceled (paid, or canceled already, since the caller looked).
 */
export async function cancelUnpaid(tx: Tx, orderId: string, by: ByPerson & { reason: string }): Promise<{ from: OrderStatus } | null> {
  const order = await lockOrder(tx, orderId);
  const from = order.status;
  const move = planAdminCancel(order, by.reason);
  if (!move) return null;
  const sql = sqlOf(tx);
  await releaseHolds(sql, orderId, new Date());
  await moveOrder(sql, order, move.to, { source: 'admin', actor: by.actor }, move.detail);
  return { from };
}

/**
 * Records an admin's decision on a risk review (planReviewDecision): approved lets fulfilment go
 * on; rejected cancels it. False when the order was not waiting for one.
 */
export async function decideReview(tx: Tx, orderId: string, decision: ReviewDecision, by: ByPerson, detail?: Prisma.InputJsonValue): Promise<boolean> {
  const order = await findAndLockOrder(tx, orderId);
  const plan = order && planReviewDecision(order, decision, by.actor);
  if (!plan) return false;
  await tx.order.update({ where: { id: orderId }, data: { reviewStatus: plan.reviewStatus } });
  const f = plan.fulfillment;
  await tx.fulfillment.updateMany({ where: { orderId, status: { in: f.from } }, data: { status: f.to, note: f.note } });
  await tx.orderEvent.create({ data: { orderId, kind: plan.event.kind, source: 'admin', actor: by.actor, ...(detail !== undefined ? { detail } : {}) } });
  return true;
}

/**
 * Queues a copy of a paid order's receipt (a new email, the original text), notes it on the
 * timeline, and hands the email to the outbox, so it is sent now rather than when the sweep
 * finds it. `db` is the database `tx` belongs to. Returns what to call after commit.
 */
export async function queueReceiptCopy(
  db: SqlDatabase,
  tx: Tx,
  order: { id: string; email: string },
  text: string,
  by: ByPerson,
  dedupeKey: string,
): Promise<{ emailId: string; committed: () => void }> {
  const email = await tx.email.create({
    data: { dedupeKey, orderId: order.id, to: order.email, subject: `Your Brisk receipt for order ${order.id.slice(0, 8)}`, text, kind: 'receipt_resend', status: 'queued' },
  });
  await tx.orderEvent.create({ data: { orderId: order.id, kind: 'receipt_resent', source: 'admin', actor: by.actor, detail: { emailId: email.id } } });
  const committed = await writeOutbox(db, sqlOf(tx), [{ topic: 'email.queued', emailId: email.id }]);
  return { emailId: email.id, committed };
}
