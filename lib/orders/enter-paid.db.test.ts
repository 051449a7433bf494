// What paying an order writes, row by row (issue #16: a proof that can fail). apply.db.test.ts
// checks the counts and the end states; this file pins the rows themselves — every ledger line,
// the receipt's words, the stock taken per product, the timeline, the attempt's card — so a
// changed account, amount, key or sentence is a failing test, not a silent change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { createOrderFixture, fakePaymentIntent, type OrderFixture } from '@/tests/helpers/payments';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import type { Stripe } from '@/lib/stripe/client';
import { strayRefundKey } from './apply';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { outboxOfOrder } from '@/tests/helpers/outbox';
import { STRAY_REASON_TEXT } from './payment-decision';
import { getProductBySlug } from '@/lib/catalog/catalog';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let prisma: PrismaClient;
beforeAll(async () => {
  database = await createTestDatabase();
  prisma = database.prisma;
});
afterAll(() => database?.drop());

const HOUR = 3_600_000;

/** Every row an order owns, in a stable order: what "a second apply changes nothing" compares. */
async function everything(orderId: string) {
  const order = await prisma.order.findUniqueOrThrow({ where: { id: orderId }, include: { items: { orderBy: { id: 'asc' } } } });
  return {
    order,
    attempts: await prisma.paymentAttempt.findMany({ where: { orderId }, orderBy: { attemptNumber: 'asc' } }),
    events: await prisma.orderEvent.findMany({ where: { orderId }, orderBy: [{ createdAt: 'asc' }, { kind: 'asc' }] }),
    ledger: await prisma.ledgerEntry.findMany({ where: { orderId }, orderBy: [{ txKey: 'asc' }, { account: 'asc' }] }),
    emails: await prisma.email.findMany({ where: { orderId } }),
    fulfillments: await prisma.fulfillment.findMany({ where: { orderId } }),
    sideEffects: (await prisma.sideEffect.findMany({ where: { orderId }, orderBy: { key: 'asc' } })).map((s) => ({ key: s.key, kind: s.kind })),
    refunds: await prisma.refund.findMany({ where: { orderId }, orderBy: { refundNumber: 'asc' } }),
    holds: await prisma.stockHold.findMany({ where: { orderId }, orderBy: [{ attemptNumber: 'asc' }, { productId: 'asc' }] }),
    stock: await prisma.product.findMany({ where: { id: { in: order.items.map((i) => i.productId) } }, orderBy: { id: 'asc' }, select: { id: true, stock: true } }),
  };
}

async function stockById(ids: string[]): Promise<Record<string, number>> {
  const rows = await prisma.product.findMany({ where: { id: { in: ids } } });
  return Object.fromEntries(rows.map((p) => [p.id, p.stock]));
}

/** Another order (another shopper) holding `quantity` of a product. */
async function holdByAnotherOrder(productId: string, quantity: number, hold: { expiresAt: Date; releasedAt?: Date; takenAt?: Date }) {
  const other = await createOrderFixture(prisma, { lines: [{ stock: 1, quantity: 1 }] });
  await prisma.stockHold.create({ data: { orderId: other.orderId, attemptNumber: 1, productId, quantity, ...hold } });
  return other;
}

function succeeded(f: OrderFixture, extra: { attempt?: number; amount?: number; id?: string } = {}): Stripe.PaymentIntent {
  return fakePaymentIntent({ id: extra.id ?? f.paymentIntentIds[0], orderId: f.orderId, attempt: extra.attempt ?? 1, amount: extra.amount ?? f.total, status: 'succeeded' });
}

