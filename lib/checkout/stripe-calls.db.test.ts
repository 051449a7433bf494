// How many requests our server sends Stripe for one paid checkout, counted on the wire (a proxy in
// front of the emulator): the Pay submit, the order page the shopper lands on, and every webhook
// event the payment produced, processed by the worker's own function. Stripe's per-account rate
// limit divided by this number bounds checkouts per second.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToCart, getCart } from '@/lib/cart/cart';
import { processStripeEvent, recordStripeEvent } from '@/lib/orders/stripe-events';
import { createStripeClient } from '@/lib/stripe/client';
import { StripeGateway } from '@/lib/stripe/gateway';
import { startCountingProxy, type CountingProxy } from '@/tests/helpers/counting-proxy';
import { testDbKind } from '@/tests/helpers/db';
import { cardToken, finishThreeDSecure } from '@/tests/helpers/payments';
import { setUpTestShop } from '@/tests/helpers/shop';
import { loadOrderForShopper } from './order-view';
import { startPayment } from './start-payment';

const shop = setUpTestShop();
let proxy: CountingProxy;
let gateway: StripeGateway;
beforeAll(async () => {
  proxy = await startCountingProxy(shop.emulator.url);
  gateway = new StripeGateway(createStripeClient({ secretKey: shop.emulator.secretKey, apiBase: proxy.url }), { baseDelayMs: 20, maxDelayMs: 50, recordMetrics: false });
});
afterAll(async () => {
  await gateway?.close();
  await proxy?.close();
});

let n = 0;
/** A shopper pays with `card` (a token Stripe.js would make: not our server's request) and lands on the order page. */
async function checkout(card: string) {
  const prisma = shop.database.prisma;
  const products = await prisma.product.findMany({ orderBy: { slug: 'asc' }, take: 1 });
  const added = await addToCart(prisma, null, { productId: products[0].id, quantity: 1 });
  if (!added.ok) throw new Error(added.error);
  const cart = await getCart(prisma, added.cartId);
  const confirmationToken = await cardToken(shop.stripe, card);
  proxy.reset();
  const r = await startPayment({ prisma, gateway }, added.cartId, {
    email: `calls-${++n}@example.com`, name: 'Ada', addressLine1: '1 Main St', city: 'Town', postalCode: '12345', country: 'US', expectedAmount: cart.subtotal, confirmationToken,
  });
  return { r, orderToken: 'orderToken' in r ? r.orderToken : null };
}

/** Every event Stripe sent about the payment, recorded and processed as the webhook job does. */
async function processWebhooks(paymentIntentId: string) {
  const events = (await shop.stripe.events.list({ limit: 100 })).data.filter((e) => (e.data.object as { id?: string; payment_intent?: string }).id === paymentIntentId || (e.data.object as { payment_intent?: string }).payment_intent === paymentIntentId);
  expect(events.length).toBeGreaterThan(0);
  // Oldest first, as Stripe usually delivers; the payloads alone must do.
  for (const e of events.reverse()) {
    await recordStripeEvent(shop.database.prisma, e);
    expect(await processStripeEvent(shop.database.prisma, gateway, e.id)).toBe('processed');
  }
}

describe(`Stripe requests per paid checkout (${testDbKind})`, () => {
  it('a frictionless card: exactly one — the PaymentIntent created and confirmed together', async () => {
    const { r, orderToken } = await checkout('pm_card_visa');
    expect(r.kind).toBe('submitted');
    const page = await loadOrderForShopper(shop.database.prisma, gateway, orderToken!);
    expect(page?.order.status).toBe('paid');
    await processWebhooks((r as { paymentIntentId: string }).paymentIntentId);
    await loadOrderForShopper(shop.database.prisma, gateway, orderToken!);
    console.log(`Stripe requests for one paid checkout (frictionless card): ${proxy.requests.length}`, proxy.requests.map((q) => `${q.method} ${q.path}`));
    expect(proxy.requests.map((q) => `${q.method} ${q.path.split('?')[0]}`)).toEqual(['POST /v1/payment_intents']);
  });

  it('3-D Secure: two — the creation, and one look from the order page after the challenge (none if the webhook came first)', async () => {
    const { r, orderToken } = await checkout('pm_card_authenticationRequired');
    if (r.kind !== 'requires_action') throw new Error(`expected requires_action, got ${r.kind}`);
    await finishThreeDSecure(shop.emulator.url, r);
    const page = await loadOrderForShopper(shop.database.prisma, gateway, orderToken!);
    expect(page?.order.status).toBe('paid');
    await processWebhooks(r.paymentIntentId);
    console.log(`Stripe requests for one paid checkout (3-D Secure): ${proxy.requests.length}`, proxy.requests.map((q) => `${q.method} ${q.path}`));
    expect(proxy.requests.map((q) => `${q.method} ${q.path.split('?')[0]}`)).toEqual(['POST /v1/payment_intents', `GET /v1/payment_intents/${r.paymentIntentId}`]);
  });
});
