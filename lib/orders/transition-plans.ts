// Decide, then persist, for the order's other moves (entering paid is paid-plan.ts): pure
// functions from the order as locked, the attempt and our own Payment / refunds to what the
// transaction writes. apply.ts reads the rows, asks these, and writes what they say.
import type { OrderStatus, ReviewStatus } from '@/lib/generated/prisma/enums';
import type { PaymentStatus } from '@/lib/stripe/payment';
import { ACCOUNTS, ledgerLines, type LedgerLine } from './ledger';
import { canTransition, orderStatusForPaymentIntent, orderStatusForRefunds } from './state-machine';

export interface Move {
  to: OrderStatus;
  detail: Record<string, string | number | null>;
}

export interface PaymentUpdateInput {
  order: { status: OrderStatus; attemptCount: number; paymentIntentId: string | null };
  /** The payment's attempt as recorded (null: no attempt row is known for it). */
  attempt: { superseded: boolean } | null;
  /** The attempt number the payment belongs to (from its row, else from its metadata). */
  attemptNumber: number | null;
  payment: { id: string; status: PaymentStatus; failed: boolean };
}

export interface PaymentUpdatePlan {
  /** Whether this payment speaks for the order's current attempt. */
  current: boolean;
  /** The attempt whose held stock goes back (a failed or canceled current attempt), or null. */
  releaseHoldsOf: number | null;
  move: Move | null;
}

/**
 * A PaymentIntent that did not succeed (declined, canceled, processing, waiting for the shopper):
 * only the current attempt speaks for the order, and the order only moves where the state
 * machine allows.
 */
export function planPaymentUpdate(i: PaymentUpdateInput): PaymentUpdatePlan {
  const { order, payment, attemptNumber } = i;
  // The attempt number is the truth about "current": order.paymentIntentId is written after
  // the PaymentIntent is created, so a fast webhook can arrive before it moves.
  const current =
    attemptNumber !== null ? attemptNumber === order.attemptCount && !i.attempt?.superseded : order.paymentIntentId === null || order.paymentIntentId === payment.id;
  // A failed or canceled current attempt no longer needs its stock.
  const ended = payment.status === 'canceled' || (payment.status === 'requires_payment_method' && payment.failed);
  const target = orderStatusForPaymentIntent(payment.status, current);
  return {
    current,
    releaseHoldsOf: current && attemptNumber !== null && ended ? attemptNumber : null,
    move: target && canTransition(order.status, target) ? { to: target, detail: { paymentIntentId: payment.id, attempt: attemptNumber, paymentIntentStatus: payment.status } } : null,
  };
}

export interface RefundsPlanInput {
  order: { id: string; status: OrderStatus; amountPaid: number; amountRefunded: number };
  payment: { id: string; currency: string; /** Stripe's refunded total on the latest charge, when known. */ chargeAmountRefunded: number | null };
  /** Whether the payment is the order's sale (else a stray payment the order did not keep). */
  ofSale: boolean;
  /** Every refund of the payment as recorded now, and whether this transaction claimed its ledger key. */
  refunds: { stripeRefundId: string; amount: number; currency: string; status: string; ledgerClaimed: boolean }[];
}

export interface RefundsPlan {
  /** One balanced transaction per refund that succeeded and was not on the books yet. */
  ledger: LedgerLine[];
  /** The order's refunded total (unchanged for a stray payment's refunds). */
  amountRefunded: number;
  move: Move | null;
}

/**
 * Refunds of one payment: each succeeded refund once on the books (from Stripe's balance, against
 * sales when it reverses the sale, against unexpected payments when it returns a stray payment),
 * and, for the sale, the refunded total and the status it implies. The total never exceeds what
 * was paid and never shrinks (snapshots can be stale; Stripe's own total wins when larger).
 */
export function planRefunds(i: RefundsPlanInput): RefundsPlan {
  const { order, payment, ofSale } = i;
  const ledger = i.refunds
    .filter((r) => r.status === 'succeeded' && r.ledgerClaimed)
    .flatMap((r) =>
      ledgerLines(`refund:${r.stripeRefundId}`, r.currency, `refund ${r.stripeRefundId} of ${payment.id}`, [
        [ofSale ? ACCOUNTS.refunds : ACCOUNTS.unexpectedPayments, r.amount],
        [ACCOUNTS.stripeBalance, -r.amount],
      ]),
    );
  if (!ofSale) return { ledger, amountRefunded: order.amountRefunded, move: null };
  const listed = i.refunds.filter((r) => r.status !== 'failed' && r.status !== 'canceled').reduce((sum, r) => sum + r.amount, 0);
  const amountRefunded = Math.min(order.amountPaid, Math.max(order.amountRefunded, payment.chargeAmountRefunded ?? 0, listed));
  const target = orderStatusForRefunds(order.amountPaid, amountRefunded);
  return {
    ledger,
    amountRefunded,
    move: canTransition(order.status, target) ? { to: target, detail: { amountRefunded, amountPaid: order.amountPaid } } : null,
  };
}

/** An admin's cancel of an order nobody paid: the move, or null when it can no longer be canceled. */
export function planAdminCancel(order: { status: OrderStatus }, reason: string): Move | null {
  return canTransition(order.status, 'canceled') ? { to: 'canceled', detail: { reason } } : null;
}

export type ReviewDecision = 'approved' | 'rejected';

export interface ReviewDecisionPlan {
  reviewStatus: ReviewDecision;
  /** The fulfilment moves only from these statuses (one that started shipping is left as it is). */
  fulfillment: { from: ('on_hold' | 'pending')[]; to: 'pending' | 'canceled'; note: string };
  event: { kind: 'review_approved' | 'review_rejected' };
}

/**
 * An admin's decision on a risk review: approved lets a held fulfilment go on, rejected cancels
 * one that has not started. Null when the order is not waiting for a review (a decided review is
 * never decided again).
 */
export function planReviewDecision(order: { reviewStatus: ReviewStatus }, decision: ReviewDecision, actor: string): ReviewDecisionPlan | null {
  if (order.reviewStatus !== 'pending_review') return null;
  return decision === 'approved'
    ? { reviewStatus: 'approved', fulfillment: { from: ['on_hold'], to: 'pending', note: `approved by ${actor}` }, event: { kind: 'review_approved' } }
    : { reviewStatus: 'rejected', fulfillment: { from: ['on_hold', 'pending'], to: 'canceled', note: `rejected by ${actor}` }, event: { kind: 'review_rejected' } };
}
