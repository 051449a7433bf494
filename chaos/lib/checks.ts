// The money invariants, checked against both records: Stripe's (the emulator's /v1 lists, read
// with the secret key) and ours (the database, opened after the app has stopped).
import type Stripe from 'stripe';
import type { PrismaClient } from '../../lib/generated/prisma/client';
import { pendingRemedies } from '../../lib/orders/remedies';
import { pacing } from '../../lib/stripe/rate-budget';
import { listAllStripe, type StripeStandIn } from './harness';

/**
 * What the app's webhooks, jobs and sweep left undone, read once the app has stopped: Stripe
 * events not processed (with where their jobs are), emails not sent, refunds or cancels not
 * made, pg-boss jobs failed for good. Any of it means the app did not converge on its own.
 */
export async function checkConverged(prisma: PrismaClient, waitedSeconds: number): Promise<{ left: { events: number; emails: number; remedies: number }; violations: string[] }> {
  const violations: string[] = [];
  const left = {
    events: await prisma.stripeEvent.count({ where: { status: { in: ['received', 'failed'] } } }),
    emails: await prisma.email.count({ where: { status: { in: ['queued', 'sending'] } } }),
    remedies: (await pendingRemedies(prisma, new Date(Date.now() + 60_000))).length,
  };
  if (left.events + left.emails + left.remedies > 0) violations.push(`not converged ${waitedSeconds.toFixed(0)} s after the last restart: ${left.events} events unprocessed, ${left.emails} emails unsent, ${left.remedies} refunds or cancels not made`);
  // Work that failed for good is an error nobody saw.
  const dead = await prisma.stripeEvent.findMany({ where: { status: { in: ['dead', 'failed', 'received'] } }, select: { id: true, type: true, status: true, lastError: true } });
  const why = new Map<string, number>();
  for (const e of dead) why.set(`${e.status} ${e.type}: ${(e.lastError ?? '').slice(0, 160)}`, (why.get(`${e.status} ${e.type}: ${(e.lastError ?? '').slice(0, 160)}`) ?? 0) + 1);
  for (const [w, n] of [...why].slice(0, 10)) violations.push(`${n} Stripe events ${w}`);
  // Where their jobs are, to tell a lost enqueue from a stuck or deferred job.
  for (const e of dead.slice(0, 5)) {
    const jobs = await prisma.$queryRawUnsafe<{ state: string; start_after: Date; retry_count: number; created_on: Date }[]>(
      `SELECT state, start_after, retry_count, created_on FROM pgboss.job WHERE name = 'stripe-event' AND data->>'eventId' = $1 ORDER BY created_on`,
      e.id,
    );
    const received = await prisma.stripeEvent.findUnique({ where: { id: e.id }, select: { receivedAt: true, attempts: true } });
    violations.push(`event ${e.id} (${e.type}) received ${received?.receivedAt.toISOString()}, ${received?.attempts} attempts; its jobs: ${JSON.stringify(jobs)}`);
  }
  const stuck = await prisma.email.groupBy({ by: ['status'], where: { status: { notIn: ['sent'] } }, _count: { _all: true } });
  for (const x of stuck) violations.push(`${x._count._all} emails left ${x.status}`);
  const failedJobs = await prisma.$queryRawUnsafe<{ name: string; n: number; output: unknown }[]>(
    `SELECT name, count(*)::int AS n, (array_agg(output))[1] AS output FROM pgboss.job WHERE state = 'failed' GROUP BY name`,
  );
  for (const f of failedJobs) violations.push(`${f.n} ${f.name} jobs failed for good (e.g. ${JSON.stringify(f.output).slice(0, 200)})`);
  return { left, violations };
}

export interface PaymentFigures {
  stripePaymentIntents: number;
  stripeSucceeded: number;
  stripeRefunds: number;
  ordersFulfilled: number;
  ordersCanceled: number;
  ordersOpen: number;
  strayPayments: number;
  emailsSent: number;
  /** Deliveries repeated under the same Message-ID (a crash between the send and `sent`). */
  emailRepeats: number;
}

const FULFILLED = new Set(['paid', 'partially_refunded', 'refunded']);
const STRAY_KINDS = ['stray_payment', 'duplicate_payment', 'payment_after_cancel'];

