// The seam between Stripe's shapes and ours. The order code (lib/orders) decides from a Payment
// and PaymentRefunds, never from a Stripe object: what it reads of a PaymentIntent, its latest
// charge and its refunds is named here, once, and translated here, once. A new payment method,
// capture later or a dispute adds fields here and a case in the decision, not Stripe field
// access spread through the domain.
import type Stripe from 'stripe';

export const PAYMENT_STATUSES = ['requires_payment_method', 'requires_confirmation', 'requires_action', 'processing', 'requires_capture', 'canceled', 'succeeded'] as const;
/**
 * A PaymentIntent's status, as Stripe names them. Stripe may add statuses after this code was
 * written: those pass through as text, and the decisions treat them as saying nothing.
 */
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number] | (string & Record<never, never>);

/** Why the last try failed (a decline, an authentication failure), in the shopper's words from Stripe. */
export interface PaymentError {
  code: string | null;
  declineCode: string | null;
  message: string | null;
}

/** What we keep of the charge behind a payment. */
export interface PaymentCharge {
  card: { brand: string | null; last4: string | null } | null;
  /** Stripe Radar's assessment, when there is one. */
  risk: { level: string | null; score: number | null } | null;
  /** Everything refunded of it so far, per Stripe. */
  amountRefunded: number;
}

/** One PaymentIntent as the order code sees it. */
export interface Payment {
  id: string;
  status: PaymentStatus;
  /** Asked for, in minor units. */
  amount: number;
  /** Taken, in minor units (0 until it succeeds). */
  amountReceived: number;
  currency: string;
  clientSecret: string | null;
  /** The order_id we put in its metadata, as Stripe returns it (not yet validated: foreign payments carry anything). */
  orderId: string | null;
  /** The attempt number we put in its metadata, when it is one. */
  attempt: number | null;
  /** All of its metadata, as Stripe returns it (shown to admins for payments we cannot place). */
  metadata: Readonly<Record<string, string>>;
  lastError: PaymentError | null;
  /** The latest charge, when Stripe sent it expanded (null when it did not, or there is none). */
  charge: PaymentCharge | null;
}

/** One refund of a payment. */
export interface PaymentRefund {
  id: string;
  amount: number;
  currency: string;
  /** Null when Stripe has not said (treated as pending). */
  status: string | null;
  reason: string | null;
  paymentIntentId: string | null;
  /** Our Refund row's id, for a refund we asked for (metadata.refund_id). */
  ourRefundId: string | null;
}

export function toCharge(charge: Stripe.Charge): PaymentCharge {
  const card = charge.payment_method_details?.card;
  const outcome = charge.outcome;
  return {
    card: card ? { brand: card.brand ?? null, last4: card.last4 ?? null } : null,
    risk: outcome ? { level: outcome.risk_level ?? null, score: outcome.risk_score ?? null } : null,
    amountRefunded: charge.amount_refunded ?? 0,
  };
}

/** The PaymentIntent, with `charge` in place of its latest charge when the caller has a fresher one. */
export function toPayment(pi: Stripe.PaymentIntent, charge?: Stripe.Charge | null): Payment {
  const latest = charge ?? (pi.latest_charge && typeof pi.latest_charge === 'object' ? pi.latest_charge : null);
  const attempt = Number(pi.metadata?.attempt);
  const err = pi.last_payment_error;
  return {
    id: pi.id,
    status: pi.status,
    amount: pi.amount,
    amountReceived: pi.amount_received ?? 0,
    currency: pi.currency,
    clientSecret: pi.client_secret ?? null,
    orderId: pi.metadata?.order_id ?? null,
    attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : null,
    metadata: pi.metadata ?? {},
    lastError: err ? { code: err.code ?? null, declineCode: err.decline_code ?? null, message: err.message ?? null } : null,
    charge: latest ? toCharge(latest) : null,
  };
}

export function toRefund(refund: Stripe.Refund): PaymentRefund {
  const pi = refund.payment_intent;
  return {
    id: refund.id,
    amount: refund.amount,
    currency: refund.currency,
    status: refund.status ?? null,
    reason: refund.reason ?? null,
    paymentIntentId: typeof pi === 'string' ? pi : (pi?.id ?? null),
    ourRefundId: refund.metadata?.refund_id ?? null,
  };
}

/** A PaymentIntent or a charge as a stored event carries it: Stripe's JSON, checked only for what is read here. */
export interface EventObject {
  id: string;
  object?: string;
  latest_charge?: unknown;
}

/** The id of the latest charge a PaymentIntent's JSON names only by id (null when expanded or absent). */
export function unexpandedChargeId(pi: EventObject): string | null {
  return typeof pi.latest_charge === 'string' ? pi.latest_charge : null;
}

/**
 * The Payment a stored PaymentIntent event carries. Its latest charge is only an id in the
 * event: `charge`, the object of that charge's own event when we have it, stands in for it.
 */
export function paymentFromEvent(pi: EventObject, charge?: EventObject | null): Payment {
  const stripePi = pi as unknown as Stripe.PaymentIntent;
  const fits = charge && charge.id === unexpandedChargeId(pi);
  return toPayment(stripePi, fits ? (charge as unknown as Stripe.Charge) : undefined);
}

/** The card a stored charge event's object carries. */
export function cardOfCharge(charge: EventObject): PaymentCharge['card'] {
  return toCharge(charge as unknown as Stripe.Charge).card;
}

/** A Stripe event as stored and routed: what every event has, its object kept as Stripe sent it. */
export interface StripeEventEnvelope {
  id: string;
  type: string;
  /** Unix seconds. */
  created: number;
  data: { object: object };
}

/** The PaymentIntent a card error carries (a decline on confirmation), translated; null for any other error. */
export function declinedPayment(err: unknown): Payment | null {
  const e = err as { type?: string; payment_intent?: unknown } | null;
  if (e?.type !== 'StripeCardError') return null;
  const pi = e.payment_intent as Stripe.PaymentIntent | undefined;
  return pi && typeof pi === 'object' && typeof pi.id === 'string' ? toPayment(pi) : null;
}