describe(`entering paid writes exactly its rows (${testDbKind})`, () => {
  it('a paid order: the ledger, the receipt, one fulfillment, the stock per product, the timeline, the attempt — and a replay changes nothing', async () => {
    // Two products, one of them on two lines (3 + 1 of it), a second address line, and this
    // order's own hold for the paying attempt (taken) and for an older attempt (left alone).
    const f = await createOrderFixture(prisma, { lines: [{ stock: 10, quantity: 3, price: 1250 }, { stock: 4, quantity: 1, price: 999 }] });
    const [p0, p1] = f.productIds;
    await prisma.orderItem.create({ data: { orderId: f.orderId, productId: p0, name: 'Gift wrap of product 0', unitPrice: 1250, quantity: 1 } });
    const total = f.total + 1250;
    await prisma.order.update({ where: { id: f.orderId }, data: { total, subtotal: total, addressLine2: 'Flat 3' } });
    await prisma.paymentAttempt.update({ where: { paymentIntentId: f.paymentIntentIds[0] }, data: { amount: total } });
    const expiresAt = new Date(Date.now() + HOUR);
    await prisma.stockHold.create({ data: { orderId: f.orderId, attemptNumber: 1, productId: p0, quantity: 4, expiresAt } });
    await prisma.stockHold.create({ data: { orderId: f.orderId, attemptNumber: 1, productId: p1, quantity: 1, expiresAt } });
    await prisma.stockHold.create({ data: { orderId: f.orderId, attemptNumber: 0, productId: p1, quantity: 1, expiresAt } });
    // Other orders' holds that are over (expired, released, taken) leave the stock available:
    // any one of them counted would leave none of the second product.
    await holdByAnotherOrder(p1, 4, { expiresAt: new Date(Date.now() - 1000) });
    await holdByAnotherOrder(p1, 4, { expiresAt, releasedAt: new Date() });
    await holdByAnotherOrder(p1, 4, { expiresAt, takenAt: new Date() });

    const pi = succeeded(f, { amount: total });
    const t0 = new Date();
    const result = await applyPaymentIntent(prisma, pi, { source: 'webhook', stripeEventId: 'evt_paid_1' });
    const t1 = new Date();
    expect(result).toEqual({ orderId: f.orderId, status: 'paid', changed: true });

    const all = await everything(f.orderId);
    const { order } = all;
    expect(order).toMatchObject({ status: 'paid', amountPaid: total, amountRefunded: 0, paymentIntentId: pi.id, canceledAt: null, reviewStatus: 'none', riskScore: 0, riskLevel: 'normal', riskReasons: [] });
    expect(order.paidAt!.getTime()).toBeGreaterThanOrEqual(t0.getTime() - 5);
    expect(order.paidAt!.getTime()).toBeLessThanOrEqual(t1.getTime() + 5);

    // One balanced ledger transaction: the money is in Stripe's balance, and it is a sale.
    expect(all.ledger.map(({ txKey, account, amount, currency, memo, orderId }) => ({ txKey, account, amount, currency, memo, orderId }))).toEqual([
      { txKey: `payment:${pi.id}`, account: 'sales', amount: -total, currency: 'usd', memo: `payment for order ${f.orderId}`, orderId: f.orderId },
      { txKey: `payment:${pi.id}`, account: 'stripe_balance', amount: total, currency: 'usd', memo: `payment for order ${f.orderId}`, orderId: f.orderId },
    ]);

    // The receipt, word for word (lines in the order the order's rows are read: by id).
    const money = (n: number) => `$${(n / 100).toFixed(2)}`;
    const lines = order.items.map((i) => `  ${i.quantity} × ${i.name} @ ${money(i.unitPrice)} = ${money(i.unitPrice * i.quantity)}`);
    expect(all.emails).toHaveLength(1);
    const [email] = all.emails;
    expect(email).toMatchObject({
      dedupeKey: `order-confirmation:${f.orderId}`,
      to: order.email,
      subject: `Your Brisk order ${f.orderId.slice(0, 8)} is confirmed`,
      kind: 'order_confirmation',
      status: 'queued',
    });
    expect(email.text).toBe(
      [
        'Hi Ada Shopper,',
        '',
        `Thank you for your order. We received your payment of ${money(total)}.`,
        '',
        `Order ${f.orderId}`,
        ...lines,
        '',
        `Total: ${money(total)}`,
        '',
        'Shipping to:',
        '  Ada Shopper',
        '  1 Test Street',
        '  Flat 3',
        '  12345 Testville',
        '  US',
        '',
        '— Brisk',
      ].join('\n'),
    );
    expect(lines).toContain(`  3 × ${order.items.find((i) => i.quantity === 3)!.name} @ $12.50 = $37.50`);
    // After commit the receipt goes out, and nothing else: the outbox says so.
    expect(await outboxOfOrder(prisma, f.orderId)).toEqual({ emails: [email.id], refunds: [], superseded: [] });

    expect(all.fulfillments.map(({ status, note }) => ({ status, note }))).toEqual([{ status: 'pending', note: null }]);
    expect(all.sideEffects).toEqual(
      [
        { key: `email:order-confirmation:${f.orderId}`, kind: 'email' },
        { key: `fulfillment:${f.orderId}`, kind: 'fulfillment' },
        { key: `ledger:payment:${pi.id}`, kind: 'ledger' },
        { key: `stock:${f.orderId}`, kind: 'stock' },
      ].sort((a, b) => (a.key < b.key ? -1 : 1)),
    );

    // Stock: 3 + 1 of the first product, 1 of the second; the paying attempt's holds are now
    // taken stock, the older attempt's hold is untouched.
    expect(await stockById([p0, p1])).toEqual({ [p0]: 10 - 4, [p1]: 4 - 1 });
    expect(all.holds.map((h) => ({ attempt: h.attemptNumber, productId: h.productId, taken: h.takenAt !== null, released: h.releasedAt !== null }))).toEqual([
      { attempt: 0, productId: p1, taken: false, released: false },
      ...[
        { attempt: 1, productId: p0, taken: true, released: false },
        { attempt: 1, productId: p1, taken: true, released: false },
      ].sort((a, b) => (a.productId < b.productId ? -1 : 1)),
    ]);

    // The timeline: the move to paid (with who said so) and the risk score.
    expect(all.events.map(({ kind, fromStatus, toStatus, source, stripeEventId, actor, detail }) => ({ kind, fromStatus, toStatus, source, stripeEventId, actor, detail }))).toEqual([
      { kind: 'risk_assessed', fromStatus: null, toStatus: null, source: 'risk', stripeEventId: null, actor: null, detail: { score: 0, level: 'normal', held: false, reasons: [] } },
      { kind: 'status_changed', fromStatus: 'pending', toStatus: 'paid', source: 'webhook', stripeEventId: 'evt_paid_1', actor: null, detail: { paymentIntentId: pi.id, attempt: 1 } },
    ]);

    // The attempt carries the card that paid and Stripe's outcome; no failure.
    expect(all.attempts).toHaveLength(1);
    expect(all.attempts[0]).toMatchObject({ status: 'succeeded', cardBrand: 'visa', cardLast4: '4242', riskLevel: 'normal', riskScore: 12, declineCode: null, failureCode: null, failureMessage: null });
    expect(all.refunds).toEqual([]);

    // The same PaymentIntent again, from anywhere, changes nothing at all.
    for (const source of ['webhook', 'return_page', 'reconcile'] as const) {
      expect(await applyPaymentIntent(prisma, pi, { source, actor: 'someone' })).toEqual({ orderId: f.orderId, status: 'paid', changed: false });
    }
    expect(await everything(f.orderId)).toEqual(all);
    expect(await outboxOfOrder(prisma, f.orderId)).toEqual({ emails: [email.id], refunds: [], superseded: [] });
  });

  it('a receipt without a second address line has no blank line for it; the actor is on the timeline', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 2, quantity: 2, price: 500 }] });
    await applyPaymentIntent(prisma, succeeded(f), { source: 'admin', actor: 'admin@example.com' });
    const email = await prisma.email.findFirstOrThrow({ where: { orderId: f.orderId } });
    const item = await prisma.orderItem.findFirstOrThrow({ where: { orderId: f.orderId } });
    expect(email.text).toBe(
      [
        'Hi Ada Shopper,',
        '',
        'Thank you for your order. We received your payment of $10.00.',
        '',
        `Order ${f.orderId}`,
        `  2 × ${item.name} @ $5.00 = $10.00`,
        '',
        'Total: $10.00',
        '',
        'Shipping to:',
        '  Ada Shopper',
        '  1 Test Street',
        '  12345 Testville',
        '  US',
        '',
        '— Brisk',
      ].join('\n'),
    );
    const paid = await prisma.orderEvent.findFirstOrThrow({ where: { orderId: f.orderId, toStatus: 'paid' } });
    expect(paid).toMatchObject({ source: 'admin', actor: 'admin@example.com', stripeEventId: null });
    expect(await stockById(f.productIds)).toEqual({ [f.productIds[0]]: 0 });
  });

  it('a payment Stripe rates highest risk is paid but its fulfillment waits on hold for review', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 3, quantity: 1 }] });
    const pi = succeeded(f);
    const charge = pi.latest_charge as Stripe.Charge;
    charge.outcome = { ...charge.outcome!, risk_level: 'highest', risk_score: 80 };
    await applyPaymentIntent(prisma, pi, { source: 'webhook' });
    const all = await everything(f.orderId);
    expect(all.order).toMatchObject({ status: 'paid', reviewStatus: 'pending_review', riskLevel: 'highest', riskScore: 85 });
    expect((all.order.riskReasons as { code: string }[]).map((r) => r.code)).toEqual(['stripe_risk_level', 'stripe_risk_score']);
    expect(all.fulfillments.map(({ status, note }) => ({ status, note }))).toEqual([{ status: 'on_hold', note: 'risk review' }]);
    expect(all.events.find((e) => e.kind === 'risk_assessed')?.detail).toEqual({ score: 85, level: 'highest', held: true, reasons: ['stripe_risk_level', 'stripe_risk_score'] });
    expect(all.attempts[0]).toMatchObject({ riskLevel: 'highest', riskScore: 80 });
  });

  it('a risky payment on an order whose review an admin already decided is not put on hold again', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 3, quantity: 1 }] });
    await prisma.order.update({ where: { id: f.orderId }, data: { reviewStatus: 'approved' } });
    const pi = succeeded(f);
    const charge = pi.latest_charge as Stripe.Charge;
    charge.outcome = { ...charge.outcome!, risk_level: 'highest', risk_score: 80 };
    await applyPaymentIntent(prisma, pi, { source: 'webhook' });
    const all = await everything(f.orderId);
    expect(all.order).toMatchObject({ status: 'paid', reviewStatus: 'approved', riskLevel: 'highest', riskScore: 85 });
    expect(all.fulfillments.map(({ status, note }) => ({ status, note }))).toEqual([{ status: 'pending', note: null }]);
    expect((all.events.find((e) => e.kind === 'risk_assessed')?.detail as { held: boolean }).held).toBe(false);
  });

  it('a PaymentIntent without its charge expanded keeps the card and the risk the attempt already had', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 3, quantity: 1 }] });
    await prisma.paymentAttempt.update({
      where: { paymentIntentId: f.paymentIntentIds[0] },
      data: { status: 'processing', cardBrand: 'amex', cardLast4: '0005', riskLevel: 'elevated', riskScore: 70, failureCode: 'old', declineCode: 'old_decline', failureMessage: 'old message' },
    });
    const pi = { ...succeeded(f), latest_charge: 'ch_not_expanded' } as unknown as Stripe.PaymentIntent;
    expect((await applyPaymentIntent(prisma, pi, { source: 'webhook' })).status).toBe('paid');
    const all = await everything(f.orderId);
    // A success keeps whatever failure an earlier try of the same attempt left (it is history).
    expect(all.attempts[0]).toMatchObject({ status: 'succeeded', cardBrand: 'amex', cardLast4: '0005', riskLevel: 'elevated', riskScore: 70, failureCode: 'old', declineCode: 'old_decline', failureMessage: 'old message' });
    // Scored from what the attempt knew: elevated (30) and a score of 70 (10).
    expect(all.order).toMatchObject({ riskLevel: 'elevated', riskScore: 40, reviewStatus: 'none' });
    expect(all.fulfillments.map((x) => x.status)).toEqual(['pending']);
  });

  it('an order already scored is not scored again when paid; its fulfillment is not held', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 3, quantity: 1 }] });
    await prisma.order.update({ where: { id: f.orderId }, data: { riskReasons: [], riskScore: 5, riskLevel: 'normal' } });
    const pi = succeeded(f);
    const charge = pi.latest_charge as Stripe.Charge;
    charge.outcome = { ...charge.outcome!, risk_level: 'highest', risk_score: 90 };
    await applyPaymentIntent(prisma, pi, { source: 'webhook' });
    const all = await everything(f.orderId);
    // Stripe's own figures are still recorded on the order; no new assessment, no hold.
    expect(all.order).toMatchObject({ status: 'paid', riskScore: 90, riskLevel: 'highest', riskReasons: [], reviewStatus: 'none' });
    expect(all.events.map((e) => e.kind)).toEqual(['status_changed']);
    expect(all.fulfillments.map((x) => x.status)).toEqual(['pending']);
  });
});

