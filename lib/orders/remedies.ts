// What the shop does at Stripe on its own to keep money equal to what orders are worth:
// cancel the PaymentIntent of an attempt a newer one superseded, and refund a stray payment.
// Both run as jobs after the commit that decided them (or from the sweep), through the
// gateway, under idempotency keys derived from our records, so a retry, a duplicate job or a
// crash lands on the same Stripe object.
import { z } from 'zod';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import type { StripeGateway } from '@/lib/stripe/gateway';
import { toPayment, toRefund } from '@/lib/stripe/payment';
import { applyPayment, applyRefunds } from './apply';

export type RemedyGateway = Pick<StripeGateway, 'cancelPaymentIntent' | 'createRefund' | 'retrievePaymentIntent'>;

export const RemedyJobData = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('refund'), refundId: z.string().uuid() }),
  z.object({ kind: z.literal('cancel'), orderId: z.string().uuid(), attemptNumber: z.number().int().positive() }),
]);
export type RemedyJobData = z.infer<typeof RemedyJobData>;

export function cancelIdempotencyKey(paymentIntentId: string): string {
  return `brisk:pi-cancel:${paymentIntentId}`;
}

function stripeCode(err: unknown): string | undefined {
  return (err as { code?: string; raw?: { code?: string } })?.code ?? (err as { raw?: { code?: string } })?.raw?.code;
}

/**
 * Executes a reserved system refund (a stray payment). Idempotent: the row's key makes Stripe
 * answer a repeat with the same refund; the row keeps its Stripe id once known.
 */
export async function executeSystemRefund(prisma: PrismaClient, gateway: RemedyGateway, refundId: string): Promise<'refunded' | 'done' | 'missing'> {
  const row = await prisma.refund.findUnique({ where: { id: refundId } });
  if (!row || !row.paymentIntentId) return 'missing';
  if (row.stripeRefundId) return 'done';
  const refund = await gateway.createRefund(
    { payment_intent: row.paymentIntentId, amount: row.amount, reason: 'duplicate', metadata: { order_id: row.orderId, refund_id: row.id, refund_number: String(row.refundNumber) } },
    { idempotencyKey: row.idempotencyKey },
  );
  await prisma.refund.updateMany({ where: { id: row.id, stripeRefundId: null }, data: { stripeRefundId: refund.id, status: refund.status ?? 'pending' } });
  // The ledger and the row's final status follow from Stripe's answer now, not only when the
  // refund's webhook arrives.
  const pi = await gateway.retrievePaymentIntent(row.paymentIntentId);
  await applyRefunds(prisma, { payment: toPayment(pi), refunds: [toRefund(refund)] }, { source: 'reconcile', actor: 'system' });
  return 'refunded';
}

/**
 * Cancels the PaymentIntent of a superseded attempt so a stale tab can no longer pay it. When
 * Stripe says it cannot be canceled (it succeeded or is processing meanwhile), its real state
 * is applied instead: a success on a superseded attempt becomes a stray payment, refunded.
 */
export async function cancelSupersededAttempt(prisma: PrismaClient, gateway: RemedyGateway, orderId: string, attemptNumber: number): Promise<'canceled' | 'applied' | 'nothing'> {
  const attempt = await prisma.paymentAttempt.findUnique({ where: { orderId_attemptNumber: { orderId, attemptNumber } } });
  if (!attempt || !attempt.supersededAt || ['succeeded', 'canceled', 'processing'].includes(attempt.status)) return 'nothing';
  try {
    const pi = await gateway.cancelPaymentIntent(attempt.paymentIntentId, { idempotencyKey: cancelIdempotencyKey(attempt.paymentIntentId) });
    await applyPayment(prisma, toPayment(pi), { source: 'reconcile', actor: 'system' });
    return 'canceled';
  } catch (err) {
    if (stripeCode(err) !== 'payment_intent_unexpected_state') throw err;
    await applyPayment(prisma, toPayment(await gateway.retrievePaymentIntent(attempt.paymentIntentId)), { source: 'reconcile', actor: 'system' });
    return 'applied';
  }
}

/** Work the sweep finds from the rows: reserved system refunds and superseded attempts still open at Stripe. */
export async function pendingRemedies(prisma: PrismaClient, olderThan: Date): Promise<RemedyJobData[]> {
  const refunds = await prisma.refund.findMany({
    where: { requestedBy: 'system', stripeRefundId: null, status: 'reserved', createdAt: { lt: olderThan } },
    select: { id: true },
    take: 200,
  });
  const attempts = await prisma.paymentAttempt.findMany({
    where: { supersededAt: { lt: olderThan }, status: { notIn: ['succeeded', 'canceled', 'processing'] } },
    select: { orderId: true, attemptNumber: true },
    take: 200,
  });
  return [...refunds.map((r) => ({ kind: 'refund' as const, refundId: r.id })), ...attempts.map((a) => ({ kind: 'cancel' as const, orderId: a.orderId, attemptNumber: a.attemptNumber }))];
}
