// The shopper's order page against a real database and the Stripe emulator through the
// official SDK: it converges on the PaymentIntent without waiting for a webhook, empties the
// cart once, and shows the same order whether it made the order paid itself or found it paid.
import { beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { testDbKind } from '@/tests/helpers/db';
import { setUpTestShop, type TestShop } from '@/tests/helpers/shop';
import { addToCart, getCart } from '@/lib/cart/cart';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { StripeUnavailableError, type StripeGateway } from '@/lib/stripe/gateway';
import { cardToken } from '@/tests/helpers/payments';
import { startPayment } from './start-payment';
import { coalescedRetrieve, loadOrderForShopper, ORDER_DETAILS_DAYS, orderDetailsExpired, REUSE_MS } from './order-view';

let database: TestShop['database'];
let stripe: Stripe;
let gateway: StripeGateway;
let products: { id: string; price: number; stock: number }[];

const shop = setUpTestShop();
beforeAll(async () => {
  ({ database, stripe, gateway } = shop);
  products = await database.prisma.product.findMany({ orderBy: { slug: 'asc' } });
});

let seq = 0;
/** A cart of two lines, checked out: the order pending on its PaymentIntent. */
async function checkedOut() {
  const n = ++seq;
  let cartId: string | null = null;
  for (const [p, quantity] of [[products[0], 2], [products[1], 1]] as const) {
    const r = await addToCart(database.prisma, cartId, { productId: p.id, quantity });
    if (!r.ok) throw new Error(r.error);
    cartId = r.cartId;
  }
  const cart = await getCart(database.prisma, cartId);
  const started = await startPayment({ prisma: database.prisma, gateway }, cartId, {
    email: `view${n}@example.com`, name: 'Grace Hopper', addressLine1: `${n} Compiler Way`, city: 'Arlington', postalCode: '22201', country: 'US', expectedAmount: cart.subtotal,
    // A 3-D Secure card: the PaymentIntent waits for the test to decide how it ends.
    confirmationToken: await cardToken(stripe, 'pm_card_authenticationRequired'),
  });
  if (started.kind !== 'requires_action') throw new Error(started.kind);
  return { cartId: cartId!, ...started };
}

const stockOf = async (id: string) => (await database.prisma.product.findUniqueOrThrow({ where: { id } })).stock;
const cartLines = async (cartId: string) => database.prisma.cartItem.count({ where: { cartId } });

describe(`order page (${testDbKind})`, () => {
  it('shows Paid, with the card, as soon as Stripe says so (no webhook), empties the cart once and takes stock once', async () => {
    const c = await checkedOut();
    const before = [await stockOf(products[0].id), await stockOf(products[1].id)];
    const pending = await loadOrderForShopper(database.prisma, gateway, c.orderToken);
    expect(pending?.order.status).toBe('pending');
    expect(pending?.settled).toBe(false);
    expect(await cartLines(c.cartId)).toBe(2);

    await stripe.paymentIntents.confirm(c.paymentIntentId, { payment_method: 'pm_card_visa' });
    // Page loads share one look at Stripe for REUSE_MS; the next look sees the payment.
    await new Promise((r) => setTimeout(r, REUSE_MS + 50));
    const paid = await loadOrderForShopper(database.prisma, gateway, c.orderToken);
    expect(paid).toMatchObject({ settled: true, stripeUnavailable: false, cartJustCleared: true, order: { status: 'paid', amountPaid: c.amount, paymentIntentId: c.paymentIntentId } });
    expect(paid?.order.paidAt).toBeInstanceOf(Date);
    expect(paid?.order.items.map((i) => i.quantity).sort()).toEqual([1, 2]);
    expect(paid?.lastAttempt).toEqual({ attemptNumber: 1, status: 'succeeded', failureMessage: null, cardBrand: 'visa', cardLast4: '4242' });
    expect(await cartLines(c.cartId)).toBe(0);
    expect([await stockOf(products[0].id), await stockOf(products[1].id)]).toEqual([before[0] - 2, before[1] - 1]);

    // Seen again: the same order, read this time; the cart is not "just cleared" again.
    const again = await loadOrderForShopper(database.prisma, gateway, c.orderToken);
    expect(again?.cartJustCleared).toBe(false);
    expect(again?.order).toEqual(paid?.order);
    expect(again?.lastAttempt).toEqual(paid?.lastAttempt);
    expect([await stockOf(products[0].id), await stockOf(products[1].id)]).toEqual([before[0] - 2, before[1] - 1]);
  });

  it('after the order settled and 30 days passed, the link shows only the status', async () => {
    const c = await checkedOut();
    const pi = await stripe.paymentIntents.confirm(c.paymentIntentId, { payment_method: 'pm_card_visa', expand: ['latest_charge'] });
    await applyPaymentIntent(database.prisma, pi, { source: 'webhook' });
    const fresh = await loadOrderForShopper(database.prisma, gateway, c.orderToken);
    expect(fresh).toMatchObject({ detailsHidden: false, order: { status: 'paid', name: expect.stringMatching(/\S/) } });
    expect(fresh?.order.items.length).toBeGreaterThan(0);
    const order = await database.prisma.order.findUniqueOrThrow({ where: { publicToken: c.orderToken } });
    await database.prisma.order.update({ where: { id: order.id }, data: { paidAt: new Date(Date.now() - (ORDER_DETAILS_DAYS + 1) * 86_400_000) } });
    const old = await loadOrderForShopper(database.prisma, gateway, c.orderToken);
    expect(old).toMatchObject({ detailsHidden: true, order: { status: 'paid', name: '', addressLine1: '', email: '', items: [] } });
    expect(JSON.stringify(old)).not.toContain(order.addressLine1);
    // An open order is never hidden, however old.
    expect(orderDetailsExpired({ status: 'pending', paidAt: null, canceledAt: null, updatedAt: new Date(0) })).toBe(false);
  });

  it('many page loads of one unpaid order share one Stripe call per moment', async () => {
    const c = await checkedOut();
    let calls = 0;
    const counting = { retrievePaymentIntent: (id: string) => (calls++, gateway.retrievePaymentIntent(id)) };
    const t0 = Date.now() + 10 * REUSE_MS;
    const reads = await Promise.all(Array.from({ length: 50 }, (_, i) => coalescedRetrieve(counting, c.paymentIntentId, t0 + (i % 5))));
    expect(new Set(reads.map((r) => r.id))).toEqual(new Set([c.paymentIntentId]));
    expect(calls).toBe(1);
    await coalescedRetrieve(counting, c.paymentIntentId, t0 + REUSE_MS + 1);
    expect(calls).toBe(2);
  });

  it('empties the cart on the first view when a webhook made the order paid first', async () => {
    const c = await checkedOut();
    const pi = await stripe.paymentIntents.confirm(c.paymentIntentId, { payment_method: 'pm_card_visa', expand: ['latest_charge'] });
    await applyPaymentIntent(database.prisma, pi, { source: 'webhook', stripeEventId: `evt_view_${seq}` });
    expect(await cartLines(c.cartId)).toBe(2);
    const first = await loadOrderForShopper(database.prisma, gateway, c.orderToken);
    expect(first).toMatchObject({ cartJustCleared: true, order: { status: 'paid' }, lastAttempt: { status: 'succeeded', cardLast4: '4242' } });
    expect(await cartLines(c.cartId)).toBe(0);
    expect((await loadOrderForShopper(database.prisma, gateway, c.orderToken))?.cartJustCleared).toBe(false);
  });

  it('keeps a declined order pending, with the decline shown and the cart kept', async () => {
    const c = await checkedOut();
    await stripe.paymentIntents.confirm(c.paymentIntentId, { payment_method: 'pm_card_chargeDeclined' }).catch(() => undefined);
    const view = await loadOrderForShopper(database.prisma, gateway, c.orderToken);
    expect(view).toMatchObject({ settled: false, cartJustCleared: false, order: { status: 'pending' }, lastAttempt: { status: 'requires_payment_method' } });
    expect(view?.lastAttempt?.failureMessage).toMatch(/declined/i);
    expect(await cartLines(c.cartId)).toBe(2);
  });

  it('while Stripe is not answering, shows the order from our records and says so; any other failure is not passed off as that', async () => {
    const c = await checkedOut();
    const down = { retrievePaymentIntent: async () => { throw new StripeUnavailableError('timeout', 'timeout'); } } as unknown as StripeGateway;
    const view = await loadOrderForShopper(database.prisma, down, c.orderToken);
    expect(view).toMatchObject({ stripeUnavailable: true, settled: false, order: { status: 'pending', total: c.amount }, lastAttempt: { status: 'requires_action' } });
    expect(view?.order.items).toHaveLength(2);
    const broken = { retrievePaymentIntent: async () => { throw new TypeError('bug'); } } as unknown as StripeGateway;
    await expect(loadOrderForShopper(database.prisma, broken, c.orderToken)).rejects.toThrow('bug');
    expect((await loadOrderForShopper(database.prisma, gateway, c.orderToken))?.stripeUnavailable).toBe(false);
  });

  it('a declined order\'s page shows the decline from our records, without asking Stripe', async () => {
    const added = await addToCart(database.prisma, null, { productId: products[0].id, quantity: 1 });
    if (!added.ok) throw new Error(added.error);
    const cart = await getCart(database.prisma, added.cartId);
    const r = await startPayment({ prisma: database.prisma, gateway }, added.cartId, {
      email: 'declined-view@example.com', name: 'Grace Hopper', addressLine1: '1 Compiler Way', city: 'Arlington', postalCode: '22201', country: 'US', expectedAmount: cart.subtotal,
      confirmationToken: await cardToken(stripe, 'pm_card_chargeDeclined'),
    });
    if (r.kind !== 'declined' || !r.orderToken) throw new Error(r.kind);
    let calls = 0;
    const counting = { retrievePaymentIntent: (id: string) => (calls++, gateway.retrievePaymentIntent(id)) } as unknown as StripeGateway;
    for (let i = 0; i < 3; i++) {
      const view = await loadOrderForShopper(database.prisma, counting, r.orderToken);
      expect(view).toMatchObject({ settled: false, stripeUnavailable: false, order: { status: 'pending' }, lastAttempt: { status: 'requires_payment_method', failureMessage: 'Your card was declined.' } });
    }
    expect(calls).toBe(0);
  });

  it('finds nothing for a malformed or unknown token', async () => {
    expect(await loadOrderForShopper(database.prisma, gateway, 'short')).toBeNull();
    expect(await loadOrderForShopper(database.prisma, gateway, 'A'.repeat(32))).toBeNull();
  });
});
