// Decide, then persist: what entering `paid` writes, decided by a pure function from the order,
// the payment (our own Payment, lib/stripe/payment.ts), which follow-ups this transaction claimed
// (each SideEffect key is inserted once, so each follow-up happens once) and the risk assessment.
// apply.ts applies the plan in one statement. The money half of the invariant lives here: the
// order is paid exactly what was received, the ledger takes exactly that into sales, and every
// ledger transaction balances; payment-decision.ts decides that a payment may pay the order at
// all (exactly its total, its currency, its current attempt).
import { randomUUID } from 'node:crypto';
import type { OrderStatus } from '@/lib/generated/prisma/enums';
import type { RiskAssessment } from '@/lib/risk/score';
import { ACCOUNTS, ledgerLines, type LedgerLine } from './ledger';
import { confirmationSubject, receiptText, type ReceiptOrder } from './receipts';

export interface PaidPlanInput {
  order: ReceiptOrder & { status: OrderStatus; email: string; reviewStatus: string };
  payment: { id: string; amountReceived: number; currency: string; risk: { level: string | null; score: number | null } | null };
  attemptNumber: number | null;
  /** The follow-ups whose keys this transaction inserted: only those are written. */
  claimed: { ledger: boolean; email: boolean; fulfillment: boolean };
  /** The risk assessment, when the order had none yet. */
  risk: RiskAssessment | null;
  actor: { source: string; stripeEventId: string | null; actor: string | null };
}

export interface PlannedEvent {
  id: string;
  kind: string;
  fromStatus?: OrderStatus;
  toStatus?: OrderStatus;
  detail: unknown;
  source: string;
  stripeEventId: string | null;
  actor: string | null;
}

export interface PaidPlan {
  order: {
    amountPaid: number;
    paymentIntentId: string;
    riskScore: number | null;
    riskLevel: string | null;
    riskReasons: RiskAssessment['reasons'] | null;
    /** Fulfilment waits for an admin's review. */
    hold: boolean;
  };
  events: PlannedEvent[];
  ledger: LedgerLine[];
  emails: { id: string; dedupeKey: string; to: string; subject: string; text: string; kind: string }[];
  fulfillments: { status: 'pending' | 'on_hold'; note: string | null }[];
}

export function planPaid(i: PaidPlanInput): PaidPlan {
  const { order, payment, risk } = i;
  const amount = payment.amountReceived;
  const hold = Boolean(risk?.review) && order.reviewStatus === 'none';
  const events: PlannedEvent[] = [
    { id: randomUUID(), kind: 'status_changed', fromStatus: order.status, toStatus: 'paid', detail: { paymentIntentId: payment.id, attempt: i.attemptNumber }, ...i.actor },
  ];
  if (risk) {
    const detail = { score: risk.score, level: risk.level, held: hold, reasons: risk.reasons.map((r) => r.code) };
    events.push({ id: randomUUID(), kind: 'risk_assessed', detail, source: 'risk', stripeEventId: null, actor: null });
  }
  return {
    order: {
      amountPaid: amount,
      paymentIntentId: payment.id,
      riskScore: risk?.score ?? payment.risk?.score ?? null,
      riskLevel: risk?.level ?? payment.risk?.level ?? null,
      riskReasons: risk ? risk.reasons : null,
      hold,
    },
    events,
    ledger: i.claimed.ledger
      ? ledgerLines(`payment:${payment.id}`, payment.currency, `payment for order ${order.id}`, [
          [ACCOUNTS.stripeBalance, amount],
          [ACCOUNTS.sales, -amount],
        ])
      : [],
    emails: i.claimed.email
      ? [{ id: randomUUID(), dedupeKey: `order-confirmation:${order.id}`, to: order.email, subject: confirmationSubject(order.id), text: receiptText(order, amount), kind: 'order_confirmation' }]
      : [],
    fulfillments: i.claimed.fulfillment ? [hold ? { status: 'on_hold', note: 'risk review' } : { status: 'pending', note: null }] : [],
  };
}
