// The shopper's order page when our records are behind Stripe, against a real database and the
// Stripe emulator through the official SDK: an attempt that moved at Stripe while the order did
// not (a failed 3-D Secure challenge, a decline recorded without its reason) is shown as Stripe
// has it; an order whose PaymentIntent was never created costs no Stripe call; what an old
// order's link still shows; and how page loads share a read of Stripe.
// Written from the mutants Stryker left alive in lib/checkout (bench/RESULTS.md, issue #16).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { randomBytes } from 'node:crypto';
import { testDbKind } from '@/tests/helpers/db';
import { setUpTestShop, type TestShop } from '@/tests/helpers/shop';
import { addToCart, getCart } from '@/lib/cart/cart';
import { StripeGateway, StripeUnavailableError } from '@/lib/stripe/gateway';
import { cardToken, finishThreeDSecure } from '@/tests/helpers/payments';
import { startPayment, type StartPaymentResult } from './start-payment';
import { coalescedRetrieve, loadOrderForShopper, ORDER_DETAILS_DAYS, REUSE_MS } from './order-view';

let database: TestShop['database'];
let emulator: TestShop['emulator'];
let stripe: Stripe;
let gateway: StripeGateway;

const shop = setUpTestShop();
beforeAll(() => {
  ({ database, emulator, stripe, gateway } = shop);
});
afterEach(async () => {
  await faults('DELETE');
});

