// The shop's own remedies at Stripe: what the sweep picks up (by age, only work still to do),
// what a stray payment's refund asks Stripe for, and when a superseded attempt's PaymentIntent is
// canceled. Stripe here is a recorder that answers as Stripe would: the assertions are about
// what we ask it and what our rows say afterwards.
import { describe, expect, it } from 'vitest';
import { testDbKind } from '@/tests/helpers/db';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import { createOrderFixture, fakePaymentIntent, fakeRefund, type PiSpec } from '@/tests/helpers/payments';
import type { Stripe } from '@/lib/stripe/client';
import { strayRefundKey } from './apply';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { RemedyJobData, cancelSupersededAttempt, executeSystemRefund, pendingRemedies, type RemedyGateway } from './remedies';

const database = databaseForThisFile();
const prisma = () => database.prisma;

class RecordingStripe implements RemedyGateway {
  calls: { op: string; args: unknown[] }[] = [];
  pis = new Map<string, Stripe.PaymentIntent>();
  cancelFails: unknown = undefined;
  retrieveFails = false;
  refundStatus: string | null = 'pending';
  async cancelPaymentIntent(id: string, o: { idempotencyKey: string }) {
    this.calls.push({ op: 'cancel', args: [id, o] });
    if (this.cancelFails !== undefined) throw this.cancelFails;
    const pi = { ...this.pis.get(id)!, status: 'canceled' as const };
    this.pis.set(id, pi);
    return pi;
  }
  async createRefund(params: Stripe.RefundCreateParams, o: { idempotencyKey: string }) {
    this.calls.push({ op: 'refund', args: [params, o] });
    return { ...fakeRefund({ id: `re_for_${params.payment_intent}`, paymentIntentId: params.payment_intent!, amount: params.amount! }), status: this.refundStatus } as Stripe.Refund;
  }
  async retrievePaymentIntent(id: string) {
    this.calls.push({ op: 'retrieve', args: [id] });
    if (this.retrieveFails) throw new Error('Stripe is not answering right now (timeout)');
    return this.pis.get(id)!;
  }
}

/** An order paid by its second attempt whose first one succeeded too: a stray payment, refund reserved. */
async function strayPayment(stripe: RecordingStripe) {
  const f = await createOrderFixture(prisma(), { lines: [{ stock: 5, quantity: 1 }], attempts: 2 });
  const [pi1, pi2] = f.paymentIntentIds;
  const spec = (id: string, attempt: number): PiSpec => ({ id, orderId: f.orderId, attempt, amount: f.total, status: 'succeeded' });
  await applyPaymentIntent(prisma(), fakePaymentIntent(spec(pi2, 2)), { source: 'return_page' });
  await applyPaymentIntent(prisma(), fakePaymentIntent(spec(pi1, 1)), { source: 'webhook' });
  stripe.pis.set(pi1, fakePaymentIntent(spec(pi1, 1)));
  const refund = await prisma().refund.findFirstOrThrow({ where: { orderId: f.orderId, paymentIntentId: pi1 } });
  return { f, pi1, refund };
}

