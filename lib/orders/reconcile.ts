// Reconciliation: Stripe's PaymentIntents and refunds for a time window (listed through the
// gateway, every page) compared with our orders. What a missed or lost webhook left behind is
// healed through the same idempotent functions the webhook worker uses; what cannot be healed
// (money at Stripe with no order, amounts that disagree, an order paid here but not there) is
// recorded as a finding for a person to look at.
import { Prisma, type PrismaClient } from '@/lib/generated/prisma/client';
import type { OrderStatus } from '@/lib/generated/prisma/enums';
import type { StripeGateway } from '@/lib/stripe/gateway';
import { assessOrderRisk } from '@/lib/orders/risk-review';
import { toPayment, toRefund, type Payment, type PaymentRefund } from '@/lib/stripe/payment';
import { applyPayment, applyRefunds, type ApplyContext } from './apply';
import { hasBeenPaid, PAID_STATUSES } from './state-machine';

export type ReconcileTrigger = 'schedule' | 'manual' | 'test';

export interface ReconcileOptions {
  windowStart: Date;
  windowEnd: Date;
  trigger: ReconcileTrigger;
  actor?: string;
  pageSize?: number;
}

export type FindingKind =
  | 'missed_payment_update'
  | 'missed_refund'
  | 'payment_without_order'
  | 'refund_without_order'
  | 'amount_mismatch'
  | 'refund_amount_mismatch'
  | 'paid_here_not_at_stripe'
  | 'unexpected_payment'
  | 'refund_not_sent';

interface Finding {
  kind: FindingKind;
  healed: boolean;
  orderId?: string | null;
  paymentIntentId?: string | null;
  refundId?: string | null;
  detail?: Prisma.InputJsonValue;
}

export interface ReconcileSummary {
  runId: string;
  status: 'succeeded' | 'failed';
  checked: number;
  healed: number;
  unresolved: number;
  findings: Finding[];
  error?: string;
}

const unix = (d: Date) => Math.floor(d.getTime() / 1000);

type AfterApply = { status: OrderStatus; total: number; amountPaid: number; paymentIntentId: string | null; currency: string };

/** Every item of a Stripe list, following `starting_after` until `has_more` is false. */
export async function listAll<T extends { id: string }>(fetchPage: (startingAfter: string | undefined) => Promise<{ data: T[]; has_more: boolean }>, maxPages = 10_000): Promise<T[]> {
  const all: T[] = [];
  let after: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const list = await fetchPage(after);
    all.push(...list.data);
    if (!list.has_more || list.data.length === 0) return all;
    after = list.data[list.data.length - 1].id;
  }
  throw new Error(`list did not end after ${maxPages} pages`);
}


