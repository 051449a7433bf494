// Stripe's refunds of a payment, as the order records them (issue #16): the Refund rows and
// their statuses, the ledger lines of a refund that succeeded (once), the order's
// amountRefunded and status, and the timeline — for refunds of the sale and of a stray payment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { createOrderFixture, fakePaymentIntent, fakeRefund, type OrderFixture } from '@/tests/helpers/payments';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import type { Stripe } from '@/lib/stripe/client';
import { strayRefundKey } from './apply';
import { applyChargeRefunds, applyPaymentIntent } from '@/tests/helpers/stripe-apply';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let prisma: PrismaClient;
beforeAll(async () => {
  database = await createTestDatabase();
  prisma = database.prisma;
});
afterAll(() => database?.drop());

const ctx = { source: 'webhook' as const };

function paidPi(f: OrderFixture, opts: { amountRefunded?: number; id?: string; attempt?: number } = {}): Stripe.PaymentIntent {
  return fakePaymentIntent({ id: opts.id ?? f.paymentIntentIds[0], orderId: f.orderId, attempt: opts.attempt ?? 1, amount: f.total, status: 'succeeded', amountRefunded: opts.amountRefunded });
}

function refund(f: OrderFixture, id: string, amount: number, status: string | null, extra: Partial<Stripe.Refund> = {}, pi = f.paymentIntentIds[0]): Stripe.Refund {
  return { ...fakeRefund({ id, paymentIntentId: pi, amount }), status, ...extra } as Stripe.Refund;
}

async function paidOrder(price = 2500): Promise<OrderFixture> {
  const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1, price }] });
  await applyPaymentIntent(prisma, paidPi(f), ctx);
  return f;
}

const orderOf = (f: OrderFixture) => prisma.order.findUniqueOrThrow({ where: { id: f.orderId } });
const refundRows = async (f: OrderFixture) =>
  (await prisma.refund.findMany({ where: { orderId: f.orderId }, orderBy: { refundNumber: 'asc' } })).map(({ refundNumber, stripeRefundId, idempotencyKey, amount, currency, status, reason, requestedBy, paymentIntentId }) => ({
    refundNumber,
    stripeRefundId,
    idempotencyKey,
    amount,
    currency,
    status,
    reason,
    requestedBy,
    paymentIntentId,
  }));
const refundLedger = async (f: OrderFixture) =>
  (await prisma.ledgerEntry.findMany({ where: { orderId: f.orderId, txKey: { startsWith: 'refund:' } }, orderBy: [{ txKey: 'asc' }, { account: 'asc' }] })).map(({ txKey, account, amount, currency, memo }) => ({ txKey, account, amount, currency, memo }));
const timeline = async (f: OrderFixture, kinds: string[]) =>
  (await prisma.orderEvent.findMany({ where: { orderId: f.orderId, kind: { in: kinds } }, orderBy: { createdAt: 'asc' } })).map(({ kind, fromStatus, toStatus, detail }) => ({ kind, fromStatus, toStatus, detail }));

