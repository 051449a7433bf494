// What a succeeded payment means for its order: a pure decision, so the money invariant lives
// in one place and is tested as one (payment-decision.test.ts, property-based).
//
// The invariant: an order is paid only by a succeeded PaymentIntent of its *current* attempt,
// in the order's currency, whose amount received is exactly the total priced for that attempt.
// Every other success is a stray payment: it never fulfils, and is refunded automatically.
import type { OrderStatus } from '@/lib/generated/prisma/enums';
import { hasBeenPaid } from './state-machine';

export interface OrderFacts {
  status: OrderStatus;
  /** The number of the order's current attempt. */
  attemptCount: number;
  total: number;
  currency: string;
  /** The PaymentIntent that paid the order, once paid (before: the latest attempt's). */
  paymentIntentId: string | null;
}

export interface AttemptFacts {
  attemptNumber: number;
  /** What the attempt priced (null on rows written before attempts kept their price). */
  amount: number | null;
  currency: string | null;
  superseded: boolean;
}

export interface SucceededPayment {
  paymentIntentId: string;
  amountReceived: number;
  currency: string;
  /** The attempt number our metadata names, when the attempt row is not known. */
  metadataAttempt: number | null;
}

export type StrayReason = 'superseded' | 'already_paid' | 'order_canceled' | 'currency_mismatch' | 'amount_mismatch' | 'out_of_stock';

export type PaymentDecision =
  /** Enter paid (stock permitting: without it the payment is stray, `out_of_stock`). */
  | { kind: 'pay' }
  /** This very PaymentIntent already paid the order: nothing to do. */
  | { kind: 'already_applied' }
  /** Money the order must not keep: record it and refund it, once. */
  | { kind: 'stray'; reason: StrayReason };

export function decideSucceededPayment(order: OrderFacts, attempt: AttemptFacts | null, pi: SucceededPayment): PaymentDecision {
  if (hasBeenPaid(order.status)) {
    return order.paymentIntentId === pi.paymentIntentId ? { kind: 'already_applied' } : { kind: 'stray', reason: 'already_paid' };
  }
  if (order.status === 'canceled') return { kind: 'stray', reason: 'order_canceled' };
  const attemptNumber = attempt?.attemptNumber ?? pi.metadataAttempt;
  // Without any attempt number, only the PaymentIntent the order points at can be current.
  const current = attemptNumber !== null ? attemptNumber === order.attemptCount && !attempt?.superseded : order.paymentIntentId === pi.paymentIntentId;
  if (!current) return { kind: 'stray', reason: 'superseded' };
  if (pi.currency !== order.currency || (attempt?.currency != null && attempt.currency !== order.currency)) return { kind: 'stray', reason: 'currency_mismatch' };
  // The attempt's own price must be the order's total, and the money received exactly that.
  if ((attempt?.amount != null && attempt.amount !== order.total) || pi.amountReceived !== order.total) return { kind: 'stray', reason: 'amount_mismatch' };
  return { kind: 'pay' };
}

/** Words for the timeline and the admin. */
export const STRAY_REASON_TEXT: Record<StrayReason, string> = {
  superseded: 'paid an earlier version of the cart',
  already_paid: 'the order was already paid',
  order_canceled: 'the order was canceled',
  currency_mismatch: 'paid in another currency',
  amount_mismatch: 'the amount did not match the order total',
  out_of_stock: 'the items were no longer in stock',
};