export async function runReconciliation(prisma: PrismaClient, gateway: StripeGateway, opts: ReconcileOptions): Promise<ReconcileSummary> {
  const run = await prisma.reconciliationRun.create({ data: { trigger: opts.trigger, status: 'running', windowStart: opts.windowStart, windowEnd: opts.windowEnd } });
  const ctx: ApplyContext = { source: 'reconcile', actor: opts.actor ?? `reconciliation:${run.id.slice(0, 8)}` };
  const findings: Finding[] = [];
  let checked = 0;
  const limit = opts.pageSize ?? 100;
  const created = { gte: unix(opts.windowStart), lte: unix(opts.windowEnd) };

  try {
    const intents = (await listAll((after) => gateway.listPaymentIntents({ created, limit, expand: ['data.latest_charge'], ...(after ? { starting_after: after } : {}) }))).map((pi) => toPayment(pi));
    const refunds = (await listAll((after) => gateway.listRefunds({ created, limit, ...(after ? { starting_after: after } : {}) }))).map(toRefund);
    const intentsById = new Map(intents.map((pi) => [pi.id, pi]));
    const newlyPaid = new Set<string>();

    // What we recorded for each listed PaymentIntent, read in one query per 500: a PaymentIntent
    // whose attempt already shows it over (succeeded with its card, or canceled) was applied
    // before and is only checked, not applied again. Applying every PaymentIntent of the window
    // on every run took 13–24 s at 1,400–5,000 of them in the soak, holding PGlite's one
    // connection, and grows with the day's volume past the run's 10-minute limit.
    const recorded = new Map<string, { status: string; cardLast4: string | null; order: AfterApply & { id: string } }>();
    for (let i = 0; i < intents.length; i += 500) {
      const rows = await prisma.paymentAttempt.findMany({
        where: { paymentIntentId: { in: intents.slice(i, i + 500).map((pi) => pi.id) } },
        select: { paymentIntentId: true, status: true, cardLast4: true, order: { select: { id: true, status: true, total: true, amountPaid: true, paymentIntentId: true, currency: true } } },
      });
      for (const r of rows) recorded.set(r.paymentIntentId, r);
    }

    for (const pi of intents) {
      checked++;
      const known = recorded.get(pi.id);
      let before: { id: string; status: OrderStatus };
      let after: AfterApply;
      // Only an attempt already over as Stripe says (succeeded with its card, or canceled) is
      // settled: an open one can look the same before and after a decline, and is applied.
      if (known && known.status === pi.status && ((pi.status === 'succeeded' && known.cardLast4 !== null) || pi.status === 'canceled')) {
        before = after = known.order;
      } else {
        const found = await orderFor(prisma, pi);
        if (!found) {
          if (pi.status === 'succeeded') {
            findings.push({ kind: 'payment_without_order', healed: false, paymentIntentId: pi.id, detail: { amount: pi.amountReceived, currency: pi.currency, metadata: pi.metadata } });
          }
          continue;
        }
        before = found;
        const result = await applyPayment(prisma, pi, ctx);
        after = await prisma.order.findUniqueOrThrow({ where: { id: before.id }, select: { status: true, total: true, amountPaid: true, paymentIntentId: true, currency: true } });
        if (result.changed) {
          if (after.status === 'paid' && !hasBeenPaid(before.status)) newlyPaid.add(before.id);
          findings.push({ kind: 'missed_payment_update', healed: true, orderId: before.id, paymentIntentId: pi.id, detail: { from: before.status, to: after.status, stripeStatus: pi.status } });
        }
      }
      if (pi.status === 'succeeded' && after.paymentIntentId === pi.id) {
        if (pi.amountReceived !== after.total || pi.currency !== after.currency) {
          findings.push({ kind: 'amount_mismatch', healed: false, orderId: before.id, paymentIntentId: pi.id, detail: { stripe: pi.amountReceived, ours: after.total, stripeCurrency: pi.currency, ourCurrency: after.currency } });
        }
      } else if (pi.status === 'succeeded' && hasBeenPaid(after.status)) {
        const charge = pi.charge;
        if (!charge || charge.amountRefunded < pi.amountReceived) {
          findings.push({ kind: 'unexpected_payment', healed: false, orderId: before.id, paymentIntentId: pi.id, detail: { amount: pi.amountReceived, paidBy: after.paymentIntentId, action: 'refund_required' } });
        }
      } else if (pi.status !== 'succeeded' && hasBeenPaid(after.status) && after.paymentIntentId === pi.id) {
        findings.push({ kind: 'paid_here_not_at_stripe', healed: false, orderId: before.id, paymentIntentId: pi.id, detail: { stripeStatus: pi.status, ours: after.status } });
      }
    }

    // Refunds, grouped by the PaymentIntent they return money from.
    const byIntent = new Map<string, PaymentRefund[]>();
    for (const re of refunds) {
      checked++;
      const piId = re.paymentIntentId;
      if (!piId) continue;
      byIntent.set(piId, [...(byIntent.get(piId) ?? []), re]);
    }
    for (const [piId, list] of byIntent) {
      const known = await prisma.refund.findMany({ where: { stripeRefundId: { in: list.map((r) => r.id) } }, select: { stripeRefundId: true, status: true } });
      const knownStatus = new Map(known.map((k) => [k.stripeRefundId, k.status]));
      const behind = list.filter((re) => knownStatus.get(re.id) !== (re.status ?? 'pending'));
      const pi = intentsById.get(piId) ?? toPayment(await gateway.retrievePaymentIntent(piId));
      const order = await orderFor(prisma, pi);
      if (!order) {
        for (const re of list) findings.push({ kind: 'refund_without_order', healed: false, paymentIntentId: piId, refundId: re.id, detail: { amount: re.amount, currency: re.currency } });
        continue;
      }
      const charge = pi.charge;
      const stripeRefunded = charge?.amountRefunded ?? 0;
      // Nothing to heal and nothing to report: every refund in step, and the order's refunded total
      // Stripe's (an order claiming more than Stripe refunded is reported below, on every run).
      if (behind.length === 0 && (order.paymentIntentId !== piId || order.amountRefunded === stripeRefunded)) continue;
      const result = await applyRefunds(prisma, { payment: pi, refunds: list }, ctx);
      const after = await prisma.order.findUniqueOrThrow({ where: { id: order.id }, select: { status: true, amountRefunded: true, paymentIntentId: true } });
      if (result.changed || behind.length > 0) {
        findings.push({ kind: 'missed_refund', healed: true, orderId: order.id, paymentIntentId: piId, refundId: behind[0]?.id ?? null, detail: { refunds: behind.map((r) => r.id), amountRefunded: after.amountRefunded, status: after.status } });
      }
      // The order's refunded total counts refunds of its sale: the automatic refund of a payment it
      // never kept (canceled for want of stock, an amount that did not match) is no mismatch.
      if (hasBeenPaid(after.status) && after.paymentIntentId === piId && charge && after.amountRefunded !== charge.amountRefunded) {
        findings.push({ kind: 'refund_amount_mismatch', healed: false, orderId: order.id, paymentIntentId: piId, detail: { stripe: charge.amountRefunded, ours: after.amountRefunded } });
      }
    }

    // Refunds we reserved but never got to send (a crash between the reservation and Stripe).
    const stuck = await prisma.refund.findMany({
      where: { status: 'reserved', stripeRefundId: null, createdAt: { gte: opts.windowStart, lte: new Date(Math.min(opts.windowEnd.getTime(), Date.now() - 10 * 60_000)) } },
      select: { id: true, orderId: true, refundNumber: true, amount: true },
    });
    for (const r of stuck) findings.push({ kind: 'refund_not_sent', healed: false, orderId: r.orderId, refundId: r.id, detail: { refundNumber: r.refundNumber, amount: r.amount } });

    // Paid orders the risk hook has not scored yet (it runs after the paid transition; this is the net under it).
    const unscored = await prisma.order.findMany({
      // Fully refunded orders are past reviewing.
      where: { status: { in: PAID_STATUSES.filter((x) => x !== 'refunded') }, riskReasons: { equals: Prisma.DbNull }, createdAt: { gte: opts.windowStart, lte: opts.windowEnd } },
      select: { id: true },
      take: 500,
    });
    for (const id of new Set([...newlyPaid, ...unscored.map((o) => o.id)])) await assessOrderRisk(prisma, id);
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    await saveFindings(prisma, run.id, findings);
    const counts = tally(findings);
    await prisma.reconciliationRun.update({ where: { id: run.id }, data: { status: 'failed', error: error.slice(0, 1000), checked, ...counts, finishedAt: new Date() } });
    return { runId: run.id, status: 'failed', checked, ...counts, findings, error };
  }

  await saveFindings(prisma, run.id, findings);
  const counts = tally(findings);
  await prisma.reconciliationRun.update({ where: { id: run.id }, data: { status: 'succeeded', checked, ...counts, finishedAt: new Date() } });
  return { runId: run.id, status: 'succeeded', checked, ...counts, findings };
}

