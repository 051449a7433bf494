// applyPaymentIntent / applyChargeRefunds: the one idempotent way Stripe's view of a payment
// becomes our order. The webhook worker, the return page, reconciliation and the admin all
// call it with whatever state they hold, in any order, any number of times, concurrently;
// the order row lock serialises them and SideEffect keys make each follow-up happen once.
import { assessOrderRisk } from '@/lib/risk/score';
import { jobsLog } from '@/lib/jobs/log';
import { randomUUID } from 'node:crypto';
import type { Prisma, PrismaClient } from '@/lib/generated/prisma/client';
import type { OrderStatus } from '@/lib/generated/prisma/enums';
import type { Stripe } from '@/lib/stripe/client';
import { invalidateCatalog } from '@/lib/catalog/catalog';
import { formatMoney } from '@/lib/money';
import { recordDecline } from '@/lib/security/throttle';
import { canTransition, hasBeenPaid, orderStatusForPaymentIntent, orderStatusForRefunds } from './state-machine';

export type ApplySource = 'webhook' | 'return_page' | 'reconcile' | 'admin';

export interface ApplyContext {
  source: ApplySource;
  stripeEventId?: string;
  actor?: string;
}

export interface ApplyResult {
  orderId: string | null;
  status: OrderStatus | null;
  changed: boolean;
}

type Tx = Prisma.TransactionClient;

/** Ledger accounts. Debits positive, credits negative; each txKey sums to zero. */
export const ACCOUNTS = {
  stripeBalance: 'stripe_balance',
  sales: 'sales',
  refunds: 'refunds',
  // Money taken that the order did not need (a second attempt succeeding, a payment after
  // cancellation): a liability until an admin refunds it.
  unexpectedPayments: 'unexpected_payments',
} as const;

// What happens after a commit: the job system registers an email enqueuer when it starts.
// Without one, queued emails wait for the sweep, which finds every Email still `queued`.
export interface AfterCommitHooks {
  emailQueued?: (emailId: string) => Promise<void> | void;
}
const hooks: AfterCommitHooks = {};
export function setAfterCommitHooks(next: AfterCommitHooks): void {
  hooks.emailQueued = next.emailQueued;
}

interface Pending {
  emailIds: string[];
  stockChanged: boolean;
}

const TX_OPTIONS = { maxWait: 20_000, timeout: 20_000 } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function runAfterCommit(p: Pending): Promise<void> {
  if (p.stockChanged) invalidateCatalog();
  for (const id of p.emailIds) {
    try {
      await hooks.emailQueued?.(id);
    } catch {
      // The Email row is committed as `queued`; the sweep sends it.
    }
  }
}

function latestCharge(pi: Stripe.PaymentIntent): Stripe.Charge | null {
  return pi.latest_charge && typeof pi.latest_charge === 'object' ? pi.latest_charge : null;
}

function attemptNumberFromMetadata(pi: Stripe.PaymentIntent): number | null {
  const n = Number(pi.metadata?.attempt);
  return Number.isInteger(n) && n > 0 ? n : null;
}

/** Which order a PaymentIntent belongs to: its attempt row, else the metadata we set on it. */
async function findOrderId(prisma: PrismaClient | Tx, pi: Stripe.PaymentIntent): Promise<string | null> {
  const attempt = await prisma.paymentAttempt.findUnique({ where: { paymentIntentId: pi.id }, select: { orderId: true } });
  if (attempt) return attempt.orderId;
  const id = pi.metadata?.order_id;
  if (!id || !UUID.test(id)) return null;
  const order = await prisma.order.findUnique({ where: { id }, select: { id: true } });
  return order?.id ?? null;
}

async function lockOrder(tx: Tx, orderId: string) {
  await tx.$queryRaw`SELECT id FROM "Order" WHERE id = ${orderId} FOR UPDATE`;
  return tx.order.findUniqueOrThrow({ where: { id: orderId }, include: { items: true } });
}
type LockedOrder = Awaited<ReturnType<typeof lockOrder>>;