/**
 * The money invariant of stale tabs and changed carts, against Stripe's records and ours, with
 * no healing before it (no reconciliation, no order page):
 * - every fulfilled order (paid, partially_refunded, refunded) received exactly its total from
 *   exactly one PaymentIntent, its current attempt's (not superseded, priced at the total, the
 *   lines it took are the lines that attempt priced), with one paid transition, one ledger pair
 *   (stripe_balance/sales), one fulfillment and one confirmation email really sent;
 * - an order whose current attempt succeeded at Stripe ended fulfilled by it, or canceled out of
 *   stock with the payment refunded (webhooks and jobs converged);
 * - every other succeeded PaymentIntent (a stray) was refunded at Stripe exactly once, in full,
 *   and recorded once: one Refund row (system, its stray key), one stray entry on the
 *   timeline, one balanced payment pair into unexpected_payments and one refund pair out of it;
 * - every refund at Stripe matches one Refund row and one refund ledger pair, and every Refund
 *   row and refund ledger pair matches one refund at Stripe; every ledger transaction balances,
 *   unexpected_payments nets to zero, stripe_balance equals what Stripe kept;
 * - no product below zero stock, and per product initial − sold (fulfilled orders' lines) = now;
 * - nothing that is not fulfilled has a fulfillment, a sale, taken stock or a sent confirmation.
 * `mail`: confirmations handed to the mail server per order id (a counting mailbox): `messages`
 * (distinct Message-IDs, what the shopper's mailbox shows) must be exactly 1 per fulfilled order
 * and 0 otherwise; `sends` counts deliveries, a repeat being a send redone after a crash under
 * the same Message-ID. Email rows are never counted as sends (unique keys allow at most one).
 */
