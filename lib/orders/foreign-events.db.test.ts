// Events about payments Brisk did not make (another app on the same Stripe account, a payment
// link, a Dashboard charge) are dropped at once, with the reason kept: no Stripe call, no
// failure, no retry — one such event used to retry for minutes and push the webhook lag to 190 s.
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { testDbKind } from '@/tests/helpers/db';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import { createOrderFixture, fakePaymentIntent } from '@/tests/helpers/payments';
import type { Stripe } from '@/lib/stripe/client';
import { processStripeEvent, recordStripeEvent, type EventGateway } from './stripe-events';

const database = databaseForThisFile();

let seq = 0;
function event(type: string, object: Record<string, unknown>): Stripe.Event {
  return { id: `evt_foreign_${Date.now()}_${++seq}`, object: 'event', type, created: Math.floor(Date.now() / 1000), api_version: '2025-01-01', livemode: false, pending_webhooks: 1, request: null, data: { object } } as unknown as Stripe.Event;
}

/**
 * Stripe as seen for another account's objects: every read fails as a 404 would (the old path
 * threw, and the job retried with backoff for minutes). Counts the calls.
 */
class StrangerStripe implements EventGateway {
  calls = 0;
  known = new Map<string, Stripe.PaymentIntent>();
  async retrievePaymentIntent(id: string) {
    this.calls++;
    const pi = this.known.get(id);
    if (!pi) throw new Error(`No such payment_intent: '${id}'`);
    return pi;
  }
  async retrieveCharge(id: string): Promise<Stripe.Charge> {
    this.calls++;
    throw new Error(`No such charge: '${id}'`);
  }
  async listRefunds(): Promise<Stripe.ApiList<Stripe.Refund>> {
    this.calls++;
    throw new Error('No such payment_intent');
  }
}

const foreignPi = (id: string, metadata: Record<string, string> = {}) => ({ id, object: 'payment_intent', amount: 4200, currency: 'usd', status: 'succeeded', metadata });