/** Inserts a side effect's key; true only for the one caller that inserted it. */
async function claim(tx: Tx, key: string, kind: string, orderId: string): Promise<boolean> {
  const r = await tx.sideEffect.createMany({ data: [{ key, kind, orderId }], skipDuplicates: true });
  return r.count === 1;
}

async function recordEvent(
  tx: Tx,
  orderId: string,
  ctx: ApplyContext,
  e: { kind: string; fromStatus?: OrderStatus; toStatus?: OrderStatus; detail?: Prisma.InputJsonValue },
): Promise<void> {
  await tx.orderEvent.create({
    data: { orderId, kind: e.kind, fromStatus: e.fromStatus, toStatus: e.toStatus, detail: e.detail, source: ctx.source, stripeEventId: ctx.stripeEventId, actor: ctx.actor },
  });
}

async function moveOrder(tx: Tx, order: LockedOrder, to: OrderStatus, ctx: ApplyContext, data: Prisma.OrderUpdateInput = {}, detail?: Prisma.InputJsonValue): Promise<void> {
  await tx.order.update({ where: { id: order.id }, data: { ...data, status: to } });
  await recordEvent(tx, order.id, ctx, { kind: 'status_changed', fromStatus: order.status, toStatus: to, detail });
  order.status = to;
}

async function postLedger(tx: Tx, txKey: string, orderId: string, currency: string, memo: string, lines: [account: string, amount: number][]): Promise<void> {
  if (lines.reduce((s, [, a]) => s + a, 0) !== 0) throw new Error(`ledger transaction ${txKey} does not balance`);
  await tx.ledgerEntry.createMany({ data: lines.map(([account, amount]) => ({ txKey, orderId, account, amount, currency, memo })) });
}

const TERMINAL_ATTEMPT = new Set(['succeeded', 'canceled']);

/** Brings the attempt row up to the PaymentIntent; records a decline on the timeline once. */
async function updateAttempt(tx: Tx, order: { id: string; email: string; cartId: string | null }, pi: Stripe.PaymentIntent, ctx: ApplyContext): Promise<{ attemptNumber: number | null }> {
  const orderId = order.id;
  const attempt = await tx.paymentAttempt.findUnique({ where: { paymentIntentId: pi.id } });
  if (!attempt) return { attemptNumber: attemptNumberFromMetadata(pi) };
  const charge = latestCharge(pi);
  const card = charge?.payment_method_details?.card;
  const err = pi.last_payment_error;
  // A stale snapshot must not undo a terminal status the attempt already reached.
  const status = TERMINAL_ATTEMPT.has(attempt.status) ? attempt.status : pi.status;
  const next = {
    status,
    cardBrand: card?.brand ?? attempt.cardBrand,
    cardLast4: card?.last4 ?? attempt.cardLast4,
    riskLevel: charge?.outcome?.risk_level ?? attempt.riskLevel,
    riskScore: charge?.outcome?.risk_score ?? attempt.riskScore,
    declineCode: status === 'succeeded' ? attempt.declineCode : (err?.decline_code ?? (err ? null : attempt.declineCode)),
    failureCode: status === 'succeeded' ? attempt.failureCode : (err?.code ?? (err ? null : attempt.failureCode)),
    failureMessage: status === 'succeeded' ? attempt.failureMessage : (err?.message ?? (err ? null : attempt.failureMessage)),
  };
  const changed = (Object.keys(next) as (keyof typeof next)[]).some((k) => next[k] !== attempt[k]);
  if (!changed) return { attemptNumber: attempt.attemptNumber };
  await tx.paymentAttempt.update({ where: { id: attempt.id }, data: next });
  const newlyFailed = status === 'requires_payment_method' && err && (attempt.status !== status || attempt.failureCode !== next.failureCode || attempt.declineCode !== next.declineCode);
  if (newlyFailed) {
    // Card-testing defence: each decline counts once, against the cart, email and address.
    await recordDecline(tx, { cartId: order.cartId, email: order.email, ip: attempt.clientIp });
    await recordEvent(tx, orderId, ctx, {
      kind: 'payment_failed',
      detail: { paymentIntentId: pi.id, attempt: attempt.attemptNumber, code: err.code ?? null, declineCode: err.decline_code ?? null, message: err.message ?? null },
    });
  }
  return { attemptNumber: attempt.attemptNumber };
}