export async function checkPayments(o: {
  prisma: PrismaClient;
  stripe: StripeStandIn;
  initialStock: Map<string, number>;
  since: number;
  mail: { sends: Map<string, number>; messages: Map<string, number> };
  /** One tab per shopper: no payment may be stray — every PaymentIntent Stripe charged must pay its order. */
  noStrays?: boolean;
}): Promise<{ figures: PaymentFigures; violations: string[] }> {
  const { prisma } = o;
  const violations: string[] = [];
  const v = (s: string) => {
    if (violations.length < 60) violations.push(s);
    else if (violations.length === 60) violations.push('… more violations not listed');
  };
  const created = { 'created[gte]': String(Math.floor(o.since / 1000) - 60) };
  const intents = (await listAllStripe<Stripe.PaymentIntent>(o.stripe, '/v1/payment_intents', created)).filter((pi) => pi.metadata?.order_id);
  const piById = new Map(intents.map((pi) => [pi.id, pi]));
  const succeeded = intents.filter((pi) => pi.status === 'succeeded');
  const stripeRefunds = (await listAllStripe<Stripe.Refund>(o.stripe, '/v1/refunds', created)).filter((r) => piById.has(String(r.payment_intent)));
  const refundsByPi = new Map<string, Stripe.Refund[]>();
  for (const r of stripeRefunds) refundsByPi.set(String(r.payment_intent), [...(refundsByPi.get(String(r.payment_intent)) ?? []), r]);
  const refundedAtStripe = (piId: string) => (refundsByPi.get(piId) ?? []).filter((r) => r.status === 'succeeded').reduce((s, r) => s + r.amount, 0);

  const [orders, refundRows, ledger, events, fulfillments, sideEffects, emails, products] = await Promise.all([
    prisma.order.findMany({ include: { items: true, attempts: true, stockHolds: true } }),
    prisma.refund.findMany(),
    prisma.ledgerEntry.findMany({ select: { orderId: true, txKey: true, account: true, amount: true } }),
    prisma.orderEvent.findMany({ where: { OR: [{ kind: { in: [...STRAY_KINDS, 'out_of_stock'] } }, { kind: 'status_changed', toStatus: 'paid' }] }, select: { orderId: true, kind: true, detail: true } }),
    prisma.fulfillment.findMany({ select: { orderId: true } }),
    prisma.sideEffect.findMany({ where: { kind: 'stock' }, select: { key: true } }),
    prisma.email.findMany({ where: { kind: 'order_confirmation' }, select: { orderId: true, status: true } }),
    prisma.product.findMany({ select: { id: true, slug: true, stock: true } }),
  ]);
  const orderById = new Map(orders.map((x) => [x.id, x]));
  const fulfilled = orders.filter((x) => FULFILLED.has(x.status));
  const payingPi = new Map(fulfilled.filter((x) => x.paymentIntentId).map((x) => [x.paymentIntentId!, x]));
  const ledgerByTx = new Map<string, typeof ledger>();
  for (const l of ledger) ledgerByTx.set(l.txKey, [...(ledgerByTx.get(l.txKey) ?? []), l]);
  const pair = (txKey: string) => new Map((ledgerByTx.get(txKey) ?? []).map((l) => [l.account, l.amount]));
  const countBy = <T>(rows: T[], key: (r: T) => string | null | undefined) => {
    const m = new Map<string, number>();
    for (const r of rows) {
      const k = key(r);
      if (k) m.set(k, (m.get(k) ?? 0) + 1);
    }
    return m;
  };
  const paidTransitions = countBy(events.filter((e) => e.kind === 'status_changed'), (e) => e.orderId);
  const strayEventsByPi = countBy(events.filter((e) => STRAY_KINDS.includes(e.kind)), (e) => (e.detail as { paymentIntentId?: string } | null)?.paymentIntentId);
  const fulfillN = countBy(fulfillments, (f) => f.orderId);
  const stockTaken = new Set(sideEffects.map((s) => s.key.replace(/^stock:/, '')));
  const emailRows = countBy(emails, (e) => e.orderId);
  const { sends, messages } = o.mail;
  // What reached the mailbox, never the Email rows: unique keys make two rows impossible.
  const sentTo = (orderId: string) => messages.get(orderId) ?? 0;
  {
    for (const [orderId, n] of sends) {
      if (orderId === '') v(`${n} emails sent that name no order`);
      else if (!orderById.has(orderId)) v(`${n} confirmation emails sent for an order we do not have (${orderId})`);
    }
  }

  // Fulfilled orders: exactly their total, from their current attempt's PaymentIntent.
  for (const order of fulfilled) {
    const pi = order.paymentIntentId ? piById.get(order.paymentIntentId) : undefined;
    const current = order.attempts.find((a) => a.attemptNumber === order.attemptCount);
    if (!pi || pi.status !== 'succeeded') {
      v(`order ${order.id} is ${order.status}, but its PaymentIntent ${order.paymentIntentId} is ${pi?.status ?? 'not at Stripe'}`);
      continue;
    }
    if (pi.metadata.order_id !== order.id) v(`order ${order.id} is paid by ${pi.id}, a PaymentIntent of order ${pi.metadata.order_id}`);
    if (pi.amount_received !== order.total || order.amountPaid !== order.total || pi.currency !== order.currency) {
      v(`order ${order.id}: total ${order.total} ${order.currency}, amountPaid ${order.amountPaid}, Stripe received ${pi.amount_received} ${pi.currency} on ${pi.id}`);
    }
    if (!current || current.paymentIntentId !== pi.id) v(`order ${order.id} is paid by ${pi.id}, not by its current attempt #${order.attemptCount} (${current?.paymentIntentId ?? 'none'})`);
    else {
      if (current.supersededAt) v(`order ${order.id} is paid by attempt #${current.attemptNumber}, which was superseded`);
      if (current.amount !== order.total) v(`order ${order.id}: paid by attempt #${current.attemptNumber} priced ${current.amount}, total ${order.total}`);
      const priced = JSON.stringify(((current.lines as { productId: string; quantity: number }[] | null) ?? []).map((l) => [l.productId, l.quantity]).sort());
      const kept = JSON.stringify(order.items.map((i) => [i.productId, i.quantity]).sort());
      if (priced !== kept) v(`order ${order.id}: its lines ${kept} are not the lines its paying attempt priced ${priced}`);
    }
    // Every other succeeded PaymentIntent of this order is a stray (checked below); none may also count as its payment.
    const refunded = refundedAtStripe(pi.id);
    if (refunded !== order.amountRefunded) v(`order ${order.id}: refunded ${order.amountRefunded} here, ${refunded} at Stripe`);
    if ((paidTransitions.get(order.id) ?? 0) !== 1) v(`order ${order.id}: moved to paid ${paidTransitions.get(order.id) ?? 0} times`);
    if ((fulfillN.get(order.id) ?? 0) !== 1) v(`order ${order.id}: ${fulfillN.get(order.id) ?? 0} fulfillments`);
    if ((emailRows.get(order.id) ?? 0) !== 1) v(`order ${order.id}: ${emailRows.get(order.id) ?? 0} confirmation email rows`);
    if (sentTo(order.id) !== 1) v(`order ${order.id}: ${sentTo(order.id)} confirmation emails reached the mailbox (${sends.get(order.id) ?? 0} sends)`);
    if (!stockTaken.has(order.id)) v(`order ${order.id} is ${order.status} but never took its stock`);
    const p = pair(`payment:${pi.id}`);
    if (p.size !== 2 || p.get('stripe_balance') !== pi.amount_received || p.get('sales') !== -pi.amount_received) v(`order ${order.id}: payment ledger of ${pi.id} is ${JSON.stringify([...p])}, expected stripe_balance +${pi.amount_received} / sales −${pi.amount_received}`);
  }

  // Orders not fulfilled: no side effects; converged when their current attempt succeeded.
  for (const order of orders.filter((x) => !FULFILLED.has(x.status))) {
    if ((fulfillN.get(order.id) ?? 0) > 0 || sentTo(order.id) > 0 || stockTaken.has(order.id) || (paidTransitions.get(order.id) ?? 0) > 0) {
      v(`order ${order.id} is ${order.status} but has fulfillment ${fulfillN.get(order.id) ?? 0}, emails sent ${sentTo(order.id)}, stock taken ${stockTaken.has(order.id)}, paid transitions ${paidTransitions.get(order.id) ?? 0}`);
    }
    if (order.stockHolds.some((h) => h.takenAt)) v(`order ${order.id} is ${order.status} but a stock hold of it was taken`);
    const current = order.attempts.find((a) => a.attemptNumber === order.attemptCount);
    const pi = current ? piById.get(current.paymentIntentId) : undefined;
    if (pi?.status === 'succeeded') {
      const outOfStock = order.status === 'canceled' && events.some((e) => e.orderId === order.id && e.kind === 'out_of_stock' && (e.detail as { paymentIntentId?: string } | null)?.paymentIntentId === pi.id);
      if (!outOfStock) v(`order ${order.id} is ${order.status}, but its current attempt's PaymentIntent ${pi.id} succeeded at Stripe (webhooks and jobs did not converge)`);
    }
  }

  // Stray payments: refunded once, in full, recorded once.
  const strays = succeeded.filter((pi) => payingPi.get(pi.id)?.id !== pi.metadata.order_id);
  if (o.noStrays) for (const pi of strays) v(`${pi.id} was charged at Stripe (order ${pi.metadata.order_id}, ${orderById.get(pi.metadata.order_id)?.status ?? 'unknown'}) but pays no order`);
  for (const pi of strays) {
    const owner = orderById.get(pi.metadata.order_id);
    const label = `stray payment ${pi.id} (order ${pi.metadata.order_id}, ${owner?.status ?? 'unknown'}, attempt ${pi.metadata.attempt ?? '?'})`;
    const res = refundsByPi.get(pi.id) ?? [];
    if (res.length !== 1) v(`${label}: ${res.length} refunds at Stripe`);
    else if (res[0].status !== 'succeeded' || res[0].amount !== pi.amount_received) v(`${label}: refund ${res[0].id} is ${res[0].status} for ${res[0].amount} of ${pi.amount_received}`);
    const rows = refundRows.filter((r) => r.paymentIntentId === pi.id);
    if (rows.length !== 1) v(`${label}: ${rows.length} Refund rows`);
    else if (rows[0].requestedBy !== 'system' || rows[0].idempotencyKey !== `brisk:refund:stray:${pi.id}` || rows[0].amount !== pi.amount_received) v(`${label}: Refund row ${JSON.stringify({ by: rows[0].requestedBy, key: rows[0].idempotencyKey, amount: rows[0].amount })}`);
    if ((strayEventsByPi.get(pi.id) ?? 0) !== 1) v(`${label}: ${strayEventsByPi.get(pi.id) ?? 0} stray entries on the timeline`);
    const p = pair(`payment:${pi.id}`);
    if (p.size !== 2 || p.get('stripe_balance') !== pi.amount_received || p.get('unexpected_payments') !== -pi.amount_received) v(`${label}: payment ledger ${JSON.stringify([...p])}, expected stripe_balance +${pi.amount_received} / unexpected_payments −${pi.amount_received}`);
  }
  // A succeeded PaymentIntent has one payment transaction; nothing else has one.
  const succeededIds = new Set(succeeded.map((pi) => pi.id));
  for (const txKey of ledgerByTx.keys()) if (txKey.startsWith('payment:') && !succeededIds.has(txKey.slice('payment:'.length))) v(`ledger ${txKey}: no such succeeded PaymentIntent at Stripe`);

  // Refunds one to one: Stripe's, our rows, our ledger.
  const rowByStripeId = countBy(refundRows, (r) => r.stripeRefundId);
  const strayIds = new Set(strays.map((pi) => pi.id));
  for (const re of stripeRefunds) {
    const piId = String(re.payment_intent);
    const rows = refundRows.filter((r) => r.stripeRefundId === re.id);
    if (rows.length !== 1) v(`Stripe refund ${re.id} of ${piId}: ${rows.length} Refund rows`);
    else if (rows[0].amount !== re.amount || rows[0].status !== re.status || rows[0].paymentIntentId !== piId) v(`Stripe refund ${re.id}: ${re.status} ${re.amount} of ${piId}, our row ${rows[0].status} ${rows[0].amount} of ${rows[0].paymentIntentId}`);
    const p = pair(`refund:${re.id}`);
    if (re.status === 'succeeded') {
      const account = strayIds.has(piId) ? 'unexpected_payments' : 'refunds';
      if (p.size !== 2 || p.get('stripe_balance') !== -re.amount || p.get(account) !== re.amount) v(`Stripe refund ${re.id} (${re.amount} of ${piId}): ledger ${JSON.stringify([...p])}, expected ${account} +${re.amount} / stripe_balance −${re.amount}`);
    } else if (p.size > 0) v(`Stripe refund ${re.id} is ${re.status} but on the ledger`);
  }
  const stripeRefundIds = new Set(stripeRefunds.map((r) => r.id));
  for (const row of refundRows) {
    if (!row.stripeRefundId) v(`Refund row ${row.id} (${row.requestedBy}, ${row.amount} of ${row.paymentIntentId}) is ${row.status}, never sent to Stripe`);
    else if (!stripeRefundIds.has(row.stripeRefundId)) v(`Refund row ${row.id} names ${row.stripeRefundId}, which Stripe does not have`);
    else if ((rowByStripeId.get(row.stripeRefundId) ?? 0) > 1) v(`Refund ${row.stripeRefundId} has ${rowByStripeId.get(row.stripeRefundId)} rows`);
  }
  for (const txKey of ledgerByTx.keys()) if (txKey.startsWith('refund:') && !stripeRefundIds.has(txKey.slice('refund:'.length))) v(`ledger ${txKey}: no such refund at Stripe`);

  // The books.
  for (const [txKey, lines] of ledgerByTx) {
    const sum = lines.reduce((s, l) => s + l.amount, 0);
    if (sum !== 0) v(`ledger ${txKey} does not balance (${sum})`);
  }
  const account = (name: string) => ledger.filter((l) => l.account === name).reduce((s, l) => s + l.amount, 0);
  if (account('unexpected_payments') !== 0) v(`unexpected_payments nets to ${account('unexpected_payments')}, not 0, though every stray should be refunded`);
  const kept = succeeded.reduce((s, pi) => s + pi.amount_received - refundedAtStripe(pi.id), 0);
  if (account('stripe_balance') !== kept) v(`stripe_balance on our ledger is ${account('stripe_balance')}, Stripe kept ${kept}`);
  const sales = fulfilled.reduce((s, x) => s + x.amountPaid, 0);
  if (account('sales') !== -sales) v(`sales on our ledger ${account('sales')}, fulfilled orders took ${sales}`);

  // Stock: never below zero, and down by exactly what fulfilled orders took.
  const sold = new Map<string, number>();
  for (const order of fulfilled) for (const item of order.items) sold.set(item.productId, (sold.get(item.productId) ?? 0) + item.quantity);
  for (const p of products) {
    if (p.stock < 0) v(`product ${p.slug}: stock ${p.stock} is below zero`);
    const expected = (o.initialStock.get(p.id) ?? 0) - (sold.get(p.id) ?? 0);
    if (p.stock !== expected) v(`product ${p.slug}: stock ${p.stock}, expected ${expected} (initial ${o.initialStock.get(p.id)}, ${sold.get(p.id) ?? 0} sold)`);
  }

  return {
    figures: {
      stripePaymentIntents: intents.length,
      stripeSucceeded: succeeded.length,
      stripeRefunds: stripeRefunds.length,
      ordersFulfilled: fulfilled.length,
      ordersCanceled: orders.filter((x) => x.status === 'canceled').length,
      ordersOpen: orders.filter((x) => x.status === 'pending' || x.status === 'processing').length,
      strayPayments: strays.length,
      emailsSent: [...sends.values()].reduce((s, n) => s + n, 0),
      emailRepeats: [...sends.values()].reduce((s, n) => s + n, 0) - [...messages.values()].reduce((s, n) => s + n, 0),
    },
    violations,
  };
}