async function faults(method: 'POST' | 'DELETE', body?: unknown): Promise<void> {
  const r = await fetch(`${emulator.url}/_emulator/faults`, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${emulator.secretKey}` }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) throw new Error(`emulator ${method} /faults: ${r.status} ${await r.text()}`);
}

const shopper = { name: 'Grace Hopper', addressLine1: '7 Compiler Way', addressLine2: 'Suite 42', city: 'Arlington', postalCode: '22201', country: 'US' };

/** A fresh product in a fresh cart, checked out with `card` (through `via`, the shop's gateway by default). */
async function checkout(card: string, via: StripeGateway = gateway): Promise<{ cartId: string; email: string; result: StartPaymentResult }> {
  const tag = randomBytes(4).toString('hex');
  const p = await database.prisma.product.create({ data: { slug: `reread-${tag}`, name: `Mug ${tag}`, description: 'test', price: 1800, image: '/x.png', stock: 5 } });
  const added = await addToCart(database.prisma, null, { productId: p.id, quantity: 2 });
  if (!added.ok) throw new Error(added.error);
  const cart = await getCart(database.prisma, added.cartId);
  const email = `reread-${tag}@example.com`;
  const result = await startPayment({ prisma: database.prisma, gateway: via }, added.cartId, { ...shopper, email, expectedAmount: cart.subtotal, confirmationToken: await cardToken(stripe, card) });
  return { cartId: added.cartId, email, result };
}
function tokenOf(r: StartPaymentResult): string {
  if (!('orderToken' in r) || !r.orderToken) throw new Error(`no order: ${JSON.stringify(r)}`);
  return r.orderToken;
}
/** The shop's gateway, counting the order page's reads of Stripe. */
function counting(): { gateway: StripeGateway; reads: () => number } {
  let reads = 0;
  const g = { retrievePaymentIntent: (id: string) => (reads++, gateway.retrievePaymentIntent(id)) } as unknown as StripeGateway;
  return { gateway: g, reads: () => reads };
}

describe(`order page when our records are behind Stripe (${testDbKind})`, () => {
  it('a 3-D Secure challenge failed at Stripe, before its webhook: the page shows the failure, the order stays open and the cart is kept', async () => {
    const { cartId, result } = await checkout('pm_card_authenticationRequired');
    if (result.kind !== 'requires_action') throw new Error(result.kind);
    await finishThreeDSecure(emulator.url, result, 'fail');
    const view = await loadOrderForShopper(database.prisma, gateway, result.orderToken);
    expect(view).toMatchObject({ settled: false, stripeUnavailable: false, order: { status: 'pending', total: 3600 } });
    expect(view?.lastAttempt).toEqual({
      attemptNumber: 1, status: 'requires_payment_method', cardBrand: null, cardLast4: null,
      failureMessage: 'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.',
    });
    expect(await database.prisma.cartItem.count({ where: { cartId } })).toBe(1);
  });

  it('a decline recorded without its reason (the process died between recording the attempt and applying Stripe\'s answer): the page asks Stripe and shows the reason', async () => {
    const { result } = await checkout('pm_card_chargeDeclined');
    const orderToken = tokenOf(result);
    const order = await database.prisma.order.findUniqueOrThrow({ where: { publicToken: orderToken } });
    // As recordAttempt alone leaves it: Stripe's status, no failure details yet.
    await database.prisma.paymentAttempt.updateMany({ where: { orderId: order.id }, data: { failureCode: null, declineCode: null, failureMessage: null } });
    const c = counting();
    const view = await loadOrderForShopper(database.prisma, c.gateway, orderToken);
    expect(c.reads()).toBe(1);
    expect(view).toMatchObject({ settled: false, order: { status: 'pending' }, lastAttempt: { status: 'requires_payment_method', failureMessage: 'Your card was declined.' } });
    // From then on the decline is on record: no more Stripe calls.
    await loadOrderForShopper(database.prisma, c.gateway, orderToken);
    expect(c.reads()).toBe(1);
  });

  it('an order whose PaymentIntent was never created (Stripe failed the creation) shows as open, with no attempt and no Stripe call', async () => {
    const flaky = new StripeGateway(stripe, { baseDelayMs: 20, maxDelayMs: 50, recordMetrics: false });
    try {
      await faults('POST', { path: '/v1/payment_intents$', method: 'POST', status: 503 });
      const { cartId, result } = await checkout('pm_card_visa', flaky);
      expect(result.kind).toBe('busy');
      const order = await database.prisma.order.findFirstOrThrow({ where: { cartId } });
      expect(order.paymentIntentId).toBeNull();
      const c = counting();
      const view = await loadOrderForShopper(database.prisma, c.gateway, order.publicToken);
      expect(view).toMatchObject({ settled: false, stripeUnavailable: false, lastAttempt: null, order: { status: 'pending', total: 3600, paymentIntentId: null } });
      expect(c.reads()).toBe(0);
    } finally {
      await flaky.close();
    }
  });

  it('the page that makes the order paid records itself as the source on the order\'s timeline', async () => {
    const { result } = await checkout('pm_card_authenticationRequired');
    if (result.kind !== 'requires_action') throw new Error(result.kind);
    await finishThreeDSecure(emulator.url, result);
    const view = await loadOrderForShopper(database.prisma, gateway, result.orderToken);
    expect(view).toMatchObject({ settled: true, cartJustCleared: true, order: { status: 'paid', amountPaid: 3600 } });
    const events = await database.prisma.orderEvent.findMany({ where: { orderId: view!.order.id, kind: 'status_changed', toStatus: 'paid' } });
    expect(events.map((e) => e.source)).toEqual(['return_page']);
    // Settled: from now on the page is read from our records alone (past the moment a read is shared).
    await new Promise((r) => setTimeout(r, REUSE_MS + 50));
    const c = counting();
    expect(await loadOrderForShopper(database.prisma, c.gateway, result.orderToken)).toMatchObject({ settled: true, cartJustCleared: false, order: { status: 'paid' } });
    expect(c.reads()).toBe(0);
  });
});

describe(`what an old order's link shows (${testDbKind})`, () => {
  it('30 days after payment: the status and the money, none of the shopper\'s name, contact, address or lines', async () => {
    const { email, result } = await checkout('pm_card_visa');
    const orderToken = tokenOf(result);
    const order = await database.prisma.order.findUniqueOrThrow({ where: { publicToken: orderToken } });
    expect(order).toMatchObject({ status: 'paid', addressLine2: 'Suite 42' });
    await database.prisma.order.update({ where: { id: order.id }, data: { paidAt: new Date(Date.now() - (ORDER_DETAILS_DAYS + 1) * 86_400_000) } });
    const view = await loadOrderForShopper(database.prisma, gateway, orderToken);
    expect(view).toMatchObject({
      detailsHidden: true, settled: true,
      order: { status: 'paid', total: 3600, amountPaid: 3600, name: '', email: '', addressLine1: '', addressLine2: null, city: '', postalCode: '', items: [] },
    });
    const shown = JSON.stringify(view);
    for (const secret of [shopper.name, shopper.addressLine1, shopper.addressLine2, shopper.city, shopper.postalCode, email]) expect(shown).not.toContain(secret);
  });
});

describe(`page loads sharing a read of Stripe (${testDbKind})`, () => {
  it('a read is reused for less than REUSE_MS, and a failed read is not reused at all', async () => {
    const id = `pi_reuse_${randomBytes(6).toString('hex')}`;
    let calls = 0;
    let fail = true;
    const stub = {
      retrievePaymentIntent: async (pid: string) => {
        calls++;
        if (fail) throw new StripeUnavailableError('timeout', 'timeout');
        return { id: pid } as Stripe.PaymentIntent;
      },
    };
    const t0 = Date.now() + 100 * REUSE_MS;
    await expect(coalescedRetrieve(stub, id, t0)).rejects.toBeInstanceOf(StripeUnavailableError);
    fail = false;
    // Stripe did not answer: the next load asks again at once.
    expect((await coalescedRetrieve(stub, id, t0 + 1)).id).toBe(id);
    expect(calls).toBe(2);
    expect((await coalescedRetrieve(stub, id, t0 + REUSE_MS)).id).toBe(id);
    expect(calls).toBe(2);
    expect((await coalescedRetrieve(stub, id, t0 + 1 + REUSE_MS)).id).toBe(id);
    expect(calls).toBe(3);
  });
});
