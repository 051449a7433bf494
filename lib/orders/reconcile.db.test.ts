// Reconciliation, one finding kind at a time: our side (the database) or Stripe's side (the
// bundled emulator, through the official SDK) is put out of step, reconciliation runs through
// the real gateway, and the test reads back what an operator sees — the healed order (status,
// amounts, ledger, timeline) and the stored run with its counts and findings.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '@/emulator/src/server';
import { createStripeClient, type Stripe } from '@/lib/stripe/client';
import { StripeGateway } from '@/lib/stripe/gateway';
import { startCountingProxy } from '@/tests/helpers/counting-proxy';
import { createTestDatabase } from '@/tests/helpers/db';
import { createOrderFixture, type OrderFixture } from '@/tests/helpers/payments';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { listAll, runReconciliation, type ReconcileOptions } from './reconcile';
import { requestRefund } from './refunds';
import { executeSystemRefund } from './remedies';

type Emulator = Awaited<ReturnType<typeof startEmulator>>;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let emulator: Emulator;
let stripe: Stripe;
let gateway: StripeGateway;

beforeAll(async () => {
  [database, emulator] = await Promise.all([createTestDatabase(), startEmulator({ port: 0 })]);
  stripe = createStripeClient({ secretKey: emulator.secretKey, apiBase: emulator.url });
  gateway = new StripeGateway(stripe, { baseDelayMs: 10, maxDelayMs: 50 });
});
afterAll(async () => {
  await emulator?.close();
  await database?.drop();
});
// Each test sees only its own objects at Stripe (the database keeps the others' orders).
beforeEach(async () => {
  await control(emulator, 'POST', '/reset');
});

