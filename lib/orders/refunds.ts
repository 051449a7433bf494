// Admin refunds. The confirmation step names the refund number it will create; the Refund row
// for that number, with idempotency key brisk:refund:<orderId>:<n>, is reserved under the order
// row lock before Stripe is called. A double click, a resubmit or a retry after a timeout
// carries the same number, finds the same row and reuses the same key, so Stripe sees one
// refund. A confirmation for a number that is no longer next (someone else refunded in
// between) is refused as stale, and the amount is checked against what remains.
import 'server-only';
import type { PrismaClient, Prisma } from '@/lib/generated/prisma/client';
import { audit } from '@/lib/admin/audit';
import { formatMoney } from '@/lib/money';
import { applyRefunds, findAndLockOrder } from '@/lib/orders/apply';
import { toPayment, toRefund } from '@/lib/stripe/payment';
import { hasBeenPaid } from '@/lib/orders/state-machine';
import { StripeUnavailableError, type StripeGateway } from '@/lib/stripe/gateway';

export function refundIdempotencyKey(orderId: string, refundNumber: number): string {
  return `brisk:refund:${orderId}:${refundNumber}`;
}

const NOT_COUNTED = new Set(['failed', 'canceled']);

export interface RefundPlan {
  orderId: string;
  currency: string;
  amountPaid: number;
  /** Refunded or reserved so far. */
  committed: number;
  refundable: number;
  nextRefundNumber: number;
  paymentIntentId: string | null;
}

type Db = PrismaClient | Prisma.TransactionClient;

/** What can still be refunded, and the number the next refund will get. */
export async function refundPlan(db: Db, orderId: string): Promise<RefundPlan | null> {
  const order = await db.order.findUnique({ where: { id: orderId }, select: { id: true, status: true, currency: true, amountPaid: true, amountRefunded: true, paymentIntentId: true } });
  if (!order) return null;
  const refunds = await db.refund.findMany({ where: { orderId }, select: { refundNumber: true, amount: true, status: true, paymentIntentId: true } });
  // Only refunds of the sale count against it: automatic refunds of stray payments (another
  // PaymentIntent) give back money the order never kept.
  const ofSale = (r: { paymentIntentId: string | null }) => r.paymentIntentId === null || r.paymentIntentId === order.paymentIntentId;
  const counted = refunds.filter((r) => !NOT_COUNTED.has(r.status) && ofSale(r)).reduce((s, r) => s + r.amount, 0);
  const committed = Math.max(order.amountRefunded, counted);
  const paid = hasBeenPaid(order.status) ? order.amountPaid : 0;
  return {
    orderId,
    currency: order.currency,
    amountPaid: paid,
    committed,
    refundable: Math.max(0, paid - committed),
    nextRefundNumber: refunds.reduce((m, r) => Math.max(m, r.refundNumber), 0) + 1,
    paymentIntentId: order.paymentIntentId,
  };
}

export interface RefundRequest {
  orderId: string;
  /** Minor units. */
  amount: number;
  /** The number the confirmation step showed. */
  refundNumber: number;
  actor: string;
  ip?: string | null;
  reason?: 'requested_by_customer' | 'fraudulent' | 'duplicate';
}

export type RefundOutcome =
  | { kind: 'ok'; refundId: string; stripeRefundId: string; status: string; amount: number; reused: boolean }
  | { kind: 'invalid' | 'not_refundable' | 'over_refund' | 'stale'; message: string }
  | { kind: 'unavailable'; message: string }
  | { kind: 'failed'; message: string };

const TX_OPTIONS = { maxWait: 20_000, timeout: 20_000 } as const;