describe(`remedies (${testDbKind})`, () => {
  it('refunds a stray payment at Stripe under its reserved key, with the order and refund named, and records Stripe\'s answer', async () => {
    const stripe = new RecordingStripe();
    const { f, pi1, refund } = await strayPayment(stripe);
    expect(refund).toMatchObject({ status: 'reserved', requestedBy: 'system', stripeRefundId: null, amount: f.total });
    expect(await executeSystemRefund(prisma(), stripe, refund.id)).toBe('refunded');
    expect(stripe.calls[0]).toEqual({
      op: 'refund',
      args: [
        { payment_intent: pi1, amount: f.total, reason: 'duplicate', metadata: { order_id: f.orderId, refund_id: refund.id, refund_number: String(refund.refundNumber) } },
        { idempotencyKey: strayRefundKey(pi1) },
      ],
    });
    expect(stripe.calls.map((c) => c.op)).toEqual(['refund', 'retrieve']);
    expect(await prisma().refund.findUniqueOrThrow({ where: { id: refund.id } })).toMatchObject({ stripeRefundId: `re_for_${pi1}`, status: 'pending' });
    // The order itself stays paid by its own attempt.
    expect(await prisma().order.findUniqueOrThrow({ where: { id: f.orderId } })).toMatchObject({ status: 'paid', amountRefunded: 0 });

    // Done once: a repeat (duplicate job, sweep) asks Stripe nothing.
    stripe.calls = [];
    expect(await executeSystemRefund(prisma(), stripe, refund.id)).toBe('done');
    expect(await executeSystemRefund(prisma(), stripe, '00000000-0000-4000-8000-000000000000')).toBe('missing');
    expect(stripe.calls).toEqual([]);
  });

  it('a refund Stripe answers without a status is recorded pending; a refund row naming no PaymentIntent is not sent', async () => {
    const stripe = new RecordingStripe();
    stripe.refundStatus = null;
    const { refund } = await strayPayment(stripe);
    expect(await executeSystemRefund(prisma(), stripe, refund.id)).toBe('refunded');
    expect((await prisma().refund.findUniqueOrThrow({ where: { id: refund.id } })).status).toBe('pending');

    // Stripe stops answering right after creating the refund: the row already names it and is no
    // longer reserved, so the sweep does not send it again.
    const cut = await strayPayment(stripe);
    stripe.retrieveFails = true;
    await expect(executeSystemRefund(prisma(), stripe, cut.refund.id)).rejects.toThrow(/not answering/);
    stripe.retrieveFails = false;
    expect(await prisma().refund.findUniqueOrThrow({ where: { id: cut.refund.id } })).toMatchObject({ stripeRefundId: `re_for_${cut.pi1}`, status: 'pending' });
    expect(await pendingRemedies(prisma(), new Date(Date.now() + 60_000))).not.toContainEqual({ kind: 'refund', refundId: cut.refund.id });

    const other = await strayPayment(stripe);
    await prisma().refund.update({ where: { id: other.refund.id }, data: { paymentIntentId: null } });
    stripe.calls = [];
    expect(await executeSystemRefund(prisma(), stripe, other.refund.id)).toBe('missing');
    expect(stripe.calls).toEqual([]);
  });

  it('cancels a superseded attempt\'s PaymentIntent under its cancel key, so a stale tab cannot pay it', async () => {
    const stripe = new RecordingStripe();
    const f = await createOrderFixture(prisma(), { lines: [{ stock: 5, quantity: 1 }], attempts: 2 });
    const [pi1] = f.paymentIntentIds;
    stripe.pis.set(pi1, fakePaymentIntent({ id: pi1, orderId: f.orderId, attempt: 1, amount: f.total, status: 'requires_payment_method' }));
    // Not superseded yet: nothing to do.
    expect(await cancelSupersededAttempt(prisma(), stripe, f.orderId, 1)).toBe('nothing');
    expect(await cancelSupersededAttempt(prisma(), stripe, f.orderId, 9)).toBe('nothing');
    expect(stripe.calls).toEqual([]);
    await prisma().paymentAttempt.updateMany({ where: { paymentIntentId: pi1 }, data: { supersededAt: new Date() } });
    expect(await cancelSupersededAttempt(prisma(), stripe, f.orderId, 1)).toBe('canceled');
    expect(stripe.calls[0]).toEqual({ op: 'cancel', args: [pi1, { idempotencyKey: `brisk:pi-cancel:${pi1}` }] });
    expect((await prisma().paymentAttempt.findUniqueOrThrow({ where: { paymentIntentId: pi1 } })).status).toBe('canceled');
    // The order is still open for the current attempt.
    expect((await prisma().order.findUniqueOrThrow({ where: { id: f.orderId } })).status).toBe('pending');
    stripe.calls = [];
    expect(await cancelSupersededAttempt(prisma(), stripe, f.orderId, 1)).toBe('nothing');
    expect(stripe.calls).toEqual([]);
  });

  it.each(['succeeded', 'processing', 'canceled'])('leaves a superseded attempt that is %s alone', async (status) => {
    const stripe = new RecordingStripe();
    const f = await createOrderFixture(prisma(), { lines: [{ stock: 5, quantity: 1 }], attempts: 2 });
    await prisma().paymentAttempt.updateMany({ where: { paymentIntentId: f.paymentIntentIds[0] }, data: { supersededAt: new Date(), status } });
    expect(await cancelSupersededAttempt(prisma(), stripe, f.orderId, 1)).toBe('nothing');
    expect(stripe.calls).toEqual([]);
  });

  it.each([
    ['code', { code: 'payment_intent_unexpected_state' }],
    ['raw.code', { raw: { code: 'payment_intent_unexpected_state' } }],
  ])('when Stripe refuses the cancel (%s: it succeeded meanwhile), applies its real state: the stray payment is refunded', async (_, err) => {
    const stripe = new RecordingStripe();
    const f = await createOrderFixture(prisma(), { lines: [{ stock: 5, quantity: 1 }], attempts: 2 });
    const [pi1, pi2] = f.paymentIntentIds;
    await applyPaymentIntent(prisma(), fakePaymentIntent({ id: pi2, orderId: f.orderId, attempt: 2, amount: f.total, status: 'succeeded' }), { source: 'return_page' });
    await prisma().paymentAttempt.updateMany({ where: { paymentIntentId: pi1 }, data: { supersededAt: new Date() } });
    stripe.pis.set(pi1, fakePaymentIntent({ id: pi1, orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' }));
    stripe.cancelFails = Object.assign(new Error('This PaymentIntent could not be canceled'), err);
    expect(await cancelSupersededAttempt(prisma(), stripe, f.orderId, 1)).toBe('applied');
    expect(stripe.calls.map((c) => c.op)).toEqual(['cancel', 'retrieve']);
    expect((await prisma().paymentAttempt.findUniqueOrThrow({ where: { paymentIntentId: pi1 } })).status).toBe('succeeded');
    expect(await prisma().refund.findFirstOrThrow({ where: { paymentIntentId: pi1 } })).toMatchObject({ requestedBy: 'system', status: 'reserved', amount: f.total });
  });

  it('any other refusal of the cancel is thrown, for the job to retry', async () => {
    const stripe = new RecordingStripe();
    const f = await createOrderFixture(prisma(), { lines: [{ stock: 5, quantity: 1 }], attempts: 2 });
    await prisma().paymentAttempt.updateMany({ where: { paymentIntentId: f.paymentIntentIds[0] }, data: { supersededAt: new Date() } });
    stripe.cancelFails = Object.assign(new Error('No such payment_intent'), { code: 'resource_missing' });
    await expect(cancelSupersededAttempt(prisma(), stripe, f.orderId, 1)).rejects.toThrow('No such payment_intent');
    expect(stripe.calls.map((c) => c.op)).toEqual(['cancel']);
  });

  it('the sweep picks up only work still to do and older than the cutoff', async () => {
    const cutoff = new Date(Date.now() - 60_000);
    const before = new Date(cutoff.getTime() - 60_000);
    const after = new Date(cutoff.getTime() + 30_000);
    // Start from nothing pending: everything earlier in this file is done or canceled by now.
    await prisma().refund.deleteMany({});
    await prisma().paymentAttempt.updateMany({ data: { supersededAt: null } });

    const f = await createOrderFixture(prisma(), { lines: [{ stock: 5, quantity: 1 }], attempts: 7 });
    let n = 0;
    const refund = (over: Record<string, unknown>) =>
      prisma().refund.create({
        data: { orderId: f.orderId, refundNumber: ++n, idempotencyKey: `brisk:test:sweep:${f.orderId}:${n}`, amount: 100, currency: 'usd', status: 'reserved', requestedBy: 'system', paymentIntentId: f.paymentIntentIds[0], createdAt: before, ...over },
      });
    const due = await refund({});
    await refund({ createdAt: after });
    await refund({ createdAt: cutoff });
    await refund({ requestedBy: 'admin' });
    await refund({ stripeRefundId: `re_sweep_${n}` });
    await refund({ status: 'pending' });

    const attempt = (number: number, data: { supersededAt: Date | null; status?: string }) =>
      prisma().paymentAttempt.update({ where: { orderId_attemptNumber: { orderId: f.orderId, attemptNumber: number } }, data });
    await attempt(1, { supersededAt: before, status: 'requires_payment_method' });
    await attempt(2, { supersededAt: before, status: 'requires_action' });
    await attempt(3, { supersededAt: after, status: 'requires_payment_method' });
    await attempt(4, { supersededAt: before, status: 'succeeded' });
    await attempt(5, { supersededAt: before, status: 'canceled' });
    await attempt(6, { supersededAt: before, status: 'processing' });
    // 7: the current attempt, never superseded.

    const found = await pendingRemedies(prisma(), cutoff);
    expect(found.filter((r) => r.kind === 'refund')).toEqual([{ kind: 'refund', refundId: due.id }]);
    expect(found.filter((r) => r.kind === 'cancel').sort((a, b) => (a.kind === 'cancel' && b.kind === 'cancel' ? a.attemptNumber - b.attemptNumber : 0))).toEqual([
      { kind: 'cancel', orderId: f.orderId, attemptNumber: 1 },
      { kind: 'cancel', orderId: f.orderId, attemptNumber: 2 },
    ]);
    expect(found).toHaveLength(3);
  });

  it('a remedy job names a refund row by its uuid, or an attempt by order uuid and a positive number; anything else is refused', () => {
    const id = '3f1c2a4e-9b7d-4c1e-8a2b-5d6e7f8a9b0c';
    expect(RemedyJobData.safeParse({ kind: 'refund', refundId: id }).success).toBe(true);
    expect(RemedyJobData.safeParse({ kind: 'cancel', orderId: id, attemptNumber: 2 }).success).toBe(true);
    for (const bad of [
      { kind: 'refund', refundId: 're_123' },
      { kind: 'cancel', orderId: 'order-1', attemptNumber: 1 },
      { kind: 'cancel', orderId: id, attemptNumber: 0 },
      { kind: 'cancel', orderId: id, attemptNumber: 1.5 },
      { kind: 'refund', orderId: id, attemptNumber: 1 },
      { kind: 'delete', refundId: id },
    ]) {
      expect(RemedyJobData.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