describe(`a payment for goods that are gone (${testDbKind})`, () => {
  it('another shopper’s live hold makes the stock short: nothing is taken, the order is canceled and the payment refunded, once', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 3, quantity: 2 }, { stock: 5, quantity: 1 }] });
    const [p0, p1] = f.productIds;
    const expiresAt = new Date(Date.now() + HOUR);
    await prisma.stockHold.create({ data: { orderId: f.orderId, attemptNumber: 1, productId: p0, quantity: 2, expiresAt: new Date(Date.now() - 1000) } });
    await prisma.stockHold.create({ data: { orderId: f.orderId, attemptNumber: 1, productId: p1, quantity: 1, expiresAt: new Date(Date.now() - 1000) } });
    await holdByAnotherOrder(p0, 2, { expiresAt });

    const pi = succeeded(f);
    const result = await applyPaymentIntent(prisma, pi, { source: 'webhook', stripeEventId: 'evt_gone' });
    expect(result).toEqual({ orderId: f.orderId, status: 'canceled', changed: true });
    const all = await everything(f.orderId);
    expect(all.order).toMatchObject({ status: 'canceled', amountPaid: 0, paidAt: null });
    expect(all.order.canceledAt).not.toBeNull();
    expect(await stockById([p0, p1])).toEqual({ [p0]: 3, [p1]: 5 });
    expect(all.emails).toEqual([]);
    expect(all.fulfillments).toEqual([]);
    // Only the stray payment's ledger key: no stock, email or fulfillment was claimed.
    expect(all.sideEffects).toEqual([{ key: `ledger:payment:${pi.id}`, kind: 'ledger' }]);
    // This order's holds are given back.
    expect(all.holds.every((h) => h.releasedAt !== null && h.takenAt === null)).toBe(true);

    // The money is a liability until its automatic refund succeeds.
    expect(all.ledger.map(({ txKey, account, amount, currency, memo }) => ({ txKey, account, amount, currency, memo }))).toEqual([
      { txKey: `payment:${pi.id}`, account: 'stripe_balance', amount: f.total, currency: 'usd', memo: `stray payment on order ${f.orderId}` },
      { txKey: `payment:${pi.id}`, account: 'unexpected_payments', amount: -f.total, currency: 'usd', memo: `stray payment on order ${f.orderId}` },
    ]);
    expect(all.refunds.map(({ refundNumber, idempotencyKey, amount, currency, status, reason, requestedBy, paymentIntentId, stripeRefundId }) => ({ refundNumber, idempotencyKey, amount, currency, status, reason, requestedBy, paymentIntentId, stripeRefundId }))).toEqual([
      { refundNumber: 1, idempotencyKey: strayRefundKey(pi.id), amount: f.total, currency: 'usd', status: 'reserved', reason: 'duplicate', requestedBy: 'system', paymentIntentId: pi.id, stripeRefundId: null },
    ]);
    expect(strayRefundKey(pi.id)).toBe(`brisk:refund:stray:${pi.id}`);
    // After commit the refund is executed, and no receipt is sent.
    expect(await outboxOfOrder(prisma, f.orderId)).toEqual({ emails: [], refunds: [all.refunds[0].id], superseded: [] });

    // The timeline says what happened and why.
    const byKind = Object.fromEntries(all.events.map((e) => [e.kind, e]));
    expect(Object.keys(byKind).sort()).toEqual(['out_of_stock', 'status_changed', 'stray_payment']);
    expect(byKind.out_of_stock).toMatchObject({ source: 'webhook', stripeEventId: 'evt_gone', detail: { paymentIntentId: pi.id, short: [{ productId: p0, wanted: 2, available: 1 }] } });
    expect(byKind.stray_payment.detail).toEqual({
      paymentIntentId: pi.id,
      attempt: 1,
      amount: f.total,
      currency: 'usd',
      reason: 'out_of_stock',
      why: STRAY_REASON_TEXT.out_of_stock,
      paidBy: pi.id,
      action: 'refund_automatically',
    });
    expect(byKind.status_changed).toMatchObject({ fromStatus: 'pending', toStatus: 'canceled', detail: { reason: 'out_of_stock', paymentIntentId: pi.id } });
    // The attempt still records the card that paid.
    expect(all.attempts[0]).toMatchObject({ status: 'succeeded', cardBrand: 'visa', cardLast4: '4242' });

    expect(await applyPaymentIntent(prisma, pi, { source: 'reconcile' })).toEqual({ orderId: f.orderId, status: 'canceled', changed: false });
    expect(await everything(f.orderId)).toEqual(all);
    expect((await outboxOfOrder(prisma, f.orderId)).refunds).toHaveLength(1);
  });

  it('a product sold down below what the order wants reports what is left (never below zero) for each short line', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 0, quantity: 2 }, { stock: 1, quantity: 1 }, { stock: 1, quantity: 3 }] });
    const [p0, , p2] = f.productIds;
    // Someone else holds more than there is of the third product (stock lowered since).
    await holdByAnotherOrder(p2, 2, { expiresAt: new Date(Date.now() + HOUR) });
    await applyPaymentIntent(prisma, succeeded(f), { source: 'webhook' });
    const event = await prisma.orderEvent.findFirstOrThrow({ where: { orderId: f.orderId, kind: 'out_of_stock' } });
    const short = (event.detail as { short: { productId: string }[] }).short;
    expect([...short].sort((a, b) => (a.productId < b.productId ? -1 : 1))).toEqual(
      [
        { productId: p0, wanted: 2, available: 0 },
        { productId: p2, wanted: 3, available: 0 },
      ].sort((a, b) => (a.productId < b.productId ? -1 : 1)),
    );
    expect(await stockById(f.productIds)).toEqual(Object.fromEntries(f.productIds.map((id, i) => [id, [0, 1, 1][i]])));
  });

  it('exactly enough stock, once another order’s hold is counted, is enough', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 3 }] });
    await holdByAnotherOrder(f.productIds[0], 2, { expiresAt: new Date(Date.now() + HOUR) });
    expect((await applyPaymentIntent(prisma, succeeded(f), { source: 'webhook' })).status).toBe('paid');
    expect(await stockById(f.productIds)).toEqual({ [f.productIds[0]]: 2 });
  });
});