function receiptText(order: LockedOrder, amount: number): string {
  const cur = order.currency;
  const lines = order.items.map((i) => `  ${i.quantity} × ${i.name} @ ${formatMoney(i.unitPrice, cur)} = ${formatMoney(i.unitPrice * i.quantity, cur)}`);
  return [
    `Hi ${order.name},`,
    '',
    `Thank you for your order. We received your payment of ${formatMoney(amount, cur)}.`,
    '',
    `Order ${order.id}`,
    ...lines,
    '',
    `Total: ${formatMoney(order.total, cur)}`,
    '',
    'Shipping to:',
    `  ${order.name}`,
    `  ${order.addressLine1}`,
    ...(order.addressLine2 ? [`  ${order.addressLine2}`] : []),
    `  ${order.postalCode} ${order.city}`,
    `  ${order.country}`,
    '',
    '— Brisk',
  ].join('\n');
}

/** Everything entering `paid` sets off, each exactly once per order. */
async function paidSideEffects(tx: Tx, order: LockedOrder, pi: Stripe.PaymentIntent, ctx: ApplyContext, pending: Pending): Promise<void> {
  if (await claim(tx, `stock:${order.id}`, 'stock', order.id)) {
    const wanted = new Map<string, number>();
    for (const item of order.items) wanted.set(item.productId, (wanted.get(item.productId) ?? 0) + item.quantity);
    const short: { productId: string; wanted: number; available: number }[] = [];
    // Lock products in one order so two orders sharing products cannot deadlock.
    for (const productId of [...wanted.keys()].sort()) {
      const qty = wanted.get(productId)!;
      const [row] = await tx.$queryRaw<{ stock: number }[]>`SELECT stock FROM "Product" WHERE id = ${productId} FOR UPDATE`;
      const available = row?.stock ?? 0;
      const take = Math.min(available, qty);
      if (take > 0) await tx.product.update({ where: { id: productId }, data: { stock: { decrement: take } } });
      if (take < qty) short.push({ productId, wanted: qty, available });
    }
    pending.stockChanged = true;
    if (short.length > 0) {
      await tx.order.update({ where: { id: order.id }, data: { oversold: true } });
      await recordEvent(tx, order.id, ctx, { kind: 'oversold', detail: { short } });
    }
  }
  if (await claim(tx, `ledger:payment:${pi.id}`, 'ledger', order.id)) {
    await postLedger(tx, `payment:${pi.id}`, order.id, pi.currency, `payment for order ${order.id}`, [
      [ACCOUNTS.stripeBalance, pi.amount_received],
      [ACCOUNTS.sales, -pi.amount_received],
    ]);
  }
  if (await claim(tx, `email:order-confirmation:${order.id}`, 'email', order.id)) {
    const id = randomUUID();
    await tx.email.create({
      data: {
        id,
        dedupeKey: `order-confirmation:${order.id}`,
        orderId: order.id,
        to: order.email,
        subject: `Your Brisk order ${order.id.slice(0, 8)} is confirmed`,
        text: receiptText(order, pi.amount_received),
        kind: 'order_confirmation',
        status: 'queued',
      },
    });
    pending.emailIds.push(id);
  }
  if (await claim(tx, `fulfillment:${order.id}`, 'fulfillment', order.id)) {
    await tx.fulfillment.create({ data: { orderId: order.id, status: 'pending' } });
  }
}

