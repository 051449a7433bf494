// Webhook replay and secret rotation, end to end through the receiving function and the worker's
// processing: an applied event delivered again (as is, re-signed, or under the previous secret)
// changes nothing; a captured delivery replayed after the tolerance is refused; during a
// rotation both secrets verify, and afterwards only the new one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { createOrderFixture, fakePaymentIntent, type PiSpec } from '@/tests/helpers/payments';
import { processStripeEvent, type EventGateway } from '@/lib/orders/stripe-events';
import { receiveStripeWebhook, type WebhookDeps } from '@/lib/orders/webhook';
import { createStripeClient, type Stripe } from '@/lib/stripe/client';
import { StripeGateway } from '@/lib/stripe/gateway';

const NEW = 'whsec_rotated_new_secret';
const OLD = 'whsec_rotated_old_secret';
const stripe = createStripeClient({ secretKey: 'sk_test_replay' });
const verifier = new StripeGateway(stripe);
let database: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database?.drop());

const now = () => Math.floor(Date.now() / 1000);
const deps = (secrets: (string | undefined)[] = [NEW, OLD]): WebhookDeps => ({ prisma: () => database.prisma, gateway: verifier, secrets, enqueue: async () => undefined });
const sign = (payload: string, secret: string, timestamp = now()) => stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
/** Stripe signs with every active secret during a rotation: one v1 per secret in one header. */
function signBoth(payload: string, timestamp = now()): string {
  const a = sign(payload, NEW, timestamp);
  const b = sign(payload, OLD, timestamp);
  return `${a},${b.split(',').find((p) => p.startsWith('v1='))}`;
}

function worldFor(spec: PiSpec): EventGateway {
  return {
    retrievePaymentIntent: async () => fakePaymentIntent(spec),
    retrieveCharge: async (id: string) => ({ id, object: 'charge', payment_intent: spec.id }) as unknown as Stripe.Charge,
    listRefunds: async () => ({ object: 'list', data: [], has_more: false, url: '/v1/refunds' }) as unknown as Stripe.ApiList<Stripe.Refund>,
  };
}

async function state(orderId: string) {
  const p = database.prisma;
  const [order, ledger, emails, effects, events, stock, stored] = await Promise.all([
    p.order.findUniqueOrThrow({ where: { id: orderId }, select: { status: true, amountPaid: true, paidAt: true } }),
    p.ledgerEntry.count({ where: { orderId } }),
    p.email.count({ where: { orderId } }),
    p.sideEffect.count({ where: { orderId } }),
    p.orderEvent.count({ where: { orderId } }),
    p.product.aggregate({ _sum: { stock: true } }),
    p.stripeEvent.count(),
  ]);
  return { order, ledger, emails, effects, events, stock: stock._sum.stock, stored };
}

describe(`webhook replay and rotation (${testDbKind})`, () => {
  it('an applied event delivered again — as captured, re-signed, or under the previous secret — changes nothing', async () => {
    const f = await createOrderFixture(database.prisma, { lines: [{ stock: 5, quantity: 2 }] });
    const spec: PiSpec = { id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' };
    const body = JSON.stringify({ id: `evt_replay_${f.orderId.slice(0, 8)}`, object: 'event', type: 'payment_intent.succeeded', created: now(), data: { object: fakePaymentIntent(spec) } });
    const captured = sign(body, NEW);
    expect((await receiveStripeWebhook({ rawBody: body, signature: captured }, deps())).status).toBe(200);
    const id = (JSON.parse(body) as { id: string }).id;
    expect(await processStripeEvent(database.prisma, worldFor(spec), id)).toBe('processed');
    const applied = await state(f.orderId);
    expect(applied.order.status).toBe('paid');
    expect(applied.ledger).toBe(2);
    expect(applied.emails).toBe(1);

    for (const signature of [captured, sign(body, NEW, now() + 5), sign(body, OLD), signBoth(body)]) {
      const r = await receiveStripeWebhook({ rawBody: body, signature }, deps());
      expect(r).toEqual({ status: 200, body: { received: true, duplicate: true } });
    }
    expect(await processStripeEvent(database.prisma, worldFor(spec), id)).toBe('already_processed');
    // Another event about the same payment (Stripe sends several) is stored, and stored as
    // processed at once: the order it would pay is paid by that PaymentIntent already.
    const sibling = JSON.stringify({ id: `evt_sibling_${f.orderId.slice(0, 8)}`, object: 'event', type: 'payment_intent.succeeded', created: now(), data: { object: fakePaymentIntent(spec) } });
    expect((await receiveStripeWebhook({ rawBody: sibling, signature: sign(sibling, NEW) }, deps())).status).toBe(200);
    expect(await processStripeEvent(database.prisma, worldFor(spec), (JSON.parse(sibling) as { id: string }).id)).toBe('already_processed');
    const after = await state(f.orderId);
    expect({ ...after, stored: applied.stored + 1 }).toEqual(after);
    expect({ ...after, stored: applied.stored }).toEqual(applied);
  });

  it('refuses a captured delivery replayed after the 300 s tolerance, even for a new event id', async () => {
    const body = JSON.stringify({ id: 'evt_replay_late', object: 'event', type: 'charge.succeeded', created: now() - 3600, data: { object: { id: 'ch_late' } } });
    const before = await database.prisma.stripeEvent.count();
    for (const signature of [sign(body, NEW, now() - 301), sign(body, OLD, now() - 3600), signBoth(body, now() - 301)]) {
      expect((await receiveStripeWebhook({ rawBody: body, signature }, deps())).status).toBe(400);
    }
    // A timestamp from the future beyond the tolerance is no better.
    expect((await receiveStripeWebhook({ rawBody: body, signature: sign(body, NEW, now() + 3600) }, deps())).status).toBe(400);
    expect(await database.prisma.stripeEvent.count()).toBe(before);
  });

  it('rotation: both secrets verify during the overlap, a forged signature never does, only the new one afterwards', async () => {
    const make = (n: string) => JSON.stringify({ id: `evt_rotate_${n}`, object: 'event', type: 'customer.created', created: now(), data: { object: { id: `cus_${n}` } } });
    expect((await receiveStripeWebhook({ rawBody: make('a'), signature: sign(make('a'), NEW) }, deps())).status).toBe(200);
    expect((await receiveStripeWebhook({ rawBody: make('b'), signature: sign(make('b'), OLD) }, deps())).status).toBe(200);
    expect((await receiveStripeWebhook({ rawBody: make('c'), signature: signBoth(make('c')) }, deps())).status).toBe(200);
    expect((await receiveStripeWebhook({ rawBody: make('d'), signature: sign(make('d'), 'whsec_someone_else') }, deps())).status).toBe(400);
    // The overlap ends: STRIPE_WEBHOOK_SECRET_PREVIOUS is unset.
    expect((await receiveStripeWebhook({ rawBody: make('e'), signature: sign(make('e'), OLD) }, deps([NEW, undefined]))).status).toBe(400);
    expect((await receiveStripeWebhook({ rawBody: make('f'), signature: signBoth(make('f')) }, deps([NEW, undefined]))).status).toBe(200);
    expect(await database.prisma.stripeEvent.count({ where: { id: { startsWith: 'evt_rotate_' } } })).toBe(4);
  });
});