describe(`around entering paid (${testDbKind})`, () => {
  it('the shop shows the stock left as soon as the order is paid (the catalog cache is dropped)', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 2 }] });
    const product = await prisma.product.findUniqueOrThrow({ where: { id: f.productIds[0] } });
    expect((await getProductBySlug(prisma, product.slug))?.stock).toBe(5);
    await applyPaymentIntent(prisma, succeeded(f), { source: 'webhook' });
    expect((await getProductBySlug(prisma, product.slug))?.stock).toBe(3);
  });

  it('the attempt row, not the metadata, says whose PaymentIntent it is', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const decoy = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const pi = fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: decoy.orderId, attempt: 1, amount: f.total, status: 'succeeded' });
    expect(await applyPaymentIntent(prisma, pi, { source: 'webhook' })).toEqual({ orderId: f.orderId, status: 'paid', changed: true });
    expect((await prisma.order.findUniqueOrThrow({ where: { id: decoy.orderId } })).status).toBe('pending');
  });

  it('an attempt checkout already recorded as succeeded, with its card, keeps every field when the order is paid', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const fields = { status: 'succeeded', cardBrand: 'visa', cardLast4: '4242', riskLevel: 'normal', riskScore: 12, declineCode: null, failureCode: null, failureMessage: null };
    await prisma.paymentAttempt.update({ where: { paymentIntentId: f.paymentIntentIds[0] }, data: { ...fields, clientIp: '198.51.100.7' } });
    const before = await prisma.paymentAttempt.findUniqueOrThrow({ where: { paymentIntentId: f.paymentIntentIds[0] } });
    expect((await applyPaymentIntent(prisma, succeeded(f), { source: 'return_page' })).status).toBe('paid');
    // Nothing to bring up to date: the row is as checkout left it, to the millisecond.
    expect(await prisma.paymentAttempt.findUniqueOrThrow({ where: { paymentIntentId: f.paymentIntentIds[0] } })).toEqual(before);
  });

  it('a payment after the order was canceled is refunded, numbered after the refunds already there, and changes nothing else', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    await prisma.order.update({ where: { id: f.orderId }, data: { status: 'canceled' } });
    await prisma.refund.create({ data: { orderId: f.orderId, refundNumber: 1, idempotencyKey: `earlier:${f.orderId}`, amount: 1, currency: 'usd', status: 'failed' } });
    const pi = succeeded(f);
    expect(await applyPaymentIntent(prisma, pi, { source: 'webhook' })).toEqual({ orderId: f.orderId, status: 'canceled', changed: false });
    const all = await everything(f.orderId);
    expect(all.refunds.map((r) => [r.refundNumber, r.idempotencyKey, r.amount, r.status])).toEqual([
      [1, `earlier:${f.orderId}`, 1, 'failed'],
      [2, strayRefundKey(pi.id), f.total, 'reserved'],
    ]);
    expect(all.events.map((e) => [e.kind, (e.detail as { reason?: string }).reason, (e.detail as { why?: string }).why])).toEqual([['payment_after_cancel', 'order_canceled', STRAY_REASON_TEXT.order_canceled]]);
    expect(all.order).toMatchObject({ status: 'canceled', amountPaid: 0 });
    expect(await stockById(f.productIds)).toEqual({ [f.productIds[0]]: 5 });
    expect(all.attempts[0]).toMatchObject({ status: 'succeeded', cardLast4: '4242' });
  });
});
