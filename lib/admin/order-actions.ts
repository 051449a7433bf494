// Admin actions on one order besides refunds: cancel an unpaid order (its PaymentIntents are
// canceled at Stripe first, so a shopper can no longer pay it), resend the receipt, and decide
// a risk review. Each is recorded in the audit log with who did it.
import 'server-only';
import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { formatMoney } from '@/lib/money';
import { sqlDatabase } from '@/lib/db/sql';
import { applyPayment } from '@/lib/orders/apply';
import { toPayment } from '@/lib/stripe/payment';
import { requestRefund, refundPlan, type RefundOutcome } from '@/lib/orders/refunds';
import { cancelUnpaid, decideReview, queueReceiptCopy } from '@/lib/orders/commands';
import { canTransition, hasBeenPaid, isOpenPayment } from '@/lib/orders/state-machine';
import { StripeUnavailableError, type StripeGateway } from '@/lib/stripe/gateway';
import { audit } from './audit';

export interface Actor {
  actor: string;
  ip?: string | null;
}

export type ActionOutcome = { kind: 'ok'; message: string } | { kind: 'refused' | 'unavailable' | 'failed'; message: string };

export async function cancelUnpaidOrder(prisma: PrismaClient, gateway: StripeGateway, orderId: string, who: Actor): Promise<ActionOutcome> {
  const order = await prisma.order.findUnique({ where: { id: orderId }, include: { attempts: true } });
  if (!order) return { kind: 'refused', message: 'Order not found.' };
  if (!canTransition(order.status, 'canceled')) return { kind: 'refused', message: `A ${order.status.replace('_', ' ')} order cannot be canceled.` };

  for (const attempt of order.attempts.filter((a) => isOpenPayment(a.status))) {
    try {
      const pi = await gateway.cancelPaymentIntent(attempt.paymentIntentId, { idempotencyKey: `brisk:cancel:${attempt.paymentIntentId}` });
      await applyPayment(prisma, toPayment(pi), { source: 'admin', actor: who.actor });
    } catch (err) {
      if (err instanceof StripeUnavailableError) return { kind: 'unavailable', message: 'Stripe is not answering right now; the order was not canceled. Try again.' };
      // Usually: it succeeded or is processing in the meantime. Take Stripe's current view.
      const pi = await gateway.retrievePaymentIntent(attempt.paymentIntentId).catch(() => null);
      if (pi) await applyPayment(prisma, toPayment(pi), { source: 'admin', actor: who.actor });
      const message = (err as { message?: string }).message ?? 'Stripe refused to cancel the payment.';
      await audit(prisma, { ...who, action: 'order.cancel_failed', target: orderId, detail: { paymentIntentId: attempt.paymentIntentId, message } });
      if (pi?.status === 'succeeded') return { kind: 'refused', message: 'The shopper paid in the meantime; the order is paid and was not canceled.' };
      return { kind: 'failed', message: `Stripe refused to cancel the payment: ${message}` };
    }
  }

  const done = await prisma.$transaction(async (tx) => {
    const canceled = await cancelUnpaid(tx, orderId, { actor: who.actor, reason: 'canceled_by_admin' });
    if (canceled) await audit(tx, { ...who, action: 'order.canceled', target: orderId, detail: { from: canceled.from } });
    return canceled !== null;
  });
  return done ? { kind: 'ok', message: 'Order canceled.' } : { kind: 'refused', message: 'The order changed in the meantime and was not canceled.' };
}

export async function resendReceipt(prisma: PrismaClient, orderId: string, who: Actor): Promise<ActionOutcome> {
  const order = await prisma.order.findUnique({ where: { id: orderId }, include: { items: true } });
  if (!order) return { kind: 'refused', message: 'Order not found.' };
  if (!hasBeenPaid(order.status)) return { kind: 'refused', message: 'Only paid orders have a receipt.' };
  const original = await prisma.email.findFirst({ where: { orderId, kind: 'order_confirmation' }, orderBy: { createdAt: 'asc' } });
  const text =
    original?.text ??
    [
      `Hi ${order.name},`,
      '',
      `Here is the receipt for order ${order.id}.`,
      ...order.items.map((i) => `  ${i.quantity} × ${i.name} = ${formatMoney(i.unitPrice * i.quantity, order.currency)}`),
      `Total: ${formatMoney(order.total, order.currency)}`,
      '',
      '— Brisk',
    ].join('\n');
  const committed = await prisma.$transaction(async (tx) => {
    const queued = await queueReceiptCopy(sqlDatabase(prisma), tx, order, text, who, `receipt-resend:${orderId}:${randomUUID()}`);
    await audit(tx, { ...who, action: 'order.receipt_resent', target: orderId, detail: { emailId: queued.emailId, to: order.email } });
    return queued.committed;
  });
  committed();
  return { kind: 'ok', message: `Receipt queued to ${order.email}.` };
}

/** Approve a held order: its fulfillment proceeds. */
export async function approveReview(prisma: PrismaClient, orderId: string, who: Actor): Promise<ActionOutcome> {
  const ok = await prisma.$transaction(async (tx) => {
    if (!(await decideReview(tx, orderId, 'approved', who))) return false;
    await audit(tx, { ...who, action: 'order.review_approved', target: orderId });
    return true;
  });
  return ok ? { kind: 'ok', message: 'Approved: fulfillment proceeds.' } : { kind: 'refused', message: 'This order is not waiting for review.' };
}

/** Reject a held order: refund what remains and cancel its fulfillment. */
export async function rejectReview(prisma: PrismaClient, gateway: StripeGateway, orderId: string, refundNumber: number, who: Actor): Promise<ActionOutcome> {
  const order = await prisma.order.findUnique({ where: { id: orderId }, select: { reviewStatus: true } });
  if (order?.reviewStatus !== 'pending_review') return { kind: 'refused', message: 'This order is not waiting for review.' };
  const plan = await refundPlan(prisma, orderId);
  let outcome: RefundOutcome | null = null;
  if (plan && plan.refundable > 0) {
    outcome = await requestRefund(prisma, gateway, { orderId, amount: plan.refundable, refundNumber, actor: who.actor, ip: who.ip, reason: 'fraudulent' });
    if (outcome.kind !== 'ok') return { kind: outcome.kind === 'unavailable' ? 'unavailable' : 'failed', message: outcome.message };
  }
  await prisma.$transaction(async (tx) => {
    if (!(await decideReview(tx, orderId, 'rejected', who, outcome?.kind === 'ok' ? { refundId: outcome.stripeRefundId } : {}))) return;
    await audit(tx, { ...who, action: 'order.review_rejected', target: orderId, detail: outcome?.kind === 'ok' ? { refunded: outcome.amount } : {} });
  });
  return { kind: 'ok', message: outcome?.kind === 'ok' ? `Rejected and refunded ${formatMoney(outcome.amount, plan!.currency)}.` : 'Rejected.' };
}
