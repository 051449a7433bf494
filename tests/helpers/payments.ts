// Fixtures for order and payment tests: an order as startPayment leaves it, and Stripe-shaped
// PaymentIntent / Refund snapshots (the fields Brisk reads, nothing more).
import { randomBytes, randomUUID } from 'node:crypto';
import type { PrismaClient, Product } from '@/lib/generated/prisma/client';
import type { Stripe } from '@/lib/stripe/client';

export interface OrderFixture {
  orderId: string;
  total: number;
  currency: string;
  productIds: string[];
  paymentIntentIds: string[];
}

/** Products with the given stock, and an order for `quantity` of each with `attempts` PaymentIntents. */
export async function createOrderFixture(
  prisma: PrismaClient,
  opts: { lines: { stock: number; quantity: number; price?: number }[]; attempts?: number },
): Promise<OrderFixture> {
  const tag = randomBytes(4).toString('hex');
  const products: Product[] = [];
  for (const [i, line] of opts.lines.entries()) {
    products.push(
      await prisma.product.create({
        data: { slug: `p-${tag}-${i}`, name: `Product ${tag} ${i}`, description: 'test', price: line.price ?? 1250, image: '/x.png', stock: line.stock },
      }),
    );
  }
  const total = opts.lines.reduce((s, l, i) => s + products[i].price * l.quantity, 0);
  const attempts = opts.attempts ?? 1;
  const order = await prisma.order.create({
    data: {
      publicToken: randomBytes(24).toString('base64url'),
      email: `shopper-${tag}@example.com`,
      name: 'Ada Shopper',
      addressLine1: '1 Test Street',
      city: 'Testville',
      postalCode: '12345',
      country: 'US',
      currency: 'usd',
      subtotal: total,
      total,
      pricingHash: tag,
      attemptCount: attempts,
      items: { create: opts.lines.map((l, i) => ({ productId: products[i].id, name: products[i].name, unitPrice: products[i].price, quantity: l.quantity })) },
    },
  });
  const paymentIntentIds: string[] = [];
  for (let n = 1; n <= attempts; n++) {
    const pi = `pi_${tag}_${n}`;
    paymentIntentIds.push(pi);
    await prisma.paymentAttempt.create({
      data: { orderId: order.id, attemptNumber: n, paymentIntentId: pi, idempotencyKey: `brisk:pi:${order.id}:${n}`, amount: total, currency: 'usd', status: 'requires_payment_method' },
    });
  }
  await prisma.order.update({ where: { id: order.id }, data: { paymentIntentId: paymentIntentIds.at(-1) } });
  return { orderId: order.id, total, currency: 'usd', productIds: products.map((p) => p.id), paymentIntentIds };
}

export interface PiSpec {
  id: string;
  orderId: string;
  attempt: number;
  amount: number;
  status: Stripe.PaymentIntent.Status;
  declined?: { code: string; decline_code?: string; message: string };
  amountRefunded?: number;
}

export function fakePaymentIntent(s: PiSpec): Stripe.PaymentIntent {
  const charged = s.status === 'succeeded' || s.declined;
  const charge = charged
    ? ({
        id: `ch_${s.id.slice(3)}`,
        object: 'charge',
        amount: s.amount,
        amount_captured: s.status === 'succeeded' ? s.amount : 0,
        amount_refunded: s.amountRefunded ?? 0,
        currency: 'usd',
        payment_intent: s.id,
        status: s.status === 'succeeded' ? 'succeeded' : 'failed',
        refunded: (s.amountRefunded ?? 0) >= s.amount,
        outcome: { risk_level: 'normal', risk_score: 12, network_status: 'approved_by_network', seller_message: 'ok', type: 'authorized' },
        payment_method_details: { type: 'card', card: { brand: 'visa', last4: s.declined ? '0002' : '4242', exp_month: 12, exp_year: 2040 } },
      } as unknown as Stripe.Charge)
    : null;
  return {
    id: s.id,
    object: 'payment_intent',
    amount: s.amount,
    amount_received: s.status === 'succeeded' ? s.amount : 0,
    currency: 'usd',
    status: s.status,
    metadata: { order_id: s.orderId, attempt: String(s.attempt) },
    latest_charge: charge,
    last_payment_error: s.declined ? ({ type: 'card_error', ...s.declined } as Stripe.PaymentIntent.LastPaymentError) : null,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
  } as unknown as Stripe.PaymentIntent;
}

export function fakeRefund(s: { id: string; paymentIntentId: string; amount: number; status?: string }): Stripe.Refund {
  return {
    id: s.id,
    object: 'refund',
    amount: s.amount,
    currency: 'usd',
    payment_intent: s.paymentIntentId,
    charge: `ch_${s.paymentIntentId.slice(3)}`,
    status: s.status ?? 'succeeded',
    reason: null,
    metadata: {},
    created: Math.floor(Date.now() / 1000),
  } as unknown as Stripe.Refund;
}

/** Everything a payment should have produced for one order, for comparing end states. */
export async function orderOutcome(prisma: PrismaClient, orderId: string) {
  const order = await prisma.order.findUniqueOrThrow({ where: { id: orderId }, include: { items: true } });
  const products = await prisma.product.findMany({ where: { id: { in: order.items.map((i) => i.productId) } }, orderBy: { id: 'asc' }, select: { id: true, stock: true } });
  const ledger = await prisma.ledgerEntry.findMany({ where: { orderId }, orderBy: [{ txKey: 'asc' }, { account: 'asc' }], select: { txKey: true, account: true, amount: true } });
  const byTx = new Map<string, number>();
  for (const l of ledger) byTx.set(l.txKey, (byTx.get(l.txKey) ?? 0) + l.amount);
  return {
    status: order.status,
    amountPaid: order.amountPaid,
    amountRefunded: order.amountRefunded,
    oversold: order.oversold,
    paymentIntentId: order.paymentIntentId,
    stock: products.map((p) => p.stock),
    ledger,
    ledgerUnbalanced: [...byTx].filter(([, sum]) => sum !== 0),
    emails: await prisma.email.count({ where: { orderId } }),
    fulfillments: await prisma.fulfillment.count({ where: { orderId } }),
    refunds: (await prisma.refund.findMany({ where: { orderId }, orderBy: { stripeRefundId: 'asc' }, select: { stripeRefundId: true, amount: true, status: true } })),
    paidEvents: await prisma.orderEvent.count({ where: { orderId, kind: 'status_changed', toStatus: 'paid' } }),
  };
}

export const newId = () => randomUUID();

/**
 * A ConfirmationToken for a test card, as Stripe.js would make from the Payment Element (here
 * through the emulator's test helper, with the secret key): `pm_card_visa`,
 * `pm_card_chargeDeclined`, `pm_card_authenticationRequired` (3-D Secure) …
 */
export async function cardToken(stripe: import('stripe').Stripe, paymentMethod = 'pm_card_visa'): Promise<string> {
  return (await stripe.testHelpers.confirmationTokens.create({ payment_method: paymentMethod })).id;
}

/** Completes (or fails) a PaymentIntent's 3-D Secure challenge at the emulator, as the shopper would. */
export async function finishThreeDSecure(emulatorUrl: string, pi: { paymentIntentId: string; clientSecret: string }, outcome: 'complete' | 'fail' = 'complete'): Promise<void> {
  const r = await fetch(`${emulatorUrl}/3ds/${pi.paymentIntentId}/${outcome}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_secret: pi.clientSecret }) });
  if (!r.ok) throw new Error(`3-D Secure ${outcome}: ${r.status} ${await r.text()}`);
}