/** A succeeded PaymentIntent the order did not need: kept on the books and flagged for refund. */
async function recordUnexpectedPayment(tx: Tx, order: LockedOrder, pi: Stripe.PaymentIntent, ctx: ApplyContext, attemptNumber: number | null): Promise<void> {
  if (!(await claim(tx, `ledger:payment:${pi.id}`, 'ledger', order.id))) return;
  await postLedger(tx, `payment:${pi.id}`, order.id, pi.currency, `unexpected payment on order ${order.id}`, [
    [ACCOUNTS.stripeBalance, pi.amount_received],
    [ACCOUNTS.unexpectedPayments, -pi.amount_received],
  ]);
  await recordEvent(tx, order.id, ctx, {
    kind: order.status === 'canceled' ? 'payment_after_cancel' : 'duplicate_payment',
    detail: { paymentIntentId: pi.id, attempt: attemptNumber, amount: pi.amount_received, currency: pi.currency, paidBy: order.paymentIntentId, action: 'refund_required' },
  });
}

async function applyLocked(tx: Tx, order: LockedOrder, pi: Stripe.PaymentIntent, ctx: ApplyContext, pending: Pending): Promise<boolean> {
  const before = order.status;
  const { attemptNumber } = await updateAttempt(tx, order, pi, ctx);
  // The attempt number is the truth about "current": order.paymentIntentId is written after
  // the PaymentIntent is created, so a fast webhook can arrive before it moves.
  const isCurrent = attemptNumber !== null ? attemptNumber === order.attemptCount : order.paymentIntentId === null || order.paymentIntentId === pi.id;
  const target = orderStatusForPaymentIntent(pi.status, isCurrent);

  if (target === 'paid') {
    if (hasBeenPaid(order.status) || order.status === 'canceled') {
      if (order.paymentIntentId !== pi.id || order.status === 'canceled') await recordUnexpectedPayment(tx, order, pi, ctx, attemptNumber);
      return false;
    }
    const charge = latestCharge(pi);
    await moveOrder(
      tx,
      order,
      'paid',
      ctx,
      {
        amountPaid: pi.amount_received,
        paidAt: new Date(),
        paymentIntentId: pi.id,
        riskLevel: charge?.outcome?.risk_level ?? undefined,
        riskScore: charge?.outcome?.risk_score ?? undefined,
      },
      { paymentIntentId: pi.id, attempt: attemptNumber },
    );
    order.paymentIntentId = pi.id;
    await paidSideEffects(tx, order, pi, ctx, pending);
    return true;
  }
  if (target && canTransition(order.status, target)) {
    await moveOrder(tx, order, target, ctx, {}, { paymentIntentId: pi.id, attempt: attemptNumber, paymentIntentStatus: pi.status });
  }
  return order.status !== before;
}

/**
 * Applies a PaymentIntent's state to its order. Safe to call with stale, duplicated or
 * reordered snapshots: the order only moves forward, and follow-ups happen once.
 */
export async function applyPaymentIntent(prisma: PrismaClient, pi: Stripe.PaymentIntent, ctx: ApplyContext): Promise<ApplyResult> {
  const orderId = await findOrderId(prisma, pi);
  if (!orderId) return { orderId: null, status: null, changed: false };
  const pending: Pending = { emailIds: [], stockChanged: false };
  const result = await prisma.$transaction(async (tx) => {
    const order = await lockOrder(tx, orderId);
    const changed = await applyLocked(tx, order, pi, ctx, pending);
    return { orderId, status: order.status, changed };
  }, TX_OPTIONS);
  await runAfterCommit(pending);
  if (result.changed && result.status === 'paid') {
    // Scored right after payment so a risky order's fulfillment is held before anyone ships it;
    // if this process dies first, the next reconciliation run scores it.
    await assessOrderRisk(prisma, orderId).catch((err) => jobsLog.error({ err, orderId }, 'risk assessment failed'));
  }
  return result;
}

export interface RefundsInput {
  /** The PaymentIntent the refunds are against, ideally with `latest_charge` expanded. */
  paymentIntent: Stripe.PaymentIntent;
  /** Every refund Stripe has for it (a list, or what an event carried). */
  refunds: Stripe.Refund[];
  /** The charge, when the caller has a fresher one than `paymentIntent.latest_charge`. */
  charge?: Stripe.Charge | null;
}

const REFUND_TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

