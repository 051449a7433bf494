import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { approveReview } from '@/lib/admin/order-actions';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import { createOrderFixture, fakePaymentIntent } from '@/tests/helpers/payments';
import { assessOrderRisk } from '@/lib/orders/risk-review';
import { ATTEMPTS_PER_ORDER, gatherRiskInput, REVIEW_THRESHOLD, scoreRisk, SUBJECT_ORDERS, type RiskInput } from './score';

const database = databaseForThisFile();

const calm: RiskInput = { stripeRiskLevel: 'normal', stripeRiskScore: 20, emailAttempts: 1, emailDeclines: 0, addressDeclines: 0, amount: 3000, usualAmount: 3000 };

describe('risk score', () => {
  it('is low for an ordinary order and names each signal that raises it', () => {
    expect(scoreRisk(calm)).toEqual({ score: 0, level: 'normal', reasons: [], review: false });
    const elevated = scoreRisk({ ...calm, stripeRiskLevel: 'elevated', stripeRiskScore: 65 });
    expect(elevated.reasons.map((r) => r.code)).toEqual(['stripe_risk_level', 'stripe_risk_score']);
    expect(elevated).toMatchObject({ score: 40, level: 'elevated', review: false });
    const testing = scoreRisk({ ...calm, emailAttempts: 8, emailDeclines: 7, addressDeclines: 4 });
    expect(testing.reasons.map((r) => r.code)).toEqual(['email_attempts', 'email_declines', 'address_declines']);
    expect(testing.review).toBe(true);
    expect(scoreRisk({ ...calm, amount: 60_000 }).reasons).toEqual([{ code: 'amount_above_usual', points: 35, detail: "Amount is 20× the shop's usual order" }]);
    expect(scoreRisk({ ...calm, amount: 60_000, usualAmount: null }).reasons).toEqual([]);
    expect(scoreRisk({ ...calm, stripeRiskLevel: 'highest', stripeRiskScore: 95 })).toMatchObject({ score: 85, level: 'highest', review: true });
    expect(REVIEW_THRESHOLD).toBe(60);
  });

  it('holds a paid order after many declines from its email, then an approval releases its fulfillment', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }], attempts: 6 });
    const email = `tester-${randomBytes(3).toString('hex')}@example.com`;
    await prisma.order.update({ where: { id: f.orderId }, data: { email } });
    // Five declined attempts, then a success on the sixth.
    await prisma.paymentAttempt.updateMany({ where: { orderId: f.orderId, attemptNumber: { lt: 6 } }, data: { status: 'requires_payment_method', declineCode: 'generic_decline', failureCode: 'card_declined' } });
    await applyPaymentIntent(prisma, fakePaymentIntent({ id: f.paymentIntentIds[5], orderId: f.orderId, attempt: 6, amount: f.total, status: 'succeeded' }), { source: 'webhook' });

    // Scored as it became paid, before anyone could ship it.
    const order = await prisma.order.findUniqueOrThrow({ where: { id: f.orderId }, include: { fulfillment: true } });
    expect((order.riskReasons as { code: string }[]).map((r) => r.code)).toEqual(['email_attempts', 'email_declines', 'address_declines']);
    expect(order).toMatchObject({ reviewStatus: 'pending_review', riskLevel: 'highest' });
    expect(order.riskScore).toBeGreaterThanOrEqual(REVIEW_THRESHOLD);
    expect(order.fulfillment?.status).toBe('on_hold');
    // Scored once: a later call (reconciliation's catch-up) changes nothing.
    expect(await assessOrderRisk(prisma, f.orderId)).toBeNull();

    expect(await approveReview(prisma, f.orderId, { actor: 'admin@brisk.test' })).toMatchObject({ kind: 'ok' });
    const after = await prisma.order.findUniqueOrThrow({ where: { id: f.orderId }, include: { fulfillment: true } });
    expect(after.reviewStatus).toBe('approved');
    expect(after.fulfillment?.status).toBe('pending');
    expect(await approveReview(prisma, f.orderId, { actor: 'admin@brisk.test' })).toMatchObject({ kind: 'refused' });
    expect(await prisma.auditLog.count({ where: { action: 'order.review_approved', target: f.orderId } })).toBe(1);
  });

  it('counts the paying card among the cards a client address tried (card testing), in the statement that pays the order', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }], attempts: 4 });
    await prisma.order.update({ where: { id: f.orderId }, data: { email: `cards-${randomBytes(3).toString('hex')}@example.com`, addressLine1: '3 Probe Road' } });
    await prisma.paymentAttempt.updateMany({ where: { orderId: f.orderId }, data: { clientIp: '203.0.113.77' } });
    // Three declines on two different cards; the fourth attempt pays with a third card.
    for (const [n, last4] of [[1, '0001'], [2, '0002'], [3, '0002']] as const) {
      await prisma.paymentAttempt.updateMany({
        where: { orderId: f.orderId, attemptNumber: n },
        data: { status: 'requires_payment_method', declineCode: 'generic_decline', failureCode: 'card_declined', cardBrand: 'visa', cardLast4: last4 },
      });
    }
    await applyPaymentIntent(prisma, fakePaymentIntent({ id: f.paymentIntentIds[3], orderId: f.orderId, attempt: 4, amount: f.total, status: 'succeeded' }), { source: 'webhook' });
    const order = await prisma.order.findUniqueOrThrow({ where: { id: f.orderId } });
    expect(order.riskReasons).toContainEqual({ code: 'client_card_testing', points: 25, detail: '3 declines on 3 cards from this client address in 24 h' });
    expect(await prisma.paymentAttempt.findFirstOrThrow({ where: { orderId: f.orderId, attemptNumber: 4 } })).toMatchObject({ status: 'succeeded', cardLast4: '4242' });
  });

  it('lets an ordinary paid order through', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    // Its own address: the fixtures share one, and the declines above were sent there.
    await prisma.order.update({ where: { id: f.orderId }, data: { addressLine1: '9 Quiet Lane' } });
    await applyPaymentIntent(prisma, fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' }), { source: 'webhook' });
    const order = await prisma.order.findUniqueOrThrow({ where: { id: f.orderId }, include: { fulfillment: true } });
    expect(order).toMatchObject({ riskScore: 0, riskReasons: [], reviewStatus: 'none' });
    expect(await assessOrderRisk(prisma, f.orderId)).toBeNull();
    expect(order.fulfillment?.status).toBe('pending');
  });

  it('reads a bounded number of orders for a busy email or address: the latest ones, whatever came before', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const email = `locker-${randomBytes(3).toString('hex')}@example.com`;
    const address = `${randomBytes(3).toString('hex')} Parcel Locker`;
    await prisma.order.update({ where: { id: f.orderId }, data: { email, addressLine1: address } });
    // 150 earlier orders from that email to that address, each with one declined attempt in the
    // last hours, and one order with 30 declined attempts: far over every threshold.
    const orders = SUBJECT_ORDERS + 50;
    await prisma.$executeRawUnsafe(
      `INSERT INTO "Order" (id, "publicToken", email, name, "addressLine1", city, "postalCode", country, currency, subtotal, total, "pricingHash", "createdAt", "updatedAt")
       SELECT gen_random_uuid()::text, gen_random_uuid()::text, o.email, o.name, o."addressLine1", o.city, o."postalCode", o.country, o.currency, o.subtotal, o.total, o."pricingHash",
              now() - (n || ' minutes')::interval, now()
       FROM "Order" o, generate_series(1, ${orders}) n WHERE o.id = $1`,
      f.orderId,
    );
    await prisma.$executeRawUnsafe(
      `INSERT INTO "PaymentAttempt" (id, "orderId", "attemptNumber", "paymentIntentId", "idempotencyKey", amount, currency, status, "declineCode", "failureCode", "createdAt", "updatedAt")
       SELECT gen_random_uuid()::text, o.id, k, 'pi_cap_' || replace(gen_random_uuid()::text, '-', ''), 'cap', o.total, o.currency, 'requires_payment_method', 'generic_decline', 'card_declined', now() - interval '5 minutes', now()
       FROM "Order" o, generate_series(1, CASE WHEN o."createdAt" = (SELECT max("createdAt") FROM "Order" WHERE email = $1 AND id <> $2) THEN 30 ELSE 1 END) k
       WHERE o.email = $1 AND o.id <> $2`,
      email,
      f.orderId,
    );
    const input = await gatherRiskInput(prisma, f.orderId);
    // The newest SUBJECT_ORDERS orders (the paying one among them), and of the order with 30
    // attempts only its latest ATTEMPTS_PER_ORDER: a payment's signals cost the same at the
    // 150th order to an address as at the 150,000th.
    const counted = SUBJECT_ORDERS - 2 + ATTEMPTS_PER_ORDER;
    expect(input).toMatchObject({ emailDeclines: counted, addressDeclines: counted });
    expect(input?.emailAttempts).toBe(counted + 1);
    expect(scoreRisk(input!).reasons.map((r) => r.code)).toEqual(['email_attempts', 'email_declines', 'address_declines']);
  });
});