/**
 * The shared Stripe rate budget, checked on its own clock and windows: every request that
 * reached Stripe carries the grant it was paced by (`Brisk-Budget-Grant`, epoch ms on the app
 * processes' clock). Each budget window (`points` per `durationSec`) holds at most its points
 * (a process pacing by a budget of its own would put more into one), every grant lies inside
 * its window, and no second of grants holds more than Stripe's limit. Arrival times at a proxy are not the budget's clock: they add the
 * sending process's and the counting process's event-loop delays, so they are a figure only.
 */
export function checkBudget(requests: { budgetGrant?: { grantedAt: number; windowEndsAt: number } }[], perSecond: number, stripeLimit: number): { figures: { windows: number; maxInWindow: number; maxGrantedInOneSecond: number }; violations: string[] } {
  const { points, durationSec } = pacing(perSecond);
  const durationMs = durationSec * 1000;
  const violations: string[] = [];
  const unstamped = requests.filter((r) => !r.budgetGrant).length;
  if (unstamped > 0) violations.push(`${unstamped} requests reached Stripe without a budget grant`);
  const grants = requests.flatMap((r) => (r.budgetGrant ? [r.budgetGrant] : [])).sort((a, b) => a.windowEndsAt - b.windowEndsAt);
  const outside = grants.filter((g) => g.grantedAt > g.windowEndsAt || g.grantedAt < g.windowEndsAt - durationMs - 2);
  if (outside.length) violations.push(`${outside.length} grants lie outside their ${durationMs} ms window (e.g. granted ${outside[0].grantedAt}, window ends ${outside[0].windowEndsAt})`);
  // One window: the same end. A grant's end is read as its grant time + the store's
  // msBeforeNext (computed a moment earlier), so one window's grants name ends up to that
  // moment apart; windows of one shared budget end ≥ durationMs apart, so ends within half a
  // window are one window. A window of a process pacing by a budget of its own (the in-memory
  // insurance limiter) lands among the shared ones and shows as a window over its points.
  const windows: { end: number; n: number }[] = [];
  for (const g of grants) {
    const last = windows.at(-1);
    if (last && g.windowEndsAt - last.end < durationMs / 2) last.n++;
    else windows.push({ end: g.windowEndsAt, n: 1 });
  }
  const over = windows.filter((w) => w.n > points);
  if (over.length) violations.push(`${over.length} budget windows granted more than ${points} requests (most: ${Math.max(...over.map((w) => w.n))})`);
  const t = grants.map((g) => g.grantedAt).sort((a, b) => a - b);
  let maxGrantedInOneSecond = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= 1_000) j++;
    maxGrantedInOneSecond = Math.max(maxGrantedInOneSecond, i - j + 1);
  }
  if (maxGrantedInOneSecond > stripeLimit) violations.push(`${maxGrantedInOneSecond} requests were granted within one second (Stripe's limit ${stripeLimit})`);
  return { figures: { windows: windows.length, maxInWindow: Math.max(0, ...windows.map((w) => w.n)), maxGrantedInOneSecond }, violations };
}
