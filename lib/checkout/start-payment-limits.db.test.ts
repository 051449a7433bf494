// startPayment at its limits, against a real database and the Stripe emulator: stock another
// shopper's payment holds, the card-testing throttle, and what the shopper is told each time.
// Written from the mutants Stryker left alive in lib/checkout (bench/RESULTS.md).
import { beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { randomBytes } from 'node:crypto';
import { testDbKind } from '@/tests/helpers/db';
import { setUpTestShop, type TestShop } from '@/tests/helpers/shop';
import { addToCart, getCart } from '@/lib/cart/cart';
import type { StripeGateway } from '@/lib/stripe/gateway';
import { cardToken } from '@/tests/helpers/payments';
import { startPayment, type StartPaymentResult } from './start-payment';

let database: TestShop['database'];
let stripe: Stripe;
let gateway: StripeGateway;

const shop = setUpTestShop();
beforeAll(async () => {
  ({ database, stripe, gateway } = shop);
});

const details = { name: 'Ada Lovelace', addressLine1: '12 Analytical Row', city: 'London', postalCode: 'N1 9GU', country: 'GB' };

/** A product of its own with `stock` units, so no other test's carts or holds touch it. */
async function product(stock: number) {
  const tag = randomBytes(4).toString('hex');
  return database.prisma.product.create({ data: { slug: `limits-${tag}`, name: `Lamp ${tag}`, description: 'test', price: 2500, image: '/x.png', stock } });
}

async function cartOf(productId: string, quantity: number): Promise<string> {
  const r = await addToCart(database.prisma, null, { productId, quantity });
  if (!r.ok) throw new Error(r.error);
  return r.cartId;
}

/** One shopper (their own email) paying their cart with a card. */
async function pay(cartId: string, card = 'pm_card_visa'): Promise<StartPaymentResult> {
  const cart = await getCart(database.prisma, cartId);
  return startPayment({ prisma: database.prisma, gateway }, cartId, { ...details, email: `limits-${cartId.slice(0, 8)}@example.com`, expectedAmount: cart.subtotal, confirmationToken: await cardToken(stripe, card) });
}

const intentsFor = async (cartId: string) => {
  const order = await database.prisma.order.findFirst({ where: { cartId } });
  if (!order) return [];
  return (await stripe.paymentIntents.list({ limit: 100 })).data.filter((pi) => pi.metadata.order_id === order.id);
};

describe(`startPayment at its limits (${testDbKind})`, () => {
  it('tells the shopper how many are left when another shopper\'s payment holds the rest, and charges nothing', async () => {
    const lamp = await product(3);
    // Shopper A is in a 3-D Secure challenge for 2 of the 3: those 2 are held for A.
    const a = await cartOf(lamp.id, 2);
    expect((await pay(a, 'pm_card_authenticationRequired')).kind).toBe('requires_action');
    // Shopper B wants 2: only 1 is left.
    const b = await cartOf(lamp.id, 2);
    expect(await pay(b)).toEqual({ kind: 'out_of_stock', message: `Only 1 ${lamp.name} left. Please update your cart.` });
    expect(await intentsFor(b)).toEqual([]);
    expect(await database.prisma.order.count({ where: { cartId: b } })).toBe(0);
    // Shopper C takes the last one; now B is told it sold out.
    expect((await pay(await cartOf(lamp.id, 1), 'pm_card_authenticationRequired')).kind).toBe('requires_action');
    expect(await pay(b)).toEqual({ kind: 'out_of_stock', message: `${lamp.name} just sold out. Please remove it from your cart.` });
    expect(await intentsFor(b)).toEqual([]);
    expect((await database.prisma.product.findUniqueOrThrow({ where: { id: lamp.id } })).stock).toBe(3);
  });

  it('refuses a cart for more than the shelf has, saying how many there are, before any order or charge', async () => {
    const lamp = await product(5);
    const cartId = await cartOf(lamp.id, 2);
    await database.prisma.product.update({ where: { id: lamp.id }, data: { stock: 1 } });
    expect(await pay(cartId)).toEqual({ kind: 'out_of_stock', message: `Only 1 ${lamp.name} left. Please update your cart.` });
    await database.prisma.product.update({ where: { id: lamp.id }, data: { stock: 0 } });
    expect(await pay(cartId)).toEqual({ kind: 'out_of_stock', message: `${lamp.name} just sold out. Please remove it from your cart.` });
    expect(await database.prisma.order.count({ where: { cartId } })).toBe(0);
  });

  it('after a few declined cards, pauses the cart\'s payments for a minute: no new attempt, nothing sent to Stripe, the cart kept', async () => {
    const lamp = await product(10);
    const cartId = await cartOf(lamp.id, 1);
    // Two declines are free; the third starts a one-minute cool-down.
    for (let i = 0; i < 3; i++) expect((await pay(cartId, 'pm_card_chargeDeclined')).kind).toBe('declined');
    const before = await intentsFor(cartId);
    expect(before).toHaveLength(3);
    const r = await pay(cartId);
    expect(r).toMatchObject({ kind: 'throttled', message: expect.stringContaining('please try again in a minute') });
    if (r.kind === 'throttled') {
      expect(r.retryAfterSeconds).toBeGreaterThan(30);
      expect(r.retryAfterSeconds).toBeLessThanOrEqual(60);
    }
    expect(await intentsFor(cartId)).toHaveLength(3);
    const order = await database.prisma.order.findFirstOrThrow({ where: { cartId }, include: { attempts: true } });
    expect(order).toMatchObject({ status: 'pending', attemptCount: 3 });
    expect(order.attempts).toHaveLength(3);
    expect((await getCart(database.prisma, cartId)).lines).toHaveLength(1);
  });

  it('asks only for the card again when only the card is missing, and to check the form otherwise', async () => {
    const cartId = await cartOf((await product(5)).id, 1);
    const amount = (await getCart(database.prisma, cartId)).subtotal;
    const deps = { prisma: database.prisma, gateway };
    expect(await startPayment(deps, cartId, { ...details, email: 'nope', expectedAmount: amount, confirmationToken: await cardToken(stripe) })).toEqual({
      kind: 'invalid',
      fieldErrors: { email: 'Enter a valid email address.' },
      message: 'Please check the highlighted fields.',
    });
    expect(await startPayment(deps, cartId, { ...details, email: 'ok@example.com', expectedAmount: amount, confirmationToken: 'tok_visa' })).toEqual({
      kind: 'invalid',
      fieldErrors: { confirmationToken: 'Please enter your card details again.' },
      message: 'Please enter your card details again.',
    });
    expect(await database.prisma.order.count({ where: { cartId } })).toBe(0);
  });
});