describe(`applyChargeRefunds (${testDbKind})`, () => {
  it('a refund pending, then succeeded: recorded at once, on the books only once it succeeded, once', async () => {
    const f = await paidOrder();
    const pi = f.paymentIntentIds[0];
    const pending = refund(f, 're_life', 1000, 'pending', { reason: 'requested_by_customer' });
    const r1 = await applyChargeRefunds(prisma, { paymentIntent: paidPi(f), refunds: [pending] }, { source: 'webhook', stripeEventId: 'evt_r1' });
    expect(r1).toEqual({ orderId: f.orderId, status: 'partially_refunded', changed: true });
    expect(await refundRows(f)).toEqual([
      { refundNumber: 1, stripeRefundId: 're_life', idempotencyKey: 'stripe:re_life', amount: 1000, currency: 'usd', status: 'pending', reason: 'requested_by_customer', requestedBy: null, paymentIntentId: pi },
    ]);
    expect(await refundLedger(f)).toEqual([]);
    // A pending refund already counts: Stripe has taken the money back from the balance.
    expect(await orderOf(f)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1000, amountPaid: 2500 });
    expect(await timeline(f, ['refund_recorded', 'refund_updated', 'status_changed'])).toEqual([
      { kind: 'status_changed', fromStatus: 'pending', toStatus: 'paid', detail: { paymentIntentId: pi, attempt: 1 } },
      { kind: 'refund_recorded', fromStatus: null, toStatus: null, detail: { refundId: 're_life', paymentIntentId: pi, amount: 1000, status: 'pending' } },
      { kind: 'status_changed', fromStatus: 'paid', toStatus: 'partially_refunded', detail: { amountRefunded: 1000, amountPaid: 2500 } },
    ]);
    expect(await applyChargeRefunds(prisma, { paymentIntent: paidPi(f), refunds: [pending] }, ctx)).toEqual({ orderId: f.orderId, status: 'partially_refunded', changed: false });

    const done = refund(f, 're_life', 1000, 'succeeded');
    const r2 = await applyChargeRefunds(prisma, { paymentIntent: paidPi(f, { amountRefunded: 1000 }), refunds: [done] }, ctx);
    expect(r2).toEqual({ orderId: f.orderId, status: 'partially_refunded', changed: false });
    expect((await refundRows(f)).map((r) => [r.status, r.reason])).toEqual([['succeeded', 'requested_by_customer']]);
    expect(await refundLedger(f)).toEqual([
      { txKey: 'refund:re_life', account: 'refunds', amount: 1000, currency: 'usd', memo: `refund re_life of ${pi}` },
      { txKey: 'refund:re_life', account: 'stripe_balance', amount: -1000, currency: 'usd', memo: `refund re_life of ${pi}` },
    ]);
    expect((await timeline(f, ['refund_updated'])).map((e) => e.detail)).toEqual([{ refundId: 're_life', status: 'succeeded' }]);

    // Again, and a stale pending snapshot after it: nothing changes.
    await applyChargeRefunds(prisma, { paymentIntent: paidPi(f, { amountRefunded: 1000 }), refunds: [done] }, ctx);
    await applyChargeRefunds(prisma, { paymentIntent: paidPi(f), refunds: [pending] }, ctx);
    expect((await refundRows(f)).map((r) => r.status)).toEqual(['succeeded']);
    expect(await refundLedger(f)).toHaveLength(2);
    expect(await timeline(f, ['refund_recorded', 'refund_updated'])).toHaveLength(2);
    expect(await orderOf(f)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1000 });
  });

  it('a refund that failed or was canceled takes nothing back: no ledger lines, not counted, and it stays failed', async () => {
    const f = await paidOrder();
    const failed = refund(f, 're_failed', 700, 'failed');
    const canceled = refund(f, 're_canceled', 300, 'canceled');
    const r = await applyChargeRefunds(prisma, { paymentIntent: paidPi(f), refunds: [failed, canceled] }, ctx);
    expect(r).toEqual({ orderId: f.orderId, status: 'paid', changed: false });
    expect((await refundRows(f)).map((x) => [x.stripeRefundId, x.status, x.refundNumber])).toEqual([
      ['re_failed', 'failed', 1],
      ['re_canceled', 'canceled', 2],
    ]);
    expect(await refundLedger(f)).toEqual([]);
    expect(await orderOf(f)).toMatchObject({ status: 'paid', amountRefunded: 0 });
    // Stripe's failed and canceled are final: a stale snapshot from before they ended (a refund
    // request's own answer applied after the webhook that said it failed) is not believed, for
    // the rows nor for the amount refunded.
    await applyChargeRefunds(prisma, { paymentIntent: paidPi(f), refunds: [refund(f, 're_failed', 700, 'pending'), refund(f, 're_canceled', 300, 'pending')] }, ctx);
    expect(await orderOf(f)).toMatchObject({ status: 'paid', amountRefunded: 0 });
    expect((await refundRows(f)).map((x) => x.status)).toEqual(['failed', 'canceled']);
    expect(await refundLedger(f)).toEqual([]);
    expect(await timeline(f, ['refund_updated'])).toEqual([]);
    // Still paid, and the timeline says only that it was paid.
    expect((await timeline(f, ['status_changed'])).map((e) => e.toStatus)).toEqual(['paid']);
  });

  it('a refund without a status is pending; one in requires_action moves on to succeeded', async () => {
    const f = await paidOrder();
    await applyChargeRefunds(prisma, { paymentIntent: paidPi(f), refunds: [refund(f, 're_nostatus', 400, null), refund(f, 're_action', 500, 'requires_action')] }, ctx);
    expect((await refundRows(f)).map((x) => [x.stripeRefundId, x.status])).toEqual([
      ['re_nostatus', 'pending'],
      ['re_action', 'requires_action'],
    ]);
    await applyChargeRefunds(prisma, { paymentIntent: paidPi(f, { amountRefunded: 900 }), refunds: [refund(f, 're_nostatus', 400, 'succeeded'), refund(f, 're_action', 500, 'succeeded')] }, ctx);
    expect((await refundRows(f)).map((x) => x.status)).toEqual(['succeeded', 'succeeded']);
    expect((await refundLedger(f)).filter((l) => l.account === 'refunds').map((l) => [l.txKey, l.amount])).toEqual([
      ['refund:re_action', 500],
      ['refund:re_nostatus', 400],
    ]);
    expect(await orderOf(f)).toMatchObject({ status: 'partially_refunded', amountRefunded: 900 });
  });

  it('amountRefunded is Stripe’s total when it knows more than the list, never more than was paid, never less than before', async () => {
    const f = await paidOrder();
    // The fresher charge (passed apart) wins over the PaymentIntent's embedded one.
    const fresher = { ...(paidPi(f).latest_charge as Stripe.Charge), amount_refunded: 1800 };
    await applyChargeRefunds(prisma, { paymentIntent: paidPi(f, { amountRefunded: 100 }), charge: fresher, refunds: [refund(f, 're_part', 600, 'succeeded')] }, ctx);
    expect(await orderOf(f)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1800 });
    // A stale snapshot with a smaller total does not shrink it.
    await applyChargeRefunds(prisma, { paymentIntent: paidPi(f, { amountRefunded: 600 }), refunds: [refund(f, 're_part', 600, 'succeeded')] }, ctx);
    expect(await orderOf(f)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1800 });
    // Stripe's total above what was paid is capped at what was paid: refunded.
    const r = await applyChargeRefunds(prisma, { paymentIntent: paidPi(f, { amountRefunded: 9999 }), refunds: [] }, ctx);
    expect(r).toEqual({ orderId: f.orderId, status: 'refunded', changed: true });
    expect(await orderOf(f)).toMatchObject({ status: 'refunded', amountRefunded: 2500 });
    expect((await timeline(f, ['status_changed'])).at(-1)).toEqual({ kind: 'status_changed', fromStatus: 'partially_refunded', toStatus: 'refunded', detail: { amountRefunded: 2500, amountPaid: 2500 } });
  });

  it('a full refund at once moves paid → refunded; refunds of another PaymentIntent in the list are not this one’s', async () => {
    const f = await paidOrder();
    const other = refund(f, 're_other', 2500, 'succeeded', {}, 'pi_other');
    const otherAsObject = refund(f, 're_other_obj', 2500, 'succeeded', { payment_intent: { id: 'pi_other' } as Stripe.PaymentIntent });
    const mine = refund(f, 're_full', 2500, 'succeeded', { payment_intent: { id: f.paymentIntentIds[0] } as Stripe.PaymentIntent });
    const r = await applyChargeRefunds(prisma, { paymentIntent: paidPi(f), refunds: [other, otherAsObject, mine] }, ctx);
    expect(r).toEqual({ orderId: f.orderId, status: 'refunded', changed: true });
    expect((await refundRows(f)).map((x) => x.stripeRefundId)).toEqual(['re_full']);
    expect(await orderOf(f)).toMatchObject({ status: 'refunded', amountRefunded: 2500 });
    expect((await refundLedger(f)).map((l) => [l.account, l.amount])).toEqual([
      ['refunds', 2500],
      ['stripe_balance', -2500],
    ]);
  });

  it('a refund we asked for ourselves is matched by its refund_id, not recorded twice', async () => {
    const f = await paidOrder();
    const pi = f.paymentIntentIds[0];
    const ours = await prisma.refund.create({ data: { orderId: f.orderId, refundNumber: 1, idempotencyKey: 'brisk:refund:admin:1', amount: 1000, currency: 'usd', status: 'pending', requestedBy: 'admin', paymentIntentId: pi } });
    // Another order's refund id in the metadata is not this order's refund.
    const elsewhere = await paidOrder();
    const theirs = await prisma.refund.create({ data: { orderId: elsewhere.orderId, refundNumber: 1, idempotencyKey: 'brisk:refund:admin:elsewhere', amount: 200, currency: 'usd', status: 'pending', paymentIntentId: elsewhere.paymentIntentIds[0] } });
    await applyChargeRefunds(
      prisma,
      {
        paymentIntent: paidPi(f, { amountRefunded: 1200 }),
        refunds: [refund(f, 're_ours', 1000, 'succeeded', { metadata: { refund_id: ours.id } }), refund(f, 're_misfiled', 200, 'pending', { metadata: { refund_id: theirs.id } })],
      },
      ctx,
    );
    expect(await refundRows(f)).toEqual([
      { refundNumber: 1, stripeRefundId: 're_ours', idempotencyKey: 'brisk:refund:admin:1', amount: 1000, currency: 'usd', status: 'succeeded', reason: null, requestedBy: 'admin', paymentIntentId: pi },
      { refundNumber: 2, stripeRefundId: 're_misfiled', idempotencyKey: 'stripe:re_misfiled', amount: 200, currency: 'usd', status: 'pending', reason: null, requestedBy: null, paymentIntentId: pi },
    ]);
    expect((await prisma.refund.findUniqueOrThrow({ where: { id: theirs.id } })).stripeRefundId).toBeNull();
    expect((await timeline(f, ['refund_recorded', 'refund_updated'])).map((e) => [e.kind, (e.detail as { refundId: string }).refundId])).toEqual([
      ['refund_updated', 're_ours'],
      ['refund_recorded', 're_misfiled'],
    ]);
    expect((await refundLedger(f)).map((l) => [l.txKey, l.account, l.amount])).toEqual([
      ['refund:re_ours', 'refunds', 1000],
      ['refund:re_ours', 'stripe_balance', -1000],
    ]);
    expect(await orderOf(f)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1200 });
  });

  it('a refund event that overtakes the payment event still lands on a paid order', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1, price: 2500 }] });
    const r = await applyChargeRefunds(prisma, { paymentIntent: paidPi(f, { amountRefunded: 2500 }), refunds: [refund(f, 're_early', 2500, 'succeeded')] }, ctx);
    expect(r).toEqual({ orderId: f.orderId, status: 'refunded', changed: true });
    const order = await orderOf(f);
    expect(order).toMatchObject({ status: 'refunded', amountPaid: 2500, amountRefunded: 2500 });
    // Paid first (its sale on the books), then refunded.
    const ledger = await prisma.ledgerEntry.findMany({ where: { orderId: f.orderId } });
    expect(Object.fromEntries(['sales', 'refunds', 'stripe_balance'].map((a) => [a, ledger.filter((l) => l.account === a).reduce((s, l) => s + l.amount, 0)]))).toEqual({ sales: -2500, refunds: 2500, stripe_balance: 0 });
  });

  it('refunds of a PaymentIntent that neither paid the order nor was taken as a stray payment record nothing', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1, price: 2500 }] });
    const processing = fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'processing' });
    expect(await applyChargeRefunds(prisma, { paymentIntent: processing, refunds: [refund(f, 're_nothing', 100, 'succeeded')] }, ctx)).toEqual({ orderId: f.orderId, status: 'processing', changed: true });
    expect(await refundRows(f)).toEqual([]);
    expect(await orderOf(f)).toMatchObject({ amountRefunded: 0 });
    const nobody = fakePaymentIntent({ id: 'pi_of_nobody', orderId: 'nobody', attempt: 1, amount: 100, status: 'succeeded' });
    expect(await applyChargeRefunds(prisma, { paymentIntent: nobody, refunds: [refund(f, 're_nobody', 100, 'succeeded', {}, 'pi_of_nobody')] }, ctx)).toEqual({ orderId: null, status: null, changed: false });
    expect(await prisma.refund.count({ where: { stripeRefundId: 're_nobody' } })).toBe(0);
  });

  it('says the order changed when the PaymentIntent it carries changed it, even where no refund is the sale’s', async () => {
    // The goods are gone: the payment this refund snapshot carries cancels the order, here.
    const f = await createOrderFixture(prisma, { lines: [{ stock: 0, quantity: 1, price: 2500 }] });
    const r = await applyChargeRefunds(prisma, { paymentIntent: paidPi(f), refunds: [refund(f, 're_gone', 2500, 'pending')] }, ctx);
    expect(r).toEqual({ orderId: f.orderId, status: 'canceled', changed: true });
    expect((await refundRows(f)).map((x) => [x.stripeRefundId, x.status])).toEqual([
      [null, 'reserved'],
      ['re_gone', 'pending'],
    ]);
    expect(await applyChargeRefunds(prisma, { paymentIntent: paidPi(f), refunds: [refund(f, 're_gone', 2500, 'pending')] }, ctx)).toEqual({ orderId: f.orderId, status: 'canceled', changed: false });
  });

  it('the refund of a stray payment reverses that payment, not the sale: the order’s own refund figures stay', async () => {
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1, price: 2500 }], attempts: 2 });
    const [strayId, payingId] = f.paymentIntentIds;
    await applyPaymentIntent(prisma, paidPi(f, { id: payingId, attempt: 2 }), ctx);
    await applyPaymentIntent(prisma, paidPi(f, { id: strayId, attempt: 1 }), ctx);
    const reserved = await prisma.refund.findUniqueOrThrow({ where: { idempotencyKey: strayRefundKey(strayId) } });
    const stripeRefund = refund(f, 're_stray', 2500, 'succeeded', { metadata: { refund_id: reserved.id } }, strayId);
    const r = await applyChargeRefunds(prisma, { paymentIntent: paidPi(f, { id: strayId, attempt: 1, amountRefunded: 2500 }), refunds: [stripeRefund] }, ctx);
    expect(r).toEqual({ orderId: f.orderId, status: 'paid', changed: false });
    expect(await refundRows(f)).toEqual([
      { refundNumber: 1, stripeRefundId: 're_stray', idempotencyKey: strayRefundKey(strayId), amount: 2500, currency: 'usd', status: 'succeeded', reason: 'duplicate', requestedBy: 'system', paymentIntentId: strayId },
    ]);
    expect(await refundLedger(f)).toEqual([
      { txKey: 'refund:re_stray', account: 'stripe_balance', amount: -2500, currency: 'usd', memo: `refund re_stray of ${strayId}` },
      { txKey: 'refund:re_stray', account: 'unexpected_payments', amount: 2500, currency: 'usd', memo: `refund re_stray of ${strayId}` },
    ]);
    expect(await orderOf(f)).toMatchObject({ status: 'paid', amountPaid: 2500, amountRefunded: 0, paymentIntentId: payingId });
    // The liability is closed: everything the stray payment put on the books is back to zero.
    const ledger = await prisma.ledgerEntry.findMany({ where: { orderId: f.orderId, account: 'unexpected_payments' } });
    expect(ledger.reduce((s, l) => s + l.amount, 0)).toBe(0);
  });
});