describe(`foreign Stripe objects (${testDbKind})`, () => {
  it.each([
    ['payment_intent.succeeded', () => foreignPi(`pi_stranger_${++seq}`)],
    ['payment_intent.payment_failed', () => foreignPi(`pi_stranger_${++seq}`, { campaign: 'spring' })],
    // Another Brisk (say, staging on the same test account): a UUID, but no order of ours.
    ['payment_intent.created', () => foreignPi(`pi_stranger_${++seq}`, { order_id: randomUUID(), attempt: '1' })],
    ['payment_intent.canceled', () => foreignPi(`pi_stranger_${++seq}`, { order_id: 'not-a-uuid' })],
    ['charge.succeeded', () => ({ id: `ch_stranger_${++seq}`, object: 'charge', payment_intent: `pi_stranger_${seq}`, metadata: {} })],
    ['charge.refunded', () => ({ id: `ch_stranger_${++seq}`, object: 'charge', payment_intent: { id: `pi_stranger_${seq}` } })],
    ['refund.created', () => ({ id: `re_stranger_${++seq}`, object: 'refund', payment_intent: `pi_stranger_${seq}`, charge: `ch_stranger_${seq}` })],
  ])('%s for a PaymentIntent Brisk did not create: ignored at once, reason kept, Stripe never asked', async (type, object) => {
    const prisma = database.prisma;
    const stripe = new StrangerStripe();
    const e = event(type, object());
    await recordStripeEvent(prisma, e);
    expect(await processStripeEvent(prisma, stripe, e.id)).toBe('ignored');
    expect(stripe.calls).toBe(0);
    const row = await prisma.stripeEvent.findUniqueOrThrow({ where: { id: e.id } });
    expect(row).toMatchObject({ status: 'processed', attempts: 1, lastError: null });
    expect(row.processedAt).toBeInstanceOf(Date);
    expect(row.ignoredReason).toMatch(/^foreign: PaymentIntent pi_stranger_\d+ was not created by Brisk/);
    // Nothing left for the sweep or the lag: a second run changes nothing.
    expect(await processStripeEvent(prisma, stripe, e.id)).toBe('already_processed');
  });

  it('an event of a type Brisk does not handle is ignored with its reason too', async () => {
    const e = event('customer.created', { id: 'cus_1', object: 'customer' });
    await recordStripeEvent(database.prisma, e);
    expect(await processStripeEvent(database.prisma, new StrangerStripe(), e.id)).toBe('ignored');
    expect((await database.prisma.stripeEvent.findUniqueOrThrow({ where: { id: e.id } })).ignoredReason).toBe('event type customer.created is not one Brisk handles');
  });

  it('our own PaymentIntents are still applied: known attempt, or only our order_id (before the attempt row is written)', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 3, quantity: 1 }] });
    const pi = fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'requires_payment_method' });
    const stripe = new StrangerStripe();
    stripe.known.set(pi.id, pi);
    const known = event('payment_intent.created', pi as never);
    await recordStripeEvent(prisma, known);
    expect(await processStripeEvent(prisma, stripe, known.id)).toBe('processed');
    // Applied from the event's own payload: Stripe is not asked.
    expect(stripe.calls).toBe(0);
    expect((await prisma.stripeEvent.findUniqueOrThrow({ where: { id: known.id } })).ignoredReason).toBeNull();

    // A PaymentIntent created for our order whose attempt row is not stored yet (the event won
    // the race against our own write): its metadata names our order, so it is not foreign.
    const early = fakePaymentIntent({ id: `pi_early_${++seq}`, orderId: f.orderId, attempt: 2, amount: f.total, status: 'requires_payment_method' });
    stripe.known.set(early.id, early);
    const racing = event('payment_intent.created', early as never);
    await recordStripeEvent(prisma, racing);
    expect(await processStripeEvent(prisma, stripe, racing.id)).toBe('processed');
    expect(stripe.calls).toBe(0);
  });

  it('a refund of our PaymentIntent whose Stripe read fails still fails (and retries): only foreign objects are dropped', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 3, quantity: 1 }] });
    const stripe = new StrangerStripe(); // knows nothing: the read fails
    // Refund events still read the PaymentIntent's refunds from Stripe.
    const e = event('charge.refunded', { id: 'ch_ours', object: 'charge', payment_intent: f.paymentIntentIds[0] });
    await recordStripeEvent(prisma, e);
    await expect(processStripeEvent(prisma, stripe, e.id)).rejects.toThrow(/No such payment_intent/);
    expect(await prisma.stripeEvent.findUniqueOrThrow({ where: { id: e.id } })).toMatchObject({ status: 'failed', ignoredReason: null });
  });

  it('stores why an event is foreign in words an admin can act on (the order_id it carried, cut at 64 characters)', async () => {
    const prisma = database.prisma;
    const long = `ord-${'z'.repeat(100)}`;
    const uuid = randomUUID();
    for (const [metadata, because] of [
      [{}, 'it carries no order_id of ours'],
      [{ order_id: 42 }, 'it carries no order_id of ours'],
      [{ order_id: 'not-a-uuid' }, 'its order_id "not-a-uuid" is no order of ours'],
      [{ order_id: uuid }, `its order_id "${uuid}" is no order of ours`],
      [{ order_id: long }, `its order_id "${long.slice(0, 64)}" is no order of ours`],
    ] as const) {
      const pi = `pi_worded_${++seq}`;
      const e = event('payment_intent.succeeded', { ...foreignPi(pi), metadata });
      await recordStripeEvent(prisma, e);
      expect(await processStripeEvent(prisma, new StrangerStripe(), e.id)).toBe('ignored');
      expect((await prisma.stripeEvent.findUniqueOrThrow({ where: { id: e.id } })).ignoredReason).toBe(
        `foreign: PaymentIntent ${pi} was not created by Brisk (no payment attempt or order has it, and ${because})`,
      );
    }
  });

  it('a PaymentIntent known only as an order\'s current one (its attempt row gone) is still ours', async () => {
    const prisma = database.prisma;
    const f = await createOrderFixture(prisma, { lines: [{ stock: 3, quantity: 1 }] });
    await prisma.paymentAttempt.deleteMany({ where: { orderId: f.orderId } });
    const stripe = new StrangerStripe();
    const e = event('charge.refunded', { id: 'ch_orphan', object: 'charge', payment_intent: f.paymentIntentIds[0] });
    await recordStripeEvent(prisma, e);
    // Not dropped: the usual path asks Stripe (here it fails, so the event will be retried).
    await expect(processStripeEvent(prisma, stripe, e.id)).rejects.toThrow(/No such payment_intent/);
    expect(await prisma.stripeEvent.findUniqueOrThrow({ where: { id: e.id } })).toMatchObject({ status: 'failed', ignoredReason: null });
  });
});