function tally(findings: Finding[]) {
  return { healed: findings.filter((f) => f.healed).length, unresolved: findings.filter((f) => !f.healed).length };
}

async function saveFindings(prisma: PrismaClient, runId: string, findings: Finding[]): Promise<void> {
  if (findings.length === 0) return;
  await prisma.reconciliationFinding.createMany({
    data: findings.map((f) => ({ runId, kind: f.kind, healed: f.healed, orderId: f.orderId ?? null, paymentIntentId: f.paymentIntentId ?? null, refundId: f.refundId ?? null, detail: f.detail })),
  });
}

/** Our order for a PaymentIntent: through its attempt row, else the order_id we put in its metadata. */
async function orderFor(prisma: PrismaClient, pi: Payment) {
  const select = { id: true, status: true, amountRefunded: true, paymentIntentId: true } as const;
  const attempt = await prisma.paymentAttempt.findUnique({ where: { paymentIntentId: pi.id }, select: { order: { select } } });
  if (attempt) return attempt.order;
  const id = pi.orderId;
  if (!id || !/^[0-9a-f-]{36}$/i.test(id)) return null;
  return prisma.order.findUnique({ where: { id }, select });
}

/** The window the scheduled job checks: the last 24 hours. */
export function defaultWindow(now = new Date()): { windowStart: Date; windowEnd: Date } {
  return { windowStart: new Date(now.getTime() - 24 * 60 * 60 * 1000), windowEnd: now };
}