async function control(emu: Emulator, method: string, path: string, body?: unknown) {
  const r = await fetch(`${emu.url}/_emulator${path}`, {
    method,
    headers: { authorization: `Bearer ${emu.secretKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`emulator ${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

const prisma = () => database.prisma;
const MIN = 60_000;
/** The window around "now" each test reconciles. */
const aroundNow = (): Pick<ReconcileOptions, 'windowStart' | 'windowEnd'> => ({ windowStart: new Date(Date.now() - MIN), windowEnd: new Date(Date.now() + MIN) });

/** An order of 2 × 15.00 (total 3000), as checkout leaves it: pending, attempt rows with placeholder PaymentIntent ids. */
const newOrder = (attempts = 1) => createOrderFixture(prisma(), { lines: [{ stock: 10, quantity: 2, price: 1500 }], attempts });

/** A PaymentIntent at Stripe: paid with a test card unless `pm` is null (left requiring a payment method); a decline is left as Stripe leaves it. */
async function stripePayment(opts: { amount: number; metadata?: Record<string, string>; pm?: string | null; s?: Stripe }): Promise<Stripe.PaymentIntent> {
  const s = opts.s ?? stripe;
  const pi = await s.paymentIntents.create({ amount: opts.amount, currency: 'usd', metadata: opts.metadata ?? {}, ...(opts.pm === null ? {} : { payment_method: opts.pm ?? 'pm_card_visa' }) });
  if (opts.pm === null) return pi;
  try {
    return await s.paymentIntents.confirm(pi.id);
  } catch (err) {
    if ((err as { type?: string }).type !== 'StripeCardError') throw err;
    return s.paymentIntents.retrieve(pi.id);
  }
}

/** Checkout recorded this PaymentIntent as attempt `n` (and as the order's current one when n is the last). */
async function linkAttempt(f: OrderFixture, pi: Stripe.PaymentIntent, n = 1) {
  await prisma().paymentAttempt.update({ where: { paymentIntentId: f.paymentIntentIds[n - 1] }, data: { paymentIntentId: pi.id } });
  if (n === f.paymentIntentIds.length) await prisma().order.update({ where: { id: f.orderId }, data: { paymentIntentId: pi.id } });
}

/** An order with a real PaymentIntent for its attempt 1; applied as the webhook would unless `apply` is false. */
async function paidOrder(opts: { apply?: boolean; amount?: number; s?: Stripe; g?: StripeGateway } = {}) {
  const f = await newOrder();
  const pi = await stripePayment({ amount: opts.amount ?? f.total, metadata: { order_id: f.orderId, attempt: '1' }, s: opts.s });
  await linkAttempt(f, pi);
  if (opts.apply !== false) await applyPaymentIntent(prisma(), await (opts.g ?? gateway).retrievePaymentIntent(pi.id), { source: 'webhook' });
  return { ...f, pi };
}

const order = (id: string) => prisma().order.findUniqueOrThrow({ where: { id } });

/** The stored run as the admin's reconciliation page reads it; findings in a stable order. */
async function storedRun(runId: string) {
  const run = await prisma().reconciliationRun.findUniqueOrThrow({ where: { id: runId }, include: { findings: true } });
  const findings = run.findings
    .map((f) => ({ kind: f.kind, healed: f.healed, orderId: f.orderId, paymentIntentId: f.paymentIntentId, refundId: f.refundId, detail: f.detail }))
    .sort((a, b) => `${a.kind}${a.orderId}${a.paymentIntentId}${a.refundId}`.localeCompare(`${b.kind}${b.orderId}${b.paymentIntentId}${b.refundId}`));
  return { run, findings };
}

const sortFindings = <T extends { kind: string; orderId?: string | null; paymentIntentId?: string | null; refundId?: string | null }>(list: T[]) =>
  [...list].sort((a, b) => `${a.kind}${a.orderId ?? null}${a.paymentIntentId ?? null}${a.refundId ?? null}`.localeCompare(`${b.kind}${b.orderId ?? null}${b.paymentIntentId ?? null}${b.refundId ?? null}`));

async function ledgerOf(orderId: string) {
  const rows = await prisma().ledgerEntry.findMany({ where: { orderId }, select: { txKey: true, account: true, amount: true } });
  return rows.sort((a, b) => `${a.txKey}${a.account}`.localeCompare(`${b.txKey}${b.account}`));
}

describe('payments Stripe has and our orders do not reflect', () => {
  it('moves orders left processing to what Stripe decided: a decline back to pending, a success to paid with its ledger', async () => {
    const declined = await newOrder();
    const declinedPi = await stripePayment({ amount: declined.total, metadata: { order_id: declined.orderId, attempt: '1' }, pm: 'pm_card_chargeDeclined' });
    expect(declinedPi.status).toBe('requires_payment_method');
    await linkAttempt(declined, declinedPi);
    const succeeded = await newOrder();
    const succeededPi = await stripePayment({ amount: succeeded.total, metadata: { order_id: succeeded.orderId, attempt: '1' } });
    await linkAttempt(succeeded, succeededPi);
    // The `processing` webhooks arrived; the final ones were lost.
    await prisma().order.updateMany({ where: { id: { in: [declined.orderId, succeeded.orderId] } }, data: { status: 'processing' } });

    const opts = { ...aroundNow(), trigger: 'manual' as const, actor: 'admin@brisk.test' };
    const summary = await runReconciliation(prisma(), gateway, opts);

    expect(await order(declined.orderId)).toMatchObject({ status: 'pending', amountPaid: 0 });
    expect(await prisma().paymentAttempt.findUniqueOrThrow({ where: { paymentIntentId: declinedPi.id } })).toMatchObject({ status: 'requires_payment_method', declineCode: 'generic_decline' });
    expect(await order(succeeded.orderId)).toMatchObject({ status: 'paid', amountPaid: 3000, paymentIntentId: succeededPi.id });
    expect((await order(succeeded.orderId)).riskReasons).not.toBeNull();
    expect(await ledgerOf(succeeded.orderId)).toEqual([
      { txKey: `payment:${succeededPi.id}`, account: 'sales', amount: -3000 },
      { txKey: `payment:${succeededPi.id}`, account: 'stripe_balance', amount: 3000 },
    ]);
    expect(await ledgerOf(declined.orderId)).toEqual([]);
    // The timeline says who moved them, and how.
    const moves = await prisma().orderEvent.findMany({ where: { orderId: { in: [declined.orderId, succeeded.orderId] }, kind: 'status_changed' }, select: { orderId: true, fromStatus: true, toStatus: true, source: true, actor: true } });
    expect(moves.map((m) => [m.orderId === declined.orderId ? 'declined' : 'succeeded', m.fromStatus, m.toStatus, m.source, m.actor]).sort()).toEqual([
      ['declined', 'processing', 'pending', 'reconcile', 'admin@brisk.test'],
      ['succeeded', 'processing', 'paid', 'reconcile', 'admin@brisk.test'],
    ]);

    const { run, findings } = await storedRun(summary.runId);
    expect(run).toMatchObject({ trigger: 'manual', status: 'succeeded', checked: 2, healed: 2, unresolved: 0, error: null, windowStart: opts.windowStart, windowEnd: opts.windowEnd });
    expect(run.finishedAt).not.toBeNull();
    expect(findings).toEqual(
      sortFindings([
        { kind: 'missed_payment_update', healed: true, orderId: declined.orderId, paymentIntentId: declinedPi.id, refundId: null, detail: { from: 'processing', to: 'pending', stripeStatus: 'requires_payment_method' } },
        { kind: 'missed_payment_update', healed: true, orderId: succeeded.orderId, paymentIntentId: succeededPi.id, refundId: null, detail: { from: 'processing', to: 'paid', stripeStatus: 'succeeded' } },
      ]),
    );
    expect(summary).toMatchObject({ status: 'succeeded', checked: 2, healed: 2, unresolved: 0 });
    expect(sortFindings(summary.findings)).toEqual(findings.map(({ refundId: _r, ...f }) => expect.objectContaining(f)));
  });

  it('finds the order through its attempt when the metadata names none, and through the metadata when checkout never recorded the attempt', async () => {
    const byAttempt = await newOrder();
    const byAttemptPi = await stripePayment({ amount: byAttempt.total });
    await linkAttempt(byAttempt, byAttemptPi);
    // Checkout's answer was lost: no attempt row holds this PaymentIntent, only its metadata names the order.
    const byMetadata = await newOrder();
    await prisma().paymentAttempt.delete({ where: { paymentIntentId: byMetadata.paymentIntentIds[0] } });
    const byMetadataPi = await stripePayment({ amount: byMetadata.total, metadata: { order_id: byMetadata.orderId, attempt: '1' } });

    const summary = await runReconciliation(prisma(), gateway, { ...aroundNow(), trigger: 'test' });

    expect(await order(byAttempt.orderId)).toMatchObject({ status: 'paid', amountPaid: 3000, paymentIntentId: byAttemptPi.id });
    expect(await order(byMetadata.orderId)).toMatchObject({ status: 'paid', amountPaid: 3000, paymentIntentId: byMetadataPi.id });
    expect(await prisma().paymentAttempt.findUniqueOrThrow({ where: { paymentIntentId: byMetadataPi.id } })).toMatchObject({ orderId: byMetadata.orderId, attemptNumber: 1, status: 'succeeded' });
    // Without an actor the run signs the timeline with its own id.
    const actors = await prisma().orderEvent.findMany({ where: { orderId: { in: [byAttempt.orderId, byMetadata.orderId] }, kind: 'status_changed' }, select: { actor: true, source: true } });
    expect(actors).toEqual([
      { actor: `reconciliation:${summary.runId.slice(0, 8)}`, source: 'reconcile' },
      { actor: `reconciliation:${summary.runId.slice(0, 8)}`, source: 'reconcile' },
    ]);
    const { run, findings } = await storedRun(summary.runId);
    expect(run).toMatchObject({ trigger: 'test', status: 'succeeded', checked: 2, healed: 2, unresolved: 0 });
    expect(findings).toEqual(
      sortFindings([
        { kind: 'missed_payment_update', healed: true, orderId: byAttempt.orderId, paymentIntentId: byAttemptPi.id, refundId: null, detail: { from: 'pending', to: 'paid', stripeStatus: 'succeeded' } },
        { kind: 'missed_payment_update', healed: true, orderId: byMetadata.orderId, paymentIntentId: byMetadataPi.id, refundId: null, detail: { from: 'pending', to: 'paid', stripeStatus: 'succeeded' } },
      ]),
    );
  });

  it('reports money taken with no order to put it on, with its amount and metadata; a payment that never succeeded is only counted', async () => {
    const noMetadata = await stripePayment({ amount: 777 });
    const goneOrder = await stripePayment({ amount: 1234, metadata: { order_id: randomUUID(), attempt: '1' } });
    const foreign = await stripePayment({ amount: 555, metadata: { order_id: 'order-1234' } });
    await stripePayment({ amount: 999, pm: null });

    const summary = await runReconciliation(prisma(), gateway, { ...aroundNow(), trigger: 'test' });

    const { run, findings } = await storedRun(summary.runId);
    expect(run).toMatchObject({ status: 'succeeded', checked: 4, healed: 0, unresolved: 3 });
    expect(findings).toEqual(
      sortFindings([
        { kind: 'payment_without_order', healed: false, orderId: null, paymentIntentId: noMetadata.id, refundId: null, detail: { amount: 777, currency: 'usd', metadata: {} } },
        { kind: 'payment_without_order', healed: false, orderId: null, paymentIntentId: goneOrder.id, refundId: null, detail: { amount: 1234, currency: 'usd', metadata: goneOrder.metadata } },
        { kind: 'payment_without_order', healed: false, orderId: null, paymentIntentId: foreign.id, refundId: null, detail: { amount: 555, currency: 'usd', metadata: { order_id: 'order-1234' } } },
      ]),
    );
  });
});

describe('payments we cannot heal', () => {
  it('reports an amount or a currency that disagrees with the order, every run, and never pays the order', async () => {
    const short = await paidOrder({ apply: false, amount: 2500 });
    const otherCurrency = await newOrder();
    await prisma().order.update({ where: { id: otherCurrency.orderId }, data: { currency: 'eur' } });
    const otherCurrencyPi = await stripePayment({ amount: otherCurrency.total, metadata: { order_id: otherCurrency.orderId, attempt: '1' } });
    await linkAttempt(otherCurrency, otherCurrencyPi);

    const expected = sortFindings([
      { kind: 'amount_mismatch', healed: false, orderId: short.orderId, paymentIntentId: short.pi.id, refundId: null, detail: { stripe: 2500, ours: 3000, stripeCurrency: 'usd', ourCurrency: 'usd' } },
      { kind: 'amount_mismatch', healed: false, orderId: otherCurrency.orderId, paymentIntentId: otherCurrencyPi.id, refundId: null, detail: { stripe: 3000, ours: 3000, stripeCurrency: 'usd', ourCurrency: 'eur' } },
    ]);
    for (let round = 0; round < 2; round++) {
      const summary = await runReconciliation(prisma(), gateway, { ...aroundNow(), trigger: 'test' });
      const { run, findings } = await storedRun(summary.runId);
      expect(run).toMatchObject({ status: 'succeeded', checked: 2, healed: 0, unresolved: 2 });
      expect(findings).toEqual(expected);
    }
    for (const id of [short.orderId, otherCurrency.orderId]) expect(await order(id)).toMatchObject({ status: 'pending', amountPaid: 0 });
    // The money is on the books as a payment the order must not keep, its refund reserved.
    expect((await ledgerOf(short.orderId)).map((l) => [l.account, l.amount])).toEqual([['stripe_balance', 2500], ['unexpected_payments', -2500]]);
  });

  it('reports a second payment for an order already paid until its automatic refund has reached Stripe', async () => {
    const paid = await paidOrder();
    const second = await stripePayment({ amount: paid.total, metadata: { order_id: paid.orderId, attempt: '1' } });

    const first = await runReconciliation(prisma(), gateway, { ...aroundNow(), trigger: 'test' });
    let stored = await storedRun(first.runId);
    expect(stored.run).toMatchObject({ status: 'succeeded', checked: 2, healed: 0, unresolved: 1 });
    expect(stored.findings).toEqual([
      { kind: 'unexpected_payment', healed: false, orderId: paid.orderId, paymentIntentId: second.id, refundId: null, detail: { amount: 3000, paidBy: paid.pi.id, action: 'refund_required' } },
    ]);
    expect(await order(paid.orderId)).toMatchObject({ status: 'paid', amountPaid: 3000, paymentIntentId: paid.pi.id, amountRefunded: 0 });

    // The system refund reserved for it is sent: Stripe now holds the refund, and nothing is left to report.
    const reserved = await prisma().refund.findFirstOrThrow({ where: { orderId: paid.orderId, paymentIntentId: second.id } });
    expect(reserved).toMatchObject({ status: 'reserved', amount: 3000, requestedBy: 'system' });
    expect(await executeSystemRefund(prisma(), gateway, reserved.id)).toBe('refunded');
    const again = await runReconciliation(prisma(), gateway, { ...aroundNow(), trigger: 'test' });
    stored = await storedRun(again.runId);
    expect(stored.run).toMatchObject({ status: 'succeeded', checked: 3, healed: 0, unresolved: 0 });
    expect(stored.findings).toEqual([]);
    expect(await order(paid.orderId)).toMatchObject({ status: 'paid', amountRefunded: 0 });
  });

  it("records a superseded attempt's late payment as a stray payment to refund, with no finding while its refund is on its way", async () => {
    const f = await newOrder(2);
    const stalePi = await stripePayment({ amount: f.total, metadata: { order_id: f.orderId, attempt: '1' } });
    await linkAttempt(f, stalePi, 1);
    const currentPi = await stripePayment({ amount: f.total, metadata: { order_id: f.orderId, attempt: '2' }, pm: null });
    await linkAttempt(f, currentPi, 2);

    const summary = await runReconciliation(prisma(), gateway, { ...aroundNow(), trigger: 'test' });
    const { run, findings } = await storedRun(summary.runId);
    expect(run).toMatchObject({ status: 'succeeded', checked: 2, healed: 0, unresolved: 0 });
    expect(findings).toEqual([]);
    expect(await order(f.orderId)).toMatchObject({ status: 'pending', amountPaid: 0, paymentIntentId: currentPi.id });
    expect(await prisma().refund.findMany({ where: { orderId: f.orderId }, select: { paymentIntentId: true, amount: true, status: true, requestedBy: true } })).toEqual([
      { paymentIntentId: stalePi.id, amount: 3000, status: 'reserved', requestedBy: 'system' },
    ]);
  });

  it('reports an order paid here whose PaymentIntent Stripe never took; an earlier attempt declined on a paid order is no finding', async () => {
    const retried = await newOrder(2);
    const declinedPi = await stripePayment({ amount: retried.total, metadata: { order_id: retried.orderId, attempt: '1' }, pm: 'pm_card_chargeDeclined' });
    await linkAttempt(retried, declinedPi, 1);
    const paidPi = await stripePayment({ amount: retried.total, metadata: { order_id: retried.orderId, attempt: '2' } });
    await linkAttempt(retried, paidPi, 2);
    await applyPaymentIntent(prisma(), await gateway.retrievePaymentIntent(paidPi.id), { source: 'webhook' });
    expect(await order(retried.orderId)).toMatchObject({ status: 'paid' });

    const phantom = await newOrder();
    const unpaidPi = await stripePayment({ amount: phantom.total, metadata: { order_id: phantom.orderId, attempt: '1' }, pm: null });
    await linkAttempt(phantom, unpaidPi);
    await prisma().order.update({ where: { id: phantom.orderId }, data: { status: 'paid', amountPaid: phantom.total, paidAt: new Date() } });

    const summary = await runReconciliation(prisma(), gateway, { ...aroundNow(), trigger: 'test' });
    const { run, findings } = await storedRun(summary.runId);
    expect(run).toMatchObject({ status: 'succeeded', checked: 3, healed: 0, unresolved: 1 });
    expect(findings).toEqual([
      { kind: 'paid_here_not_at_stripe', healed: false, orderId: phantom.orderId, paymentIntentId: unpaidPi.id, refundId: null, detail: { stripeStatus: 'requires_payment_method', ours: 'paid' } },
    ]);
    expect(await order(phantom.orderId)).toMatchObject({ status: 'paid' });
  });
});

describe('refunds', () => {
  it('heals refunds whose webhooks were lost: two on one payment, a row left pending, an order total left behind; leaves one in step alone', async () => {
    const twoMissed = await paidOrder();
    const reA = await stripe.refunds.create({ payment_intent: twoMissed.pi.id, amount: 500 });
    const reB = await stripe.refunds.create({ payment_intent: twoMissed.pi.id, amount: 700 });

    const who = { actor: 'admin@brisk.test', amount: 1000, refundNumber: 1 };
    const rowPending = await paidOrder();
    const sentA = await requestRefund(prisma(), gateway, { ...who, orderId: rowPending.orderId });
    if (sentA.kind !== 'ok') throw new Error(sentA.kind);
    await prisma().refund.update({ where: { stripeRefundId: sentA.stripeRefundId }, data: { status: 'pending' } });

    const totalBehind = await paidOrder();
    const sentB = await requestRefund(prisma(), gateway, { ...who, orderId: totalBehind.orderId });
    if (sentB.kind !== 'ok') throw new Error(sentB.kind);
    await prisma().order.update({ where: { id: totalBehind.orderId }, data: { status: 'paid', amountRefunded: 0 } });

    const inStep = await paidOrder();
    const sentC = await requestRefund(prisma(), gateway, { ...who, orderId: inStep.orderId });
    if (sentC.kind !== 'ok') throw new Error(sentC.kind);

    const summary = await runReconciliation(prisma(), gateway, { ...aroundNow(), trigger: 'test' });

    expect(await order(twoMissed.orderId)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1200 });
    const rows = await prisma().refund.findMany({ where: { orderId: twoMissed.orderId }, select: { stripeRefundId: true, amount: true, status: true } });
    expect(rows.sort((a, b) => a.amount - b.amount)).toEqual([
      { stripeRefundId: reA.id, amount: 500, status: 'succeeded' },
      { stripeRefundId: reB.id, amount: 700, status: 'succeeded' },
    ]);
    expect((await ledgerOf(twoMissed.orderId)).filter((l) => l.account === 'refunds').map((l) => l.amount).sort()).toEqual([500, 700]);
    expect(await prisma().refund.findUniqueOrThrow({ where: { stripeRefundId: sentA.stripeRefundId } })).toMatchObject({ status: 'succeeded', amount: 1000 });
    expect(await order(totalBehind.orderId)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1000 });
    // Each refund is on the books once, however often it was applied.
    for (const o of [rowPending, totalBehind, inStep]) {
      expect((await ledgerOf(o.orderId)).filter((l) => l.account === 'refunds').map((l) => l.amount)).toEqual([1000]);
    }

    const { run, findings } = await storedRun(summary.runId);
    expect(run).toMatchObject({ status: 'succeeded', checked: 4 + 5, healed: 3, unresolved: 0 });
    const twoMissedFinding = findings.find((f) => f.orderId === twoMissed.orderId)!;
    const listed = (twoMissedFinding.detail as { refunds: string[] }).refunds;
    expect([...listed].sort()).toEqual([reA.id, reB.id].sort());
    expect(findings).toEqual(
      sortFindings([
        { kind: 'missed_refund', healed: true, orderId: twoMissed.orderId, paymentIntentId: twoMissed.pi.id, refundId: listed[0], detail: { refunds: listed, amountRefunded: 1200, status: 'partially_refunded' } },
        { kind: 'missed_refund', healed: true, orderId: rowPending.orderId, paymentIntentId: rowPending.pi.id, refundId: sentA.stripeRefundId, detail: { refunds: [sentA.stripeRefundId], amountRefunded: 1000, status: 'partially_refunded' } },
        { kind: 'missed_refund', healed: true, orderId: totalBehind.orderId, paymentIntentId: totalBehind.pi.id, refundId: null, detail: { refunds: [], amountRefunded: 1000, status: 'partially_refunded' } },
      ]),
    );
  });

  it("matches a system refund Stripe made, whose answer was lost, to the refund we reserved", async () => {
    const paid = await paidOrder();
    const second = await stripePayment({ amount: paid.total, metadata: { order_id: paid.orderId, attempt: '1' } });
    await applyPaymentIntent(prisma(), await gateway.retrievePaymentIntent(second.id), { source: 'webhook' });
    const reserved = await prisma().refund.findFirstOrThrow({ where: { orderId: paid.orderId, paymentIntentId: second.id } });
    // Stripe makes the refund; every answer to it is lost.
    await control(emulator, 'POST', '/faults', { method: 'POST', path: '/v1/refunds', status: 500, after: true });
    await expect(executeSystemRefund(prisma(), new StripeGateway(stripe, { baseDelayMs: 10, maxDelayMs: 50 }), reserved.id)).rejects.toThrow();
    await control(emulator, 'DELETE', '/faults');
    const [re] = (await stripe.refunds.list({ payment_intent: second.id })).data;
    expect(await prisma().refund.findUniqueOrThrow({ where: { id: reserved.id } })).toMatchObject({ status: 'reserved', stripeRefundId: null });

    const summary = await runReconciliation(prisma(), gateway, { ...aroundNow(), trigger: 'test' });
    const { run, findings } = await storedRun(summary.runId);
    expect(run).toMatchObject({ status: 'succeeded', checked: 3, healed: 1, unresolved: 0 });
    expect(findings).toEqual([
      { kind: 'missed_refund', healed: true, orderId: paid.orderId, paymentIntentId: second.id, refundId: re.id, detail: { refunds: [re.id], amountRefunded: 0, status: 'paid' } },
    ]);
    expect(await prisma().refund.findMany({ where: { orderId: paid.orderId } })).toEqual([expect.objectContaining({ id: reserved.id, stripeRefundId: re.id, status: 'succeeded', amount: 3000 })]);
    // The sale stands; the second payment went back through the unexpected-payments account.
    expect(await order(paid.orderId)).toMatchObject({ status: 'paid', amountPaid: 3000, amountRefunded: 0 });
    expect((await ledgerOf(paid.orderId)).filter((l) => l.txKey === `refund:${re.id}`).map((l) => [l.account, l.amount])).toEqual([['stripe_balance', -3000], ['unexpected_payments', 3000]]);
  });

  it('reports an order that says more was refunded than Stripe refunded, on every run', async () => {
    const o = await paidOrder();
    const sent = await requestRefund(prisma(), gateway, { actor: 'admin@brisk.test', orderId: o.orderId, amount: 1000, refundNumber: 1 });
    expect(sent.kind).toBe('ok');
    // Our order claims the whole payment went back; Stripe returned 10.00 of it.
    await prisma().order.update({ where: { id: o.orderId }, data: { status: 'refunded', amountRefunded: 3000 } });

    for (let round = 0; round < 2; round++) {
      const summary = await runReconciliation(prisma(), gateway, { ...aroundNow(), trigger: 'test' });
      const { run, findings } = await storedRun(summary.runId);
      expect(run).toMatchObject({ status: 'succeeded', checked: 2, healed: 0, unresolved: 1 });
      expect(findings).toEqual([
        { kind: 'refund_amount_mismatch', healed: false, orderId: o.orderId, paymentIntentId: o.pi.id, refundId: null, detail: { stripe: 1000, ours: 3000 } },
      ]);
    }
  });

  it('does not report the automatic refund of a payment the order never kept (its goods were gone)', async () => {
    const f = await createOrderFixture(prisma(), { lines: [{ stock: 1, quantity: 2, price: 1500 }] });
    const pi = await stripePayment({ amount: f.total, metadata: { order_id: f.orderId, attempt: '1' } });
    await linkAttempt(f, pi);
    await applyPaymentIntent(prisma(), await gateway.retrievePaymentIntent(pi.id), { source: 'webhook' });
    const reserved = await prisma().refund.findFirstOrThrow({ where: { orderId: f.orderId } });
    expect(await executeSystemRefund(prisma(), gateway, reserved.id)).toBe('refunded');
    expect(await order(f.orderId)).toMatchObject({ status: 'canceled', amountPaid: 0, amountRefunded: 0 });

    const summary = await runReconciliation(prisma(), gateway, { ...aroundNow(), trigger: 'test' });
    const { run, findings } = await storedRun(summary.runId);
    expect(run).toMatchObject({ status: 'succeeded', checked: 2, healed: 0, unresolved: 0 });
    expect(findings).toEqual([]);
    // Taken and given back, on the books as a payment the order did not keep.
    expect((await ledgerOf(f.orderId)).map((l) => [l.account, l.amount]).sort()).toEqual([['stripe_balance', -3000], ['stripe_balance', 3000], ['unexpected_payments', -3000], ['unexpected_payments', 3000]]);
  });

  it('reports refunds of money that has no order', async () => {
    const orphan = await stripePayment({ amount: 800 });
    const re = await stripe.refunds.create({ payment_intent: orphan.id, amount: 300 });

    const summary = await runReconciliation(prisma(), gateway, { ...aroundNow(), trigger: 'test' });
    const { run, findings } = await storedRun(summary.runId);
    expect(run).toMatchObject({ status: 'succeeded', checked: 2, healed: 0, unresolved: 2 });
    expect(findings).toEqual(
      sortFindings([
        { kind: 'payment_without_order', healed: false, orderId: null, paymentIntentId: orphan.id, refundId: null, detail: { amount: 800, currency: 'usd', metadata: {} } },
        { kind: 'refund_without_order', healed: false, orderId: null, paymentIntentId: orphan.id, refundId: re.id, detail: { amount: 300, currency: 'usd' } },
      ]),
    );
  });

  it('reports refunds reserved but never sent once they are ten minutes old, within the window', async () => {
    const f = await newOrder();
    await prisma().order.update({ where: { id: f.orderId }, data: { status: 'paid', amountPaid: f.total, riskReasons: [] } });
    const ago = (minutes: number) => new Date(Date.now() - minutes * MIN);
    const refund = async (n: number, minutesAgo: number, data: { status?: string; stripeRefundId?: string } = {}) => {
      const row = await prisma().refund.create({
        data: { orderId: f.orderId, refundNumber: n, idempotencyKey: `test:${f.orderId}:${n}`, amount: 100 * n, currency: 'usd', status: data.status ?? 'reserved', stripeRefundId: data.stripeRefundId, paymentIntentId: f.paymentIntentIds[0] },
      });
      await prisma().refund.update({ where: { id: row.id }, data: { createdAt: ago(minutesAgo) } });
      return row;
    };
    const stuck = await refund(1, 20);
    await refund(2, 5); // may still be on its way
    await refund(3, 20, { stripeRefundId: `re_${randomBytes(6).toString('hex')}` }); // sent; its answer not yet recorded
    await refund(4, 20, { status: 'succeeded', stripeRefundId: `re_${randomBytes(6).toString('hex')}` });
    await refund(5, 180); // before the window

    const summary = await runReconciliation(prisma(), gateway, { windowStart: ago(60), windowEnd: new Date(Date.now() + MIN), trigger: 'test' });
    const { run, findings } = await storedRun(summary.runId);
    expect(run).toMatchObject({ status: 'succeeded', checked: 0, healed: 0, unresolved: 1 });
    expect(findings).toEqual([{ kind: 'refund_not_sent', healed: false, orderId: f.orderId, paymentIntentId: null, refundId: stuck.id, detail: { refundNumber: 1, amount: 100 } }]);

    // A window that ended before it was reserved does not see it.
    const earlier = await runReconciliation(prisma(), gateway, { windowStart: ago(60), windowEnd: ago(25), trigger: 'test' });
    expect(earlier).toMatchObject({ status: 'succeeded', unresolved: 0, findings: [] });
  });
});

describe('the risk net', () => {
  it('scores paid orders in the window the risk hook never scored, and no others', async () => {
    const mk = async (status: 'paid' | 'partially_refunded' | 'pending' | 'refunded', createdAt?: Date) => {
      const f = await newOrder();
      await prisma().order.update({ where: { id: f.orderId }, data: { status, amountPaid: status === 'pending' ? 0 : f.total, ...(createdAt ? { createdAt } : {}) } });
      return f.orderId;
    };
    const paid = await mk('paid');
    const partly = await mk('partially_refunded');
    const pending = await mk('pending');
    const refunded = await mk('refunded');
    const old = await mk('paid', new Date(Date.now() - 3 * 60 * MIN));

    const summary = await runReconciliation(prisma(), gateway, { ...aroundNow(), trigger: 'test' });
    expect(summary).toMatchObject({ status: 'succeeded', findings: [] });
    for (const id of [paid, partly]) {
      expect((await order(id)).riskReasons).not.toBeNull();
      expect(await prisma().orderEvent.count({ where: { orderId: id, kind: 'risk_assessed' } })).toBe(1);
    }
    for (const id of [pending, refunded, old]) expect((await order(id)).riskReasons).toBeNull();
  });
});

describe('what reconciliation reads from Stripe', () => {
  it('pages through payments and refunds with a small page size, reading each page once, and reads one page of 100 by default', async () => {
    const proxy = await startCountingProxy(emulator.url);
    try {
      const viaProxy = new StripeGateway(createStripeClient({ secretKey: emulator.secretKey, apiBase: proxy.url }), { baseDelayMs: 10, maxDelayMs: 50 });
      const refunded = await paidOrder();
      const refunds = [];
      for (const amount of [100, 200, 300]) refunds.push(await stripe.refunds.create({ payment_intent: refunded.pi.id, amount }));
      const missed = await paidOrder({ apply: false });
      const orphans = [];
      for (const amount of [101, 102, 103]) orphans.push(await stripePayment({ amount }));

      const summary = await runReconciliation(prisma(), viaProxy, { ...aroundNow(), trigger: 'test', pageSize: 2 });
      const lists = (path: string) => proxy.requests.filter((r) => r.method === 'GET' && r.path.startsWith(`${path}?`)).map((r) => new URL(r.path, 'http://x').searchParams);
      // 5 PaymentIntents in pages of 2, 3 refunds in pages of 2; nothing retrieved one by one.
      expect(lists('/v1/payment_intents').map((q) => q.get('limit'))).toEqual(['2', '2', '2']);
      expect(lists('/v1/refunds').map((q) => q.get('limit'))).toEqual(['2', '2']);
      expect(proxy.requests).toHaveLength(5);
      expect(lists('/v1/payment_intents')[0].getAll('expand[0]')).toEqual(['data.latest_charge']);

      expect(await order(refunded.orderId)).toMatchObject({ status: 'partially_refunded', amountRefunded: 600 });
      expect(await order(missed.orderId)).toMatchObject({ status: 'paid', amountPaid: 3000 });
      const { run, findings } = await storedRun(summary.runId);
      expect(run).toMatchObject({ status: 'succeeded', checked: 8, healed: 2, unresolved: 3 });
      expect(findings.map((f) => `${f.kind}:${f.paymentIntentId}`).sort()).toEqual(
        [`missed_refund:${refunded.pi.id}`, `missed_payment_update:${missed.pi.id}`, ...orphans.map((o) => `payment_without_order:${o.id}`)].sort(),
      );
      expect([...(findings.find((f) => f.kind === 'missed_refund')!.detail as { refunds: string[] }).refunds].sort()).toEqual(refunds.map((r) => r.id).sort());

      proxy.reset();
      const again = await runReconciliation(prisma(), viaProxy, { ...aroundNow(), trigger: 'test' });
      expect(lists('/v1/payment_intents').map((q) => q.get('limit'))).toEqual(['100']);
      expect(lists('/v1/refunds').map((q) => q.get('limit'))).toEqual(['100']);
      expect(proxy.requests).toHaveLength(2);
      expect(again).toMatchObject({ status: 'succeeded', checked: 8, healed: 0, unresolved: 3 });
    } finally {
      await proxy.close();
    }
  });

  it("checks only what Stripe created within the window, and finds a refund's payment made before it", async () => {
    // An emulator of its own: this test moves Stripe's clock.
    const emu = await startEmulator({ port: 0 });
    try {
      const s = createStripeClient({ secretKey: emu.secretKey, apiBase: emu.url });
      const g = new StripeGateway(s, { baseDelayMs: 10, maxDelayMs: 50 });
      const t0: number = (await control(emu, 'GET', '/clock')).now;
      const early = await paidOrder({ s, g });
      await control(emu, 'POST', '/clock/advance', { seconds: 3600 });
      const inWindow = await paidOrder({ s, apply: false });
      const re = await s.refunds.create({ payment_intent: early.pi.id, amount: 400 });
      await control(emu, 'POST', '/clock/advance', { seconds: 3600 });
      const late = await paidOrder({ s, apply: false });
      await s.refunds.create({ payment_intent: early.pi.id, amount: 200 });

      const summary = await runReconciliation(prisma(), g, { windowStart: new Date((t0 + 1800) * 1000), windowEnd: new Date((t0 + 5400) * 1000), trigger: 'test' });

      expect(await order(inWindow.orderId)).toMatchObject({ status: 'paid' });
      expect(await order(late.orderId)).toMatchObject({ status: 'pending' });
      // Stripe's own total for the early payment counts both refunds; the row is written for the one in the window.
      expect(await order(early.orderId)).toMatchObject({ status: 'partially_refunded', amountRefunded: 600 });
      expect((await prisma().refund.findMany({ where: { orderId: early.orderId } })).map((r) => r.stripeRefundId)).toEqual([re.id]);
      const { run, findings } = await storedRun(summary.runId);
      expect(run).toMatchObject({ status: 'succeeded', checked: 2, healed: 2, unresolved: 0 });
      expect(findings).toEqual(
        sortFindings([
          { kind: 'missed_payment_update', healed: true, orderId: inWindow.orderId, paymentIntentId: inWindow.pi.id, refundId: null, detail: { from: 'pending', to: 'paid', stripeStatus: 'succeeded' } },
          { kind: 'missed_refund', healed: true, orderId: early.orderId, paymentIntentId: early.pi.id, refundId: re.id, detail: { refunds: [re.id], amountRefunded: 600, status: 'partially_refunded' } },
        ]),
      );
    } finally {
      await emu.close();
    }
  });

  it('shows a run in progress as running until it has finished', async () => {
    await paidOrder({ apply: false });
    await control(emulator, 'POST', '/faults', { method: 'GET', path: '/v1/payment_intents', delay_ms: 1500 });
    const from = new Date(Date.now() - 1000);
    const running = runReconciliation(prisma(), gateway, { ...aroundNow(), trigger: 'manual', actor: 'admin@brisk.test' });
    let seen = null;
    for (let i = 0; i < 100 && !seen; i++) {
      seen = await prisma().reconciliationRun.findFirst({ where: { startedAt: { gte: from }, trigger: 'manual' } });
      if (!seen) await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen).toMatchObject({ status: 'running', finishedAt: null, checked: 0, healed: 0, unresolved: 0 });
    const summary = await running;
    await control(emulator, 'DELETE', '/faults');
    expect(summary.runId).toBe(seen!.id);
    expect(await prisma().reconciliationRun.findUniqueOrThrow({ where: { id: seen!.id } })).toMatchObject({ status: 'succeeded', healed: 1 });
  });

  it('keeps what it found and healed when a call to Stripe fails, and records the run as failed with the error', async () => {
    // A refund of a payment made before the window: its PaymentIntent is retrieved on its own, and that fails.
    const early = await paidOrder();
    while (Math.floor(Date.now() / 1000) <= early.pi.created) await new Promise((r) => setTimeout(r, 50));
    const re = await stripe.refunds.create({ payment_intent: early.pi.id, amount: 500 });
    const missed = await paidOrder({ apply: false });
    // Stripe's answer is not retried, and its message (long: it is stored cut to 1,000 characters) is the run's error.
    const message = `No such payment_intent: '${early.pi.id}' ${'x'.repeat(1200)}`;
    await control(emulator, 'POST', '/faults', { method: 'GET', path: `/v1/payment_intents/${early.pi.id}`, status: 404, code: 'resource_missing', message });
    const g = new StripeGateway(stripe, { baseDelayMs: 10, maxDelayMs: 50 });
    const summary = await runReconciliation(prisma(), g, { windowStart: new Date(re.created * 1000), windowEnd: new Date(Date.now() + MIN), trigger: 'test' });
    await control(emulator, 'DELETE', '/faults');

    expect(summary).toMatchObject({ status: 'failed', checked: 2, healed: 1, unresolved: 0 });
    expect(summary.error).toBe(message);
    expect(await order(missed.orderId)).toMatchObject({ status: 'paid', amountPaid: 3000 });
    expect(await order(early.orderId)).toMatchObject({ status: 'paid', amountRefunded: 0 });
    const { run, findings } = await storedRun(summary.runId);
    expect(run).toMatchObject({ status: 'failed', checked: 2, healed: 1, unresolved: 0, error: summary.error!.slice(0, 1000) });
    expect(run.error).toHaveLength(1000);
    expect(run.finishedAt).not.toBeNull();
    expect(findings).toEqual([
      { kind: 'missed_payment_update', healed: true, orderId: missed.orderId, paymentIntentId: missed.pi.id, refundId: null, detail: { from: 'pending', to: 'paid', stripeStatus: 'succeeded' } },
    ]);
  });
});

describe('listAll', () => {
  const page = (ids: string[], hasMore: boolean) => ({ object: 'list' as const, data: ids.map((id) => ({ id })), has_more: hasMore, url: '/v1/x' });

  it('follows starting_after from the last item of each page until has_more is false', async () => {
    const asked: (string | undefined)[] = [];
    const pages = [page(['a', 'b'], true), page(['c', 'd'], true), page(['e'], false)];
    const all = await listAll(async (after) => {
      asked.push(after);
      return pages[asked.length - 1];
    });
    expect(all.map((x) => x.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(asked).toEqual([undefined, 'b', 'd']);
  });

  it('stops at an empty page even when it claims more, and gives up with an error after maxPages pages', async () => {
    let calls = 0;
    expect(await listAll(async () => (++calls === 1 ? page(['a'], true) : page([], true)))).toEqual([{ id: 'a' }]);
    expect(calls).toBe(2);
    calls = 0;
    await expect(listAll(async () => page([`x${++calls}`], true), 3)).rejects.toThrow('list did not end after 3 pages');
    expect(calls).toBe(3);
  });
});
