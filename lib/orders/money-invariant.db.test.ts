// The money invariant, end to end against a real database and the Stripe emulator through the
// official SDK: an order is paid only by its current attempt's PaymentIntent for exactly its
// total; a payment that lands anywhere else is refunded, once; stock is held per attempt and
// never sold twice. The first case is the "$6 for an $86 order" repro.
import { beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { testDbKind } from '@/tests/helpers/db';
import { setUpTestShop, type TestShop } from '@/tests/helpers/shop';
import { addToCart, getCart } from '@/lib/cart/cart';
import { startPayment, type StartPaymentResult } from '@/lib/checkout/start-payment';
import { StripeGateway } from '@/lib/stripe/gateway';
import { cardToken } from '@/tests/helpers/payments';
import { outboxOfOrder } from '@/tests/helpers/outbox';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { cancelSupersededAttempt, executeSystemRefund, pendingRemedies } from './remedies';

const shop: TestShop = setUpTestShop();
let stripe: Stripe;
let products: { id: string; price: number; slug: string }[];
const details = { email: 'grace@example.com', name: 'Grace Hopper', addressLine1: '1 Compiler Way', city: 'Arlington', postalCode: '22201', country: 'us' };

beforeAll(async () => {
  stripe = shop.stripe;
  products = await shop.database.prisma.product.findMany({ orderBy: { price: 'asc' } });
});

const prisma = () => shop.database.prisma;
const deps = (extra: { holdMinutes?: number; clientIp?: string } = {}) => ({ prisma: prisma(), gateway: shop.gateway, ...extra });

async function cartWith(lines: [productIndex: number, quantity: number][], cartId: string | null = null): Promise<string> {
  let id = cartId;
  for (const [i, quantity] of lines) {
    const r = await addToCart(prisma(), id, { productId: products[i].id, quantity });
    if (!r.ok) throw new Error(r.error);
    id = r.cartId;
  }
  return id!;
}

/**
 * Pays with a 3-D Secure card, so the attempt's PaymentIntent waits (requires_action) for the
 * test to decide how it ends: paid here (payAndApply), from a stale tab, or declined.
 */
async function start(cartId: string, extra: { holdMinutes?: number; confirmationToken?: string } = {}): Promise<Extract<StartPaymentResult, { kind: 'requires_action' }>> {
  const { confirmationToken, ...rest } = extra;
  const cart = await getCart(prisma(), cartId);
  // One shopper per cart (the card-testing throttle counts per email).
  const r = await startPayment(deps(rest), cartId, {
    ...details,
    email: `shopper-${cartId.slice(0, 8)}@example.com`,
    expectedAmount: cart.subtotal,
    confirmationToken: confirmationToken ?? (await cardToken(stripe, 'pm_card_authenticationRequired')),
  });
  if (r.kind !== 'requires_action') throw new Error(`expected requires_action, got ${JSON.stringify(r)}`);
  return r;
}

async function payAndApply(paymentIntentId: string): Promise<Stripe.PaymentIntent> {
  const pi = await stripe.paymentIntents.confirm(paymentIntentId, { payment_method: 'pm_card_visa', expand: ['latest_charge'] });
  expect(pi.status).toBe('succeeded');
  await applyPaymentIntent(prisma(), pi, { source: 'webhook' });
  return pi;
}

async function orderState(token: string) {
  const order = await prisma().order.findUniqueOrThrow({ where: { publicToken: token }, include: { refunds: true, emails: true, fulfillment: true, ledgerEntries: true } });
  const ledger: Record<string, number> = {};
  for (const e of order.ledgerEntries) ledger[e.account] = (ledger[e.account] ?? 0) + e.amount;
  return { order, ledger };
}

async function stockOf(i: number): Promise<number> {
  return (await prisma().product.findUniqueOrThrow({ where: { id: products[i].id } })).stock;
}

describe(`the money invariant (${testDbKind})`, () => {
  it('a stale PaymentIntent paid from another tab never pays the repriced order: it is refunded, once', async () => {
    const cartId = await cartWith([[0, 1]]);
    const first = await start(cartId);
    await cartWith([[3, 5]], cartId);
    const second = await start(cartId);
    expect(second.orderToken).toBe(first.orderToken);
    expect(second.amount).toBeGreaterThan(first.amount);
    const stockBefore = [await stockOf(0), await stockOf(3)];

    // The other tab confirms the first, cheaper PaymentIntent (before its cancel lands).
    const stale = await payAndApply(first.paymentIntentId);
    await applyPaymentIntent(prisma(), stale, { source: 'return_page' }); // and again: once
    let { order, ledger } = await orderState(first.orderToken);
    expect(order.status).toBe('pending');
    expect(order.amountPaid).toBe(0);
    expect(order.emails).toHaveLength(0);
    expect(order.fulfillment).toBeNull();
    expect([await stockOf(0), await stockOf(3)]).toEqual(stockBefore);
    expect(order.refunds).toHaveLength(1);
    expect(order.refunds[0]).toMatchObject({ paymentIntentId: first.paymentIntentId, amount: first.amount, status: 'reserved', requestedBy: 'system' });
    expect(ledger).toMatchObject({ stripe_balance: first.amount, unexpected_payments: -first.amount });

    // The refund goes to Stripe under its key; running it twice refunds once.
    expect(await executeSystemRefund(prisma(), shop.gateway, order.refunds[0].id)).toBe('refunded');
    expect(await executeSystemRefund(prisma(), shop.gateway, order.refunds[0].id)).toBe('done');
    const refunds = await stripe.refunds.list({ payment_intent: first.paymentIntentId });
    expect(refunds.data).toHaveLength(1);
    expect(refunds.data[0].amount).toBe(first.amount);
    ({ order, ledger } = await orderState(first.orderToken));
    expect(order.refunds[0].status).toBe('succeeded');
    expect(ledger).toMatchObject({ stripe_balance: 0, unexpected_payments: 0 });

    // The current attempt pays the order, for exactly its total.
    await payAndApply(second.paymentIntentId);
    ({ order, ledger } = await orderState(first.orderToken));
    expect(order).toMatchObject({ status: 'paid', amountPaid: second.amount, total: second.amount, paymentIntentId: second.paymentIntentId, amountRefunded: 0 });
    expect(ledger).toMatchObject({ sales: -second.amount, stripe_balance: second.amount, unexpected_payments: 0 });
    expect(order.emails).toHaveLength(1);
    expect([await stockOf(0), await stockOf(3)]).toEqual([stockBefore[0] - 1, stockBefore[1] - 5]);
  });

  it('cancels the superseded attempt at Stripe, so the stale tab cannot pay it', async () => {
    const cartId = await cartWith([[0, 1]]);
    const first = await start(cartId);
    await cartWith([[1, 1]], cartId);
    const second = await start(cartId);
    const order = await prisma().order.findUniqueOrThrow({ where: { publicToken: second.orderToken } });
    // The supersede wrote its cancel to the outbox in the same transaction.
    expect((await outboxOfOrder(prisma(), order.id)).superseded).toEqual([[order.id, 1]]);
    expect(await pendingRemedies(prisma(), new Date(Date.now() + 1000))).toContainEqual({ kind: 'cancel', orderId: order.id, attemptNumber: 1 });
    expect(await cancelSupersededAttempt(prisma(), shop.gateway, order.id, 1)).toBe('canceled');
    expect(await cancelSupersededAttempt(prisma(), shop.gateway, order.id, 1)).toBe('nothing');
    expect((await stripe.paymentIntents.retrieve(first.paymentIntentId)).status).toBe('canceled');
    await expect(stripe.paymentIntents.confirm(first.paymentIntentId, { payment_method: 'pm_card_visa' })).rejects.toMatchObject({ code: 'payment_intent_unexpected_state' });
    expect(await pendingRemedies(prisma(), new Date(Date.now() + 1000))).not.toContainEqual({ kind: 'cancel', orderId: order.id, attemptNumber: 1 });
  });

  it('a superseded attempt that succeeded before its cancel is applied as a stray payment', async () => {
    const cartId = await cartWith([[0, 1]]);
    const first = await start(cartId);
    await cartWith([[1, 1]], cartId);
    const second = await start(cartId);
    await stripe.paymentIntents.confirm(first.paymentIntentId, { payment_method: 'pm_card_visa' });
    const order = await prisma().order.findUniqueOrThrow({ where: { publicToken: second.orderToken } });
    expect(await cancelSupersededAttempt(prisma(), shop.gateway, order.id, 1)).toBe('applied');
    const { order: after } = await orderState(second.orderToken);
    expect(after.status).toBe('pending');
    expect(after.refunds).toMatchObject([{ paymentIntentId: first.paymentIntentId, status: 'reserved' }]);
  });

  it('answers copies of a submit from our records without calling Stripe; a new card confirms the same PaymentIntent in one call', async () => {
    const cartId = await cartWith([[0, 1]]);
    const token = await cardToken(stripe, 'pm_card_authenticationRequired');
    const first = await start(cartId, { confirmationToken: token });
    const calls: string[] = [];
    const counted = new StripeGateway(stripe, { baseDelayMs: 20, maxDelayMs: 50, onCall: (c) => void calls.push(c.operation) });
    const cart = await getCart(prisma(), cartId);
    const submit = (confirmationToken: string) =>
      startPayment({ prisma: prisma(), gateway: counted }, cartId, { ...details, email: `shopper-${cartId.slice(0, 8)}@example.com`, expectedAmount: cart.subtotal, confirmationToken });
    const again = await Promise.all(Array.from({ length: 5 }, () => submit(token)));
    for (const r of again) expect(r).toMatchObject({ kind: 'requires_action', paymentIntentId: first.paymentIntentId, clientSecret: first.clientSecret, attempt: 1 });
    expect(calls).toEqual([]);
    const other = await submit(await cardToken(stripe, 'pm_card_authenticationRequired'));
    expect(other).toMatchObject({ kind: 'requires_action', paymentIntentId: first.paymentIntentId, attempt: 1 });
    expect(calls).toEqual(['payment_intents.confirm']);
    await counted.close();
  });

  it('holds stock for an attempt: a second shopper cannot take what the first is paying for', async () => {
    const i = 2;
    await prisma().product.update({ where: { id: products[i].id }, data: { stock: 3 } });
    const a = await cartWith([[i, 3]]);
    const b = await cartWith([[i, 1]]);
    const paying = await start(a);
    const cartB = await getCart(prisma(), b);
    const refused = await startPayment(deps(), b, { ...details, email: 'b@example.com', expectedAmount: cartB.subtotal, confirmationToken: await cardToken(stripe) });
    expect(refused.kind).toBe('out_of_stock');
    expect(await prisma().order.count({ where: { cartId: b } })).toBe(0);

    // A's card is declined: the hold is released and B can pay.
    const declined = await stripe.paymentIntents.confirm(paying.paymentIntentId, { payment_method: 'pm_card_chargeDeclined' }).catch((err) => err.payment_intent as Stripe.PaymentIntent);
    expect(declined.status).toBe('requires_payment_method');
    await applyPaymentIntent(prisma(), declined, { source: 'webhook' });
    const paidB = await start(b);
    await payAndApply(paidB.paymentIntentId);
    expect(await stockOf(i)).toBe(2);
  });

  it('a success after the hold lapsed and the stock was sold is refunded and the order canceled, never oversold', async () => {
    const i = 4;
    await prisma().product.update({ where: { id: products[i].id }, data: { stock: 1 } });
    const a = await cartWith([[i, 1]]);
    const b = await cartWith([[i, 1]]);
    // A's hold lapses at once; B holds and buys the last unit.
    const slow = await start(a, { holdMinutes: -1 });
    const fast = await start(b);
    await payAndApply(fast.paymentIntentId);
    expect(await stockOf(i)).toBe(0);
    // A pays now, at Stripe: the goods are gone.
    await payAndApply(slow.paymentIntentId);
    const { order, ledger } = await orderState(slow.orderToken);
    expect(order.status).toBe('canceled');
    expect(order.amountPaid).toBe(0);
    expect(order.refunds).toMatchObject([{ paymentIntentId: slow.paymentIntentId, amount: slow.amount, status: 'reserved' }]);
    expect(order.emails).toHaveLength(0);
    expect(order.fulfillment).toBeNull();
    expect(ledger).toMatchObject({ unexpected_payments: -slow.amount });
    expect(await stockOf(i)).toBe(0);
  });

  it('the database itself refuses negative stock', async () => {
    await expect(prisma().product.update({ where: { id: products[0].id }, data: { stock: -1 } })).rejects.toThrow();
  });
});