export async function requestRefund(prisma: PrismaClient, gateway: StripeGateway, req: RefundRequest): Promise<RefundOutcome> {
  if (!Number.isSafeInteger(req.amount) || req.amount <= 0) return { kind: 'invalid', message: 'Enter an amount greater than zero.' };
  if (!Number.isSafeInteger(req.refundNumber) || req.refundNumber < 1) return { kind: 'invalid', message: 'This confirmation is not valid. Start the refund again.' };
  const key = refundIdempotencyKey(req.orderId, req.refundNumber);

  const reserved = await prisma.$transaction(async (tx) => {
    const order = await findAndLockOrder(tx, req.orderId);
    if (!order) return { kind: 'not_refundable' as const, message: 'Order not found.' };
    const existing = await tx.refund.findUnique({ where: { orderId_refundNumber: { orderId: req.orderId, refundNumber: req.refundNumber } } });
    if (existing) {
      // The same confirmation again: same row, same key. Anything else is a stale form.
      if (existing.idempotencyKey !== key || existing.amount !== req.amount) {
        return { kind: 'stale' as const, message: `Refund #${req.refundNumber} already exists for a different amount. Review the order and start again.` };
      }
      if (existing.status === 'failed') return { kind: 'failed' as const, message: `Refund #${req.refundNumber} failed at Stripe. Start a new refund.` };
      return { kind: 'reserved' as const, row: existing, paymentIntentId: order.paymentIntentId, reused: true };
    }
    const plan = (await refundPlan(tx, req.orderId))!;
    if (!hasBeenPaid(order.status) || !order.paymentIntentId) return { kind: 'not_refundable' as const, message: 'Only paid orders can be refunded.' };
    if (req.refundNumber !== plan.nextRefundNumber) {
      return { kind: 'stale' as const, message: 'The order changed since this refund was prepared. Review it and start again.' };
    }
    if (req.amount > plan.refundable) {
      return { kind: 'over_refund' as const, message: `At most ${formatMoney(plan.refundable, order.currency)} can still be refunded.` };
    }
    const row = await tx.refund.create({
      data: { orderId: req.orderId, refundNumber: req.refundNumber, idempotencyKey: key, amount: req.amount, currency: order.currency, status: 'reserved', reason: req.reason ?? null, requestedBy: req.actor, paymentIntentId: order.paymentIntentId },
    });
    await tx.orderEvent.create({ data: { orderId: req.orderId, kind: 'refund_requested', source: 'admin', actor: req.actor, detail: { refundNumber: req.refundNumber, amount: req.amount } } });
    await audit(tx, { actor: req.actor, action: 'order.refund_requested', target: req.orderId, ip: req.ip, detail: { refundNumber: req.refundNumber, amount: req.amount, currency: order.currency, idempotencyKey: key } });
    return { kind: 'reserved' as const, row, paymentIntentId: order.paymentIntentId, reused: false };
  }, TX_OPTIONS);
  if (reserved.kind !== 'reserved') return reserved;
  const { row } = reserved;

  let refund;
  try {
    refund = await gateway.createRefund(
      {
        payment_intent: reserved.paymentIntentId!,
        amount: row.amount,
        ...(row.reason ? { reason: row.reason as 'requested_by_customer' } : {}),
        metadata: { order_id: req.orderId, refund_id: row.id, refund_number: String(row.refundNumber) },
      },
      { idempotencyKey: row.idempotencyKey },
    );
  } catch (err) {
    if (err instanceof StripeUnavailableError) {
      // The row stays reserved: confirming again reuses its key.
      return { kind: 'unavailable', message: 'Stripe is not answering right now. The refund was not confirmed; press Confirm again to retry safely.' };
    }
    const message = (err as { message?: string }).message ?? 'Stripe refused the refund.';
    await prisma.refund.updateMany({ where: { id: row.id, stripeRefundId: null }, data: { status: 'failed' } });
    await audit(prisma, { actor: req.actor, action: 'order.refund_failed', target: req.orderId, ip: req.ip, detail: { refundNumber: row.refundNumber, message } });
    return { kind: 'failed', message: `Stripe refused the refund: ${message}` };
  }

  // A webhook may already have bound this Stripe refund to the row through its metadata.
  await prisma.refund.updateMany({ where: { id: row.id }, data: { stripeRefundId: refund.id, ...(row.status === 'reserved' ? { status: refund.status ?? 'pending' } : {}) } });
  try {
    // Bring the order's totals, status and ledger up to date now, not when the webhook comes.
    const pi = await gateway.retrievePaymentIntent(reserved.paymentIntentId!);
    await applyRefunds(prisma, { payment: toPayment(pi), refunds: [toRefund(refund)] }, { source: 'admin', actor: req.actor });
  } catch (err) {
    if (!(err instanceof StripeUnavailableError)) throw err;
    // The refund exists at Stripe; the webhook or reconciliation applies it.
  }
  return { kind: 'ok', refundId: row.id, stripeRefundId: refund.id, status: refund.status ?? 'pending', amount: row.amount, reused: reserved.reused };
}
