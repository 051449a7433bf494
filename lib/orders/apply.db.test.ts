import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { testDbKind } from '@/tests/helpers/db';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import { createOrderFixture, fakePaymentIntent, fakeRefund, orderOutcome } from '@/tests/helpers/payments';
import { applyChargeRefunds, applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { outboxOfOrder } from '@/tests/helpers/outbox';
import { sqlDatabase } from '@/lib/db/sql';
import { relayOutbox } from './outbox';

const database = databaseForThisFile();

const ctx = { source: 'webhook' as const };

describe(`applyPaymentIntent (${testDbKind})`, () => {
  it('moves an order pending → paid once, with every follow-up once', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 2 }, { stock: 3, quantity: 1 }] });
    const pi = fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' });

    const first = await applyPaymentIntent(prisma, pi, { source: 'webhook', stripeEventId: 'evt_1' });
    expect(first).toEqual({ orderId: f.orderId, status: 'paid', changed: true });
    const replay = await applyPaymentIntent(prisma, pi, { source: 'return_page' });
    expect(replay).toEqual({ orderId: f.orderId, status: 'paid', changed: false });

    const out = await orderOutcome(prisma, f.orderId);
    expect(out).toMatchObject({ status: 'paid', amountPaid: f.total, oversold: false, emails: 1, fulfillments: 1, paidEvents: 1, ledgerUnbalanced: [] });
    expect(out.stock.sort()).toEqual([2, 3]);
    expect(out.ledger).toEqual([
      { txKey: `payment:${pi.id}`, account: 'sales', amount: -f.total },
      { txKey: `payment:${pi.id}`, account: 'stripe_balance', amount: f.total },
    ]);
    // The receipt is in the outbox once, for the job system to send after commit.
    expect((await outboxOfOrder(prisma, f.orderId)).emails).toHaveLength(1);
    const attempt = await prisma.paymentAttempt.findUniqueOrThrow({ where: { paymentIntentId: pi.id } });
    expect(attempt).toMatchObject({ status: 'succeeded', cardBrand: 'visa', cardLast4: '4242', riskLevel: 'normal', riskScore: 12 });
    const email = await prisma.email.findFirstOrThrow({ where: { orderId: f.orderId } });
    expect(email).toMatchObject({ dedupeKey: `order-confirmation:${f.orderId}`, status: 'queued' });
    expect(email.text).toContain(`Total: $${(f.total / 100).toFixed(2)}`);
    const paidEvent = await prisma.orderEvent.findFirstOrThrow({ where: { orderId: f.orderId, toStatus: 'paid' } });
    expect(paidEvent).toMatchObject({ fromStatus: 'pending', source: 'webhook', stripeEventId: 'evt_1' });
  });

  it('ignores a PaymentIntent that belongs to no order', async () => {
    const pi = fakePaymentIntent({ id: 'pi_nobody', orderId: 'not-a-uuid', attempt: 1, amount: 100, status: 'succeeded' });
    expect(await applyPaymentIntent(database.prisma, pi, ctx)).toEqual({ orderId: null, status: null, changed: false });
  });

  it('finds the order through metadata when the attempt row is not written yet', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const pi = fakePaymentIntent({ id: 'pi_not_recorded_yet', orderId: f.orderId, attempt: 1, amount: f.total, status: 'processing' });
    expect(await applyPaymentIntent(prisma, pi, ctx)).toEqual({ orderId: f.orderId, status: 'processing', changed: true });
  });

  it('records a decline, returns to pending, then pays with a second attempt', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }], attempts: 1 });
    const [pi1] = f.paymentIntentIds;
    await applyPaymentIntent(prisma, fakePaymentIntent({ id: pi1, orderId: f.orderId, attempt: 1, amount: f.total, status: 'processing' }), ctx);
    const declined = fakePaymentIntent({ id: pi1, orderId: f.orderId, attempt: 1, amount: f.total, status: 'requires_payment_method', declined: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' } });
    expect((await applyPaymentIntent(prisma, declined, ctx)).status).toBe('pending');
    await applyPaymentIntent(prisma, declined, ctx);
    expect(await prisma.orderEvent.count({ where: { orderId: f.orderId, kind: 'payment_failed' } })).toBe(1);
    expect(await prisma.paymentAttempt.findUniqueOrThrow({ where: { paymentIntentId: pi1 } })).toMatchObject({ failureCode: 'card_declined', declineCode: 'generic_decline', cardLast4: '0002' });

    // As startPayment does for a new card on the same order.
    await prisma.paymentAttempt.create({ data: { orderId: f.orderId, attemptNumber: 2, paymentIntentId: `${pi1}_b`, idempotencyKey: 'k2', amount: f.total, currency: 'usd', status: 'requires_payment_method' } });
    await prisma.order.update({ where: { id: f.orderId }, data: { attemptCount: 2, paymentIntentId: `${pi1}_b` } });
    // A late duplicate of attempt 1's decline no longer speaks for the order.
    await applyPaymentIntent(prisma, fakePaymentIntent({ id: pi1, orderId: f.orderId, attempt: 1, amount: f.total, status: 'processing' }), ctx);
    expect((await prisma.order.findUniqueOrThrow({ where: { id: f.orderId } })).status).toBe('pending');
    const r = await applyPaymentIntent(prisma, fakePaymentIntent({ id: `${pi1}_b`, orderId: f.orderId, attempt: 2, amount: f.total, status: 'succeeded' }), ctx);
    expect(r.status).toBe('paid');
  });

  it('never moves paid back on a stale payment_failed or processing', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const base = { id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total };
    await applyPaymentIntent(prisma, fakePaymentIntent({ ...base, status: 'succeeded' }), ctx);
    for (const stale of [
      fakePaymentIntent({ ...base, status: 'requires_payment_method', declined: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'no' } }),
      fakePaymentIntent({ ...base, status: 'processing' }),
      fakePaymentIntent({ ...base, status: 'canceled' }),
    ]) {
      expect(await applyPaymentIntent(prisma, stale, ctx)).toEqual({ orderId: f.orderId, status: 'paid', changed: false });
    }
    expect((await prisma.paymentAttempt.findUniqueOrThrow({ where: { paymentIntentId: base.id } })).status).toBe('succeeded');
    expect(await prisma.orderEvent.count({ where: { orderId: f.orderId, kind: 'status_changed' } })).toBe(1);
  });

  it('applies side effects once under 10 concurrent applies', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 4, quantity: 3 }] });
    const pi = fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => applyPaymentIntent(prisma, pi, { source: i % 2 ? 'webhook' : 'return_page' })));
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    const out = await orderOutcome(prisma, f.orderId);
    expect(out).toMatchObject({ status: 'paid', stock: [1], emails: 1, fulfillments: 1, paidEvents: 1, ledgerUnbalanced: [] });
    expect(out.ledger).toHaveLength(2);
  });

  it('writes the receipt to the outbox in the paying transaction, and the relay hands it over once', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    await applyPaymentIntent(prisma, fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' }), { source: 'return_page' });
    const email = await prisma.email.findFirstOrThrow({ where: { orderId: f.orderId } });
    expect(await outboxOfOrder(prisma, f.orderId)).toEqual({ emails: [email.id], refunds: [], superseded: [] });
    // A relay whose delivery fails leaves the message; the next one delivers it, once.
    const db = sqlDatabase(prisma);
    await expect(relayOutbox(db, async () => { throw new Error('queue down'); })).rejects.toThrow('queue down');
    expect((await outboxOfOrder(prisma, f.orderId)).emails).toEqual([email.id]);
    const delivered: unknown[] = [];
    while ((await relayOutbox(db, async (_tx, messages) => void delivered.push(...messages))) > 0);
    expect(delivered.filter((m) => (m as { emailId?: string }).emailId === email.id)).toEqual([{ topic: 'email.queued', emailId: email.id }]);
    expect(await outboxOfOrder(prisma, f.orderId)).toEqual({ emails: [], refunds: [], superseded: [] });
  });

  it('records a decline once under 10 concurrent applies of it (each reads the attempt after taking the lock)', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const declined = fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'requires_payment_method', declined: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' } });
    await Promise.all(Array.from({ length: 10 }, () => applyPaymentIntent(prisma, declined, ctx)));
    expect(await prisma.orderEvent.count({ where: { orderId: f.orderId, kind: 'payment_failed' } })).toBe(1);
    const order = await prisma.order.findUniqueOrThrow({ where: { id: f.orderId } });
    const counter = await prisma.throttleCounter.findUniqueOrThrow({ where: { key: `checkout:email:${order.email}` } });
    expect(counter.declines).toBe(1);
  });

  it('pays orders sharing products concurrently without deadlock, each unit taken once', async () => {
    const prisma = database.prisma;
    const a = await createOrderFixture(prisma, { lines: [{ stock: 50, quantity: 1 }, { stock: 50, quantity: 2 }] });
    // Nine more orders over the same two products, their lines in the opposite order.
    const others = await Promise.all(
      Array.from({ length: 9 }, async () => {
        const o = await createOrderFixture(prisma, { lines: [{ stock: 1, quantity: 1 }] });
        await prisma.orderItem.deleteMany({ where: { orderId: o.orderId } });
        await prisma.orderItem.createMany({ data: [a.productIds[1], a.productIds[0]].map((productId, i) => ({ orderId: o.orderId, productId, name: 'shared', unitPrice: 100, quantity: i + 1 })) });
        return o;
      }),
    );
    await Promise.all([a, ...others].map((o) => applyPaymentIntent(prisma, fakePaymentIntent({ id: o.paymentIntentIds[0], orderId: o.orderId, attempt: 1, amount: o.total, status: 'succeeded' }), ctx)));
    const stock = await prisma.product.findMany({ where: { id: { in: a.productIds } } });
    // a takes 1 + 2; each other order takes 2 of the first product and 1 of the second.
    expect(Object.fromEntries(stock.map((p) => [p.id, p.stock]))).toEqual({ [a.productIds[0]]: 50 - 1 - 9 * 2, [a.productIds[1]]: 50 - 2 - 9 * 1 });
    expect(await prisma.order.count({ where: { id: { in: [a, ...others].map((o) => o.orderId) }, status: 'paid', oversold: false } })).toBe(10);
  });

  it('never takes stock it does not have: a payment for goods that are gone cancels the order and is refunded, nothing taken', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 1, quantity: 3 }, { stock: 10, quantity: 2 }] });
    const pi = fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' });
    await applyPaymentIntent(prisma, pi, ctx);
    await applyPaymentIntent(prisma, pi, ctx);
    const out = await orderOutcome(prisma, f.orderId);
    expect(out).toMatchObject({ status: 'canceled', amountPaid: 0, emails: 0, fulfillments: 0, ledgerUnbalanced: [] });
    const stock = await prisma.product.findMany({ where: { id: { in: f.productIds } } });
    expect(Object.fromEntries(stock.map((p) => [p.id, p.stock]))).toEqual({ [f.productIds[0]]: 1, [f.productIds[1]]: 10 });
    expect(await prisma.orderEvent.count({ where: { orderId: f.orderId, kind: 'out_of_stock' } })).toBe(1);
    expect(await prisma.refund.findMany({ where: { orderId: f.orderId }, select: { paymentIntentId: true, amount: true, status: true, requestedBy: true } })).toEqual([
      { paymentIntentId: pi.id, amount: f.total, status: 'reserved', requestedBy: 'system' },
    ]);
  });

  it('records a second successful attempt as a duplicate payment, once, without paying twice', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }], attempts: 2 });
    const [a, b] = f.paymentIntentIds.map((id, i) => fakePaymentIntent({ id, orderId: f.orderId, attempt: i + 1, amount: f.total, status: 'succeeded' }));
    await applyPaymentIntent(prisma, b, ctx);
    await applyPaymentIntent(prisma, a, ctx);
    await applyPaymentIntent(prisma, a, ctx);
    const out = await orderOutcome(prisma, f.orderId);
    expect(out).toMatchObject({ status: 'paid', amountPaid: f.total, paymentIntentId: b.id, stock: [4], emails: 1, fulfillments: 1, ledgerUnbalanced: [] });
    const dup = await prisma.orderEvent.findMany({ where: { orderId: f.orderId, kind: 'duplicate_payment' } });
    expect(dup).toHaveLength(1);
    expect(dup[0].detail).toMatchObject({ paymentIntentId: a.id, action: 'refund_automatically', reason: 'already_paid' });
    expect(await prisma.refund.findMany({ where: { orderId: f.orderId }, select: { paymentIntentId: true, amount: true } })).toEqual([{ paymentIntentId: a.id, amount: f.total }]);
    expect(out.ledger.filter((l) => l.account === 'unexpected_payments')).toEqual([{ txKey: `payment:${a.id}`, account: 'unexpected_payments', amount: -f.total }]);
  });

  it('applies a partial then a full refund once each', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 2 }] });
    const base = { id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' as const };
    await applyPaymentIntent(prisma, fakePaymentIntent(base), ctx);
    const re1 = fakeRefund({ id: 're_p1', paymentIntentId: base.id, amount: 500 });
    const r1 = await applyChargeRefunds(prisma, { paymentIntent: fakePaymentIntent({ ...base, amountRefunded: 500 }), refunds: [re1] }, ctx);
    expect(r1.status).toBe('partially_refunded');
    await applyChargeRefunds(prisma, { paymentIntent: fakePaymentIntent({ ...base, amountRefunded: 500 }), refunds: [re1] }, ctx);
    let out = await orderOutcome(prisma, f.orderId);
    expect(out).toMatchObject({ status: 'partially_refunded', amountRefunded: 500, ledgerUnbalanced: [] });
    expect(out.refunds).toEqual([{ stripeRefundId: 're_p1', amount: 500, status: 'succeeded' }]);

    const re2 = fakeRefund({ id: 're_p2', paymentIntentId: base.id, amount: f.total - 500 });
    const r2 = await applyChargeRefunds(prisma, { paymentIntent: fakePaymentIntent({ ...base, amountRefunded: f.total }), refunds: [re2, re1] }, ctx);
    expect(r2.status).toBe('refunded');
    // A stale snapshot from before the second refund changes nothing.
    await applyChargeRefunds(prisma, { paymentIntent: fakePaymentIntent({ ...base, amountRefunded: 500 }), refunds: [re1] }, ctx);
    out = await orderOutcome(prisma, f.orderId);
    expect(out).toMatchObject({ status: 'refunded', amountRefunded: f.total, ledgerUnbalanced: [] });
    expect(out.refunds.map((r) => r.stripeRefundId)).toEqual(['re_p1', 're_p2']);
    expect(out.ledger.filter((l) => l.txKey.startsWith('refund:'))).toEqual([
      { txKey: 'refund:re_p1', account: 'refunds', amount: 500 },
      { txKey: 'refund:re_p1', account: 'stripe_balance', amount: -500 },
      { txKey: 'refund:re_p2', account: 'refunds', amount: f.total - 500 },
      { txKey: 'refund:re_p2', account: 'stripe_balance', amount: -(f.total - 500) },
    ]);
    expect(await prisma.orderEvent.count({ where: { orderId: f.orderId, kind: 'status_changed' } })).toBe(3);
  });

  it('converges on one end state for any ordering and duplication of an order’s event stream', async () => {
    const prisma = database.prisma;
    let expected: Omit<Awaited<ReturnType<typeof orderOutcome>>, 'ledger' | 'paymentIntentId' | 'refunds'> & { ledger: unknown[] } | undefined;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat(5), { maxLength: 6 }).chain((extra) => fc.shuffledSubarray([0, 1, 2, 3, 4, 5, ...extra], { minLength: 6 + extra.length })),
        async (stream) => {
          // Attempt 1 is declined, attempt 2 pays, then a partial and a full refund.
          const f = await createOrderFixture(prisma, { lines: [{ stock: 3, quantity: 2, price: 1500 }], attempts: 2 });
          const [p1, p2] = f.paymentIntentIds.map((id, i) => ({ id, orderId: f.orderId, attempt: i + 1, amount: f.total }));
          const re1 = fakeRefund({ id: `re_${p2.id}_1`, paymentIntentId: p2.id, amount: 1000 });
          const re2 = fakeRefund({ id: `re_${p2.id}_2`, paymentIntentId: p2.id, amount: f.total - 1000 });
          const events: (() => Promise<unknown>)[] = [
            () => applyPaymentIntent(prisma, fakePaymentIntent({ ...p1, status: 'processing' }), ctx),
            () => applyPaymentIntent(prisma, fakePaymentIntent({ ...p1, status: 'requires_payment_method', declined: { code: 'card_declined', decline_code: 'generic_decline', message: 'declined' } }), ctx),
            () => applyPaymentIntent(prisma, fakePaymentIntent({ ...p2, status: 'processing' }), ctx),
            () => applyPaymentIntent(prisma, fakePaymentIntent({ ...p2, status: 'succeeded' }), ctx),
            () => applyChargeRefunds(prisma, { paymentIntent: fakePaymentIntent({ ...p2, status: 'succeeded', amountRefunded: 1000 }), refunds: [re1] }, ctx),
            () => applyChargeRefunds(prisma, { paymentIntent: fakePaymentIntent({ ...p2, status: 'succeeded', amountRefunded: f.total }), refunds: [re1, re2] }, ctx),
          ];
          for (const i of stream) await events[i]();
          const out = await orderOutcome(prisma, f.orderId);
          const normalized = {
            ...out,
            paymentIntentId: undefined,
            refunds: out.refunds.map((r) => ({ amount: r.amount, status: r.status })),
            ledger: out.ledger.map((l) => ({ tx: l.txKey.replace(p2.id, 'PI').replace(/re_.*_(\d)$/, 're_$1'), account: l.account, amount: l.amount })),
          };
          expect(out.paymentIntentId).toBe(p2.id);
          expect(out.ledgerUnbalanced).toEqual([]);
          expect(out.ledger.reduce((s, l) => s + l.amount, 0)).toBe(0);
          expected ??= normalized as never;
          expect(normalized).toEqual(expected);
        },
      ),
      { numRuns: 15 },
    );
    expect(expected).toMatchObject({ status: 'refunded', amountPaid: 3000, amountRefunded: 3000, stock: [1], emails: 1, fulfillments: 1, paidEvents: 1, oversold: false });
    // The whole ledger, across every order written in this file, also sums to zero.
    const all = await prisma.ledgerEntry.aggregate({ _sum: { amount: true } });
    expect(all._sum.amount).toBe(0);
  });
});

