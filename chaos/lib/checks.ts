// The money invariants, checked against both records: Stripe's (the emulator's /v1 lists, read
// with the secret key) and ours (the database, opened after the app has stopped).
import type Stripe from 'stripe';
import type { PrismaClient } from '../../lib/generated/prisma/client';
import { listAllStripe, type StripeStandIn } from './harness';

export interface MoneyFigures {
  stripePaymentIntents: number;
  stripeSucceeded: number;
  ordersPaid: number;
  ordersOpen: number;
}

/**
 * No order charged twice; every succeeded PaymentIntent belongs to exactly one paid order with
 * the same amount; every paid order's PaymentIntent succeeded at Stripe; each paid order has its
 * one payment in the ledger (balanced), one confirmation email, one fulfillment; stock went down
 * by exactly what was paid for.
 */
export async function checkMoney(o: {
  prisma: PrismaClient;
  stripe: StripeStandIn;
  initialStock: Map<string, number>;
  since: number;
}): Promise<{ figures: MoneyFigures; violations: string[] }> {
  const { prisma } = o;
  const violations: string[] = [];
  const v = (s: string) => {
    if (violations.length < 50) violations.push(s);
    else if (violations.length === 50) violations.push('… more violations not listed');
  };
  const intents = (await listAllStripe<Stripe.PaymentIntent>(o.stripe, '/v1/payment_intents', { 'created[gte]': String(Math.floor(o.since / 1000) - 60) })).filter(
    (pi) => pi.metadata?.order_id,
  );
  const succeeded = intents.filter((pi) => pi.status === 'succeeded');

  const byOrder = new Map<string, Stripe.PaymentIntent[]>();
  for (const pi of succeeded) byOrder.set(pi.metadata.order_id, [...(byOrder.get(pi.metadata.order_id) ?? []), pi]);
  for (const [orderId, pis] of byOrder) if (pis.length > 1) v(`order ${orderId} charged ${pis.length} times (${pis.map((p) => p.id).join(', ')})`);

  const orders = await prisma.order.findMany({ include: { items: true } });
  const byPi = new Map<string, typeof orders>();
  for (const order of orders) if (order.paymentIntentId) byPi.set(order.paymentIntentId, [...(byPi.get(order.paymentIntentId) ?? []), order]);
  for (const pi of succeeded) {
    const owners = (byPi.get(pi.id) ?? []).filter((x) => x.status === 'paid');
    if (owners.length !== 1) {
      v(`succeeded ${pi.id} (order ${pi.metadata.order_id}) belongs to ${owners.length} paid orders (ours: ${(byPi.get(pi.id) ?? []).map((x) => x.status).join(',') || 'none'})`);
      continue;
    }
    const order = owners[0];
    if (order.amountPaid !== pi.amount_received || order.total !== pi.amount_received || order.currency !== pi.currency) {
      v(`order ${order.id}: paid ${order.amountPaid} of ${order.total} ${order.currency}, Stripe received ${pi.amount_received} ${pi.currency}`);
    }
  }
  const succeededIds = new Map(succeeded.map((pi) => [pi.id, pi]));
  const paid = orders.filter((x) => x.status === 'paid');
  for (const order of paid) {
    if (!order.paymentIntentId || !succeededIds.has(order.paymentIntentId)) v(`order ${order.id} is paid here, but its PaymentIntent ${order.paymentIntentId} did not succeed at Stripe`);
  }

  // Side effects, each exactly once per paid order.
  const [emails, fulfillments, ledger, paidTransitions] = await Promise.all([
    prisma.email.groupBy({ by: ['orderId'], where: { kind: 'order_confirmation' }, _count: { _all: true } }),
    prisma.fulfillment.groupBy({ by: ['orderId'], _count: { _all: true } }),
    prisma.ledgerEntry.findMany({ where: { txKey: { startsWith: 'payment:' } }, select: { orderId: true, txKey: true, account: true, amount: true } }),
    prisma.orderEvent.groupBy({ by: ['orderId'], where: { kind: 'status_changed', toStatus: 'paid' }, _count: { _all: true } }),
  ]);
  const count = (rows: { orderId: string | null; _count: { _all: number } }[]) => new Map(rows.map((r) => [r.orderId, r._count._all]));
  const emailN = count(emails);
  const fulfillN = count(fulfillments);
  const paidN = count(paidTransitions);
  const ledgerBy = new Map<string, typeof ledger>();
  for (const l of ledger) ledgerBy.set(l.orderId ?? '', [...(ledgerBy.get(l.orderId ?? '') ?? []), l]);
  for (const order of paid) {
    if ((emailN.get(order.id) ?? 0) !== 1) v(`order ${order.id}: ${emailN.get(order.id) ?? 0} confirmation emails`);
    if ((fulfillN.get(order.id) ?? 0) !== 1) v(`order ${order.id}: ${fulfillN.get(order.id) ?? 0} fulfillments`);
    if ((paidN.get(order.id) ?? 0) !== 1) v(`order ${order.id}: moved to paid ${paidN.get(order.id) ?? 0} times`);
    const lines = ledgerBy.get(order.id) ?? [];
    const balance = lines.filter((l) => l.account === 'stripe_balance').reduce((s, l) => s + l.amount, 0);
    if (lines.length !== 2 || lines.reduce((s, l) => s + l.amount, 0) !== 0 || balance !== order.amountPaid) {
      v(`order ${order.id}: payment ledger ${JSON.stringify(lines.map((l) => [l.account, l.amount]))}, expected one balanced pair of ${order.amountPaid}`);
    }
  }
  for (const order of orders.filter((x) => x.status !== 'paid')) {
    if ((emailN.get(order.id) ?? 0) > 0 || (fulfillN.get(order.id) ?? 0) > 0 || (ledgerBy.get(order.id)?.length ?? 0) > 0) v(`order ${order.id} is ${order.status} but has payment side effects`);
  }
  const duplicates = await prisma.orderEvent.count({ where: { kind: { in: ['duplicate_payment', 'payment_after_cancel'] } } });
  if (duplicates > 0) v(`${duplicates} duplicate payments recorded on order timelines`);

  // Stock: down by exactly what paid orders hold.
  const sold = new Map<string, number>();
  for (const order of paid) for (const item of order.items) sold.set(item.productId, (sold.get(item.productId) ?? 0) + item.quantity);
  for (const p of await prisma.product.findMany({ select: { id: true, slug: true, stock: true } })) {
    const expected = (o.initialStock.get(p.id) ?? 0) - (sold.get(p.id) ?? 0);
    if (p.stock !== expected) v(`product ${p.slug}: stock ${p.stock}, expected ${expected} (${sold.get(p.id) ?? 0} sold)`);
  }
  return {
    figures: { stripePaymentIntents: intents.length, stripeSucceeded: succeeded.length, ordersPaid: paid.length, ordersOpen: orders.length - paid.length },
    violations,
  };
}
