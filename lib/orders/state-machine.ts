// The order state machine: one table of allowed moves, and the one place a PaymentIntent's
// status is translated into the order status it implies. Everything else asks these two.
import type { OrderStatus } from '@/lib/generated/prisma/enums';
import type { PaymentStatus } from '@/lib/stripe/payment';

export const ORDER_STATUSES = ['pending', 'processing', 'paid', 'partially_refunded', 'refunded', 'canceled'] as const satisfies readonly OrderStatus[];

// Forward only. The one step back is processing → pending: a declined attempt leaves the
// order open for another card. paid is reachable from both open states because a webhook
// for `processing` may never arrive (or arrive after `succeeded`).
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending: ['processing', 'paid', 'canceled'],
  processing: ['pending', 'paid', 'canceled'],
  paid: ['partially_refunded', 'refunded'],
  partially_refunded: ['refunded'],
  refunded: [],
  canceled: [],
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

export function isTerminal(status: OrderStatus): boolean {
  return ORDER_TRANSITIONS[status].length === 0;
}

// The status sets other modules ask about, named once here (SQL takes them as array parameters).

/** Orders that have taken money, whatever was refunded since: refunds apply to these. */
export const PAID_STATUSES = ['paid', 'partially_refunded', 'refunded'] as const satisfies readonly OrderStatus[];
/** Orders whose outcome is known: the shopper's order page has nothing more to wait for. */
export const SETTLED_STATUSES = [...PAID_STATUSES, 'canceled'] as const satisfies readonly OrderStatus[];
/** A PaymentIntent (an attempt) that can still take money: an admin cancel cancels these at Stripe first. */
export const OPEN_PAYMENT_STATUSES = ['requires_payment_method', 'requires_confirmation', 'requires_action', 'requires_capture', 'processing'] as const;
/** A PaymentIntent that is over: no later snapshot moves its attempt back. */
export const FINAL_PAYMENT_STATUSES = ['succeeded', 'canceled'] as const;

const is = (set: readonly string[]) => (status: string) => set.includes(status);

export function hasBeenPaid(status: OrderStatus): boolean {
  return is(PAID_STATUSES)(status);
}
export const isSettled: (status: string) => boolean = is(SETTLED_STATUSES);
export const isOpenPayment: (status: string) => boolean = is(OPEN_PAYMENT_STATUSES);
export const isFinalPayment: (status: string) => boolean = is(FINAL_PAYMENT_STATUSES);

/**
 * The order status a PaymentIntent's status implies, or null when it implies nothing.
 * A success pays the order whichever attempt it came from (the money is real); every other
 * status only speaks for the order's current attempt, since an old attempt's decline or
 * cancellation says nothing about the card the shopper is using now.
 */
export function orderStatusForPaymentIntent(status: PaymentStatus, isCurrentAttempt: boolean): OrderStatus | null {
  switch (status) {
    case 'succeeded':
      return 'paid';
    case 'processing':
    case 'requires_capture':
      return isCurrentAttempt ? 'processing' : null;
    case 'requires_payment_method':
    case 'requires_confirmation':
    case 'requires_action':
      return isCurrentAttempt ? 'pending' : null;
    case 'canceled':
      // A canceled PaymentIntent ends an attempt, not the order: the shopper may try again.
      return null;
    default:
      // Stripe's type admits statuses added after this SDK; an unknown one implies nothing.
      return null;
  }
}

/** Refund totals → the status they put a paid order in (never below paid). */
export function orderStatusForRefunds(amountPaid: number, amountRefunded: number): OrderStatus {
  if (amountRefunded <= 0) return 'paid';
  return amountRefunded >= amountPaid ? 'refunded' : 'partially_refunded';
}