/**
 * Applies Stripe's refunds of a PaymentIntent: Refund rows upserted by their re_ id, one
 * ledger transaction per refund that succeeded, amountRefunded from Stripe's numbers, and
 * paid → partially_refunded → refunded. The PaymentIntent is applied first, so a refund
 * event that overtakes the payment event still lands on a paid order.
 */
export async function applyChargeRefunds(prisma: PrismaClient, input: RefundsInput, ctx: ApplyContext): Promise<ApplyResult> {
  const pi = input.paymentIntent;
  const first = await applyPaymentIntent(prisma, pi, ctx);
  if (!first.orderId) return first;
  const orderId = first.orderId;
  const charge = input.charge ?? latestCharge(pi);
  const refunds = input.refunds.filter((r) => (typeof r.payment_intent === 'string' ? r.payment_intent : r.payment_intent?.id) === pi.id);

  const result = await prisma.$transaction(async (tx) => {
    const order = await lockOrder(tx, orderId);
    const before = order.status;
    if (!hasBeenPaid(order.status)) return { orderId, status: order.status, changed: false };
    // Refunds of a payment the order did not need reverse that payment, not the sale.
    const ofSale = order.paymentIntentId === pi.id;

    for (const re of refunds) {
      const status = re.status ?? 'pending';
      let row = await tx.refund.findUnique({ where: { stripeRefundId: re.id } });
      if (!row && re.metadata?.refund_id && UUID.test(re.metadata.refund_id)) {
        // A refund we asked for ourselves, whose Stripe id has not been written back yet.
        const ours = await tx.refund.findFirst({ where: { id: re.metadata.refund_id, orderId, stripeRefundId: null } });
        if (ours) row = await tx.refund.update({ where: { id: ours.id }, data: { stripeRefundId: re.id } });
      }
      if (!row) {
        const last = await tx.refund.findFirst({ where: { orderId }, orderBy: { refundNumber: 'desc' }, select: { refundNumber: true } });
        row = await tx.refund.create({
          data: {
            orderId,
            refundNumber: (last?.refundNumber ?? 0) + 1,
            stripeRefundId: re.id,
            idempotencyKey: `stripe:${re.id}`,
            amount: re.amount,
            currency: re.currency,
            status,
            reason: re.reason ?? null,
          },
        });
        await recordEvent(tx, orderId, ctx, { kind: 'refund_recorded', detail: { refundId: re.id, paymentIntentId: pi.id, amount: re.amount, status } });
      } else if (row.status !== status && !REFUND_TERMINAL.has(row.status)) {
        row = await tx.refund.update({ where: { id: row.id }, data: { status, amount: re.amount } });
        await recordEvent(tx, orderId, ctx, { kind: 'refund_updated', detail: { refundId: re.id, status } });
      }
      if (row.status === 'succeeded' && (await claim(tx, `ledger:refund:${re.id}`, 'ledger', orderId))) {
        await postLedger(tx, `refund:${re.id}`, orderId, re.currency, `refund ${re.id} of ${pi.id}`, [
          [ofSale ? ACCOUNTS.refunds : ACCOUNTS.unexpectedPayments, re.amount],
          [ACCOUNTS.stripeBalance, -re.amount],
        ]);
      }
    }
    if (!ofSale) return { orderId, status: order.status, changed: false };

    const listed = refunds.filter((r) => r.status !== 'failed' && r.status !== 'canceled').reduce((sum, r) => sum + r.amount, 0);
    // Stripe's own total wins; snapshots can be stale, so the number only ever grows.
    const amountRefunded = Math.min(order.amountPaid, Math.max(order.amountRefunded, charge?.amount_refunded ?? 0, listed));
    if (amountRefunded !== order.amountRefunded) {
      await tx.order.update({ where: { id: orderId }, data: { amountRefunded } });
      order.amountRefunded = amountRefunded;
    }
    const target = orderStatusForRefunds(order.amountPaid, amountRefunded);
    if (canTransition(order.status, target)) await moveOrder(tx, order, target, ctx, {}, { amountRefunded, amountPaid: order.amountPaid });
    return { orderId, status: order.status, changed: order.status !== before || first.changed };
  }, TX_OPTIONS);
  return result;
}
