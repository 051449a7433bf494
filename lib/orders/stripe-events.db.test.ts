import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { testDbKind } from '@/tests/helpers/db';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import { createOrderFixture, fakePaymentIntent, fakeRefund, orderOutcome, type PiSpec } from '@/tests/helpers/payments';
import type { Stripe } from '@/lib/stripe/client';
import { StripeUnavailableError } from '@/lib/stripe/gateway';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { HANDLED_EVENT_TYPES, isSheddingLoad, processStripeEvent, recordStripeEvent, type EventGateway } from './stripe-events';

const database = databaseForThisFile();

let seq = 0;
function event(type: string, object: Record<string, unknown>, id = `evt_${Date.now()}_${++seq}`): Stripe.Event {
  return { id, object: 'event', type, created: Math.floor(Date.now() / 1000), api_version: '2025-01-01', livemode: false, pending_webhooks: 1, request: null, data: { object } } as unknown as Stripe.Event;
}

/** A tiny Stripe whose objects change as the test moves time forward. */
class World implements EventGateway {
  pis = new Map<string, PiSpec>();
  refunds: Stripe.Refund[] = [];
  down = false;
  /** Our rate budget has no room: the gateway refuses before calling Stripe. */
  paced = false;
  /** Thrown by every read when set (anything, not only an Error). */
  failWith: unknown = undefined;
  calls = 0;
  /** Which reads were made, in order. */
  log: string[] = [];
  async retrievePaymentIntent(id: string) {
    this.calls++;
    this.log.push('retrievePaymentIntent');
    if (this.failWith !== undefined) throw this.failWith;
    if (this.paced) throw new StripeUnavailableError('Stripe is busy', 'busy', 1_500);
    if (this.down) throw new Error('Stripe unavailable');
    const spec = this.pis.get(id);
    if (!spec) throw new Error(`No such payment_intent: ${id}`);
    const refunded = this.refunds.filter((r) => r.payment_intent === id).reduce((s, r) => s + r.amount, 0);
    return fakePaymentIntent({ ...spec, amountRefunded: refunded });
  }
  async retrieveCharge(id: string) {
    this.log.push('retrieveCharge');
    return { id, object: 'charge', payment_intent: `pi_${id.slice(3)}` } as unknown as Stripe.Charge;
  }
  async listRefunds(params: Stripe.RefundListParams) {
    this.log.push('listRefunds');
    return { object: 'list', data: this.refunds.filter((r) => r.payment_intent === params.payment_intent), has_more: false, url: '/v1/refunds' } as unknown as Stripe.ApiList<Stripe.Refund>;
  }
}

describe(`processStripeEvent (${testDbKind})`, () => {
  it('marks unhandled types processed and reports missing events', async () => {
    const prisma = database.prisma;
    expect(HANDLED_EVENT_TYPES.has('customer.created')).toBe(false);
    const e = event('customer.created', { id: 'cus_1', object: 'customer' });
    expect(await recordStripeEvent(prisma, e)).toEqual({ inserted: true, toProcess: true });
    expect(await recordStripeEvent(prisma, e)).toEqual({ inserted: false, toProcess: false });
    expect(await processStripeEvent(prisma, new World(), e.id)).toBe('ignored');
    expect(await prisma.stripeEvent.findUniqueOrThrow({ where: { id: e.id } })).toMatchObject({ status: 'processed', attempts: 1 });
    expect(await processStripeEvent(prisma, new World(), e.id)).toBe('already_processed');
    // Not counted as another attempt.
    expect((await prisma.stripeEvent.findUniqueOrThrow({ where: { id: e.id } })).attempts).toBe(1);
    expect(await processStripeEvent(prisma, new World(), 'evt_never_stored')).toBe('missing');
    expect(await prisma.stripeEvent.count({ where: { id: 'evt_never_stored' } })).toBe(0);
  });

  it('does not ask Stripe about an order its PaymentIntent already paid (the return page got there first)', async () => {
    const prisma = database.prisma;
    const world = new World();
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const spec: PiSpec = { id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' };
    world.pis.set(spec.id, spec);
    const created = event('payment_intent.created', fakePaymentIntent({ ...spec, status: 'requires_payment_method' }) as never);
    await recordStripeEvent(prisma, created);
    // Before the payment, the event is applied from its own payload.
    world.pis.set(spec.id, { ...spec, status: 'requires_payment_method' });
    expect(await processStripeEvent(prisma, world, created.id)).toBe('processed');
    expect(world.calls).toBe(0);
    world.pis.set(spec.id, spec);
    await applyPaymentIntent(prisma, fakePaymentIntent(spec), { source: 'return_page' });
    world.down = true;
    for (const type of ['charge.succeeded', 'payment_intent.succeeded']) {
      const object = type === 'charge.succeeded' ? { id: 'ch_x', object: 'charge', payment_intent: spec.id } : (fakePaymentIntent(spec) as never);
      const e = event(type, object);
      await recordStripeEvent(prisma, e);
      expect(await processStripeEvent(prisma, world, e.id)).toBe('processed');
    }
    expect(world.calls).toBe(0);
    expect(await orderOutcome(prisma, f.orderId)).toMatchObject({ status: 'paid', emails: 1, fulfillments: 1, paidEvents: 1 });
  });

  it('applies a PaymentIntent event from its signed payload, without asking Stripe; a stale payload does not undo it', async () => {
    const prisma = database.prisma;
    const world = new World();
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const spec: PiSpec = { id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' };
    // Stripe (the World) knows nothing: only the payload can pay the order.
    const paid = event('payment_intent.succeeded', fakePaymentIntent(spec) as never);
    await recordStripeEvent(prisma, paid);
    expect(await processStripeEvent(prisma, world, paid.id)).toBe('processed');
    expect(world.calls).toBe(0);
    const order = await prisma.order.findUniqueOrThrow({ where: { id: f.orderId } });
    expect(order).toMatchObject({ status: 'paid', amountPaid: f.total, paymentIntentId: spec.id });
    expect((await prisma.orderEvent.findFirstOrThrow({ where: { orderId: f.orderId, toStatus: 'paid' } })).stripeEventId).toBe(paid.id);
    // An older snapshot delivered late changes nothing.
    for (const status of ['requires_payment_method', 'processing', 'requires_action'] as const) {
      const stale = event(`payment_intent.${status === 'requires_payment_method' ? 'created' : status}`, fakePaymentIntent({ ...spec, status }) as never);
      await recordStripeEvent(prisma, stale);
      expect(await processStripeEvent(prisma, world, stale.id)).toBe('processed');
    }
    expect((await orderOutcome(prisma, f.orderId)).status).toBe('paid');
    expect((await prisma.paymentAttempt.findFirstOrThrow({ where: { orderId: f.orderId } })).status).toBe('succeeded');
    expect(world.calls).toBe(0);
  });

  it('takes the charge from its own event in the inbox, whichever is processed first', async () => {
    const prisma = database.prisma;
    for (const chargeFirst of [true, false]) {
      const world = new World();
      const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
      const spec: PiSpec = { id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' };
      const full = fakePaymentIntent(spec);
      // Stripe rates this payment highest risk: a fact only the charge carries.
      const plain = full.latest_charge as Stripe.Charge;
      const charge = { ...plain, outcome: { ...plain.outcome, risk_level: 'highest', risk_score: 91 } } as Stripe.Charge;
      const piEvent = event('payment_intent.succeeded', { ...full, latest_charge: charge.id } as never);
      const chargeEvent = event('charge.succeeded', charge as never);
      // Another charge's event in the inbox is never taken for this one.
      const other = event('charge.succeeded', { ...charge, id: `${charge.id}_other`, outcome: { ...plain.outcome, risk_level: 'normal', risk_score: 3 } } as never);
      await recordStripeEvent(prisma, other);
      for (const e of chargeFirst ? [chargeEvent, piEvent] : [piEvent, chargeEvent]) {
        await recordStripeEvent(prisma, e);
        await processStripeEvent(prisma, world, e.id);
      }
      // The attempt shows the card and Stripe's risk facts in both orders: the charge read from the
      // inbox when it came first, the PaymentIntent applied again with it when it came second.
      expect(await prisma.paymentAttempt.findFirstOrThrow({ where: { orderId: f.orderId } })).toMatchObject({ status: 'succeeded', cardBrand: 'visa', cardLast4: '4242', riskLevel: 'highest', riskScore: 91 });
      const order = await prisma.order.findUniqueOrThrow({ where: { id: f.orderId } });
      expect(order.status).toBe('paid');
      // Known limit: only when the charge came first does the paying statement see Stripe's rating and
      // hold the fulfillment for review (the checkout applies Stripe's own answer, charge included, so
      // this order of webhooks matters only when that answer was lost).
      if (chargeFirst) expect(order).toMatchObject({ riskLevel: 'highest', reviewStatus: 'pending_review' });
      // The other charge's event, processed last, changes nothing here (and leaves no event unprocessed).
      expect(await processStripeEvent(prisma, world, other.id)).toBe('processed');
      expect(await prisma.paymentAttempt.findFirstOrThrow({ where: { orderId: f.orderId } })).toMatchObject({ riskLevel: 'highest', riskScore: 91 });
      expect(world.calls).toBe(0);
    }
  });

  it('leaves an event waiting, not failed, when Stripe calls are being paced', async () => {
    const prisma = database.prisma;
    const world = new World();
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const spec: PiSpec = { id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' };
    world.pis.set(spec.id, spec);
    await applyPaymentIntent(prisma, fakePaymentIntent(spec), { source: 'return_page' });
    // Refunds are read from Stripe (no one event carries them all).
    world.refunds.push(fakeRefund({ id: `re_${spec.id}`, paymentIntentId: spec.id, amount: f.total }));
    const e = event('charge.refunded', { id: `ch_${spec.id.slice(3)}`, object: 'charge', payment_intent: spec.id, amount_refunded: f.total });
    await recordStripeEvent(prisma, e);
    world.paced = true;
    const err = await processStripeEvent(prisma, world, e.id).catch((x: unknown) => x);
    expect(isSheddingLoad(err)).toBe(true);
    expect(await prisma.stripeEvent.findUniqueOrThrow({ where: { id: e.id } })).toMatchObject({ status: 'received', attempts: 1 });
    world.paced = false;
    expect(await processStripeEvent(prisma, world, e.id)).toBe('processed');
    expect((await prisma.order.findUniqueOrThrow({ where: { id: f.orderId } })).status).toBe('refunded');
  });

  it('records a failure with attempts and lastError, then succeeds on retry', async () => {
    const prisma = database.prisma;
    const world = new World();
    const f = await createOrderFixture(prisma, { lines: [{ stock: 5, quantity: 1 }] });
    const spec: PiSpec = { id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' };
    world.pis.set(spec.id, spec);
    await applyPaymentIntent(prisma, fakePaymentIntent(spec), { source: 'return_page' });
    world.refunds.push(fakeRefund({ id: `re_${spec.id}`, paymentIntentId: spec.id, amount: 500 }));
    const e = event('charge.refunded', { id: `ch_${spec.id.slice(3)}`, object: 'charge', payment_intent: spec.id, amount_refunded: 500 });
    await recordStripeEvent(prisma, e);
    world.down = true;
    await expect(processStripeEvent(prisma, world, e.id)).rejects.toThrow(/Stripe unavailable/);
    expect(await prisma.stripeEvent.findUniqueOrThrow({ where: { id: e.id } })).toMatchObject({ status: 'failed', attempts: 1, lastError: 'Error: Stripe unavailable' });
    world.down = false;
    expect(await processStripeEvent(prisma, world, e.id)).toBe('processed');
    expect(await prisma.stripeEvent.findUniqueOrThrow({ where: { id: e.id } })).toMatchObject({ status: 'processed', attempts: 2, lastError: null });
    expect((await prisma.order.findUniqueOrThrow({ where: { id: f.orderId } })).status).toBe('partially_refunded');
  });

  it('converges for any delivery delay, duplication and order of a real event stream', async () => {
    const prisma = database.prisma;
    const STEPS = 5;
    let expected: unknown;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ delay: fc.nat(4), copies: fc.integer({ min: 1, max: 2 }), redeliver: fc.boolean() }), { minLength: 10, maxLength: 10 }),
        async (deliveries) => {
          const world = new World();
          const f = await createOrderFixture(prisma, { lines: [{ stock: 4, quantity: 2, price: 2000 }], attempts: 2 });
          const [pi1, pi2] = f.paymentIntentIds;
          const spec = (id: string, attempt: number, status: Stripe.PaymentIntent.Status, extra: Partial<PiSpec> = {}): PiSpec => ({ id, orderId: f.orderId, attempt, amount: f.total, status, ...extra });
          const charge2 = `ch_${pi2.slice(3)}`;
          // Each step changes Stripe's state and emits the events Stripe would.
          const steps: (() => Stripe.Event[])[] = [
            () => {
              world.pis.set(pi1, spec(pi1, 1, 'requires_payment_method', { declined: { code: 'card_declined', decline_code: 'generic_decline', message: 'declined' } }));
              const pi = fakePaymentIntent(world.pis.get(pi1)!);
              return [event('payment_intent.payment_failed', pi as never), event('charge.failed', { id: `ch_${pi1.slice(3)}`, object: 'charge', payment_intent: pi1 })];
            },
            () => {
              world.pis.set(pi2, spec(pi2, 2, 'processing'));
              return [event('payment_intent.processing', fakePaymentIntent(world.pis.get(pi2)!) as never), event('customer.updated', { id: 'cus_x', object: 'customer' })];
            },
            () => {
              world.pis.set(pi2, spec(pi2, 2, 'succeeded'));
              return [event('payment_intent.succeeded', fakePaymentIntent(world.pis.get(pi2)!) as never), event('charge.succeeded', { id: charge2, object: 'charge', payment_intent: pi2 })];
            },
            () => {
              const re = fakeRefund({ id: `re_${pi2}_1`, paymentIntentId: pi2, amount: 1500 });
              world.refunds.push(re);
              return [event('refund.created', re as never), event('charge.refunded', { id: charge2, object: 'charge', payment_intent: pi2, amount_refunded: 1500 })];
            },
            () => {
              const re = fakeRefund({ id: `re_${pi2}_2`, paymentIntentId: pi2, amount: f.total - 1500 });
              world.refunds.push(re);
              // An event that names only the charge: the worker finds the PaymentIntent through it.
              return [event('charge.refund.updated', { ...re, payment_intent: null } as never), event('charge.refunded', { id: charge2, object: 'charge', payment_intent: pi2, amount_refunded: f.total })];
            },
          ];
          const inbox: { at: number; event: Stripe.Event }[] = [];
          let k = 0;
          const deliver = async (now: number) => {
            for (const item of inbox.filter((i) => i.at <= now)) {
              inbox.splice(inbox.indexOf(item), 1);
              if ((await recordStripeEvent(prisma, item.event)).inserted) await processStripeEvent(prisma, world, item.event.id);
            }
          };
          for (let step = 0; step < STEPS; step++) {
            for (const e of steps[step]()) {
              const d = deliveries[k++];
              for (let c = 0; c < d.copies; c++) inbox.push({ at: step + d.delay + c, event: e });
              // Stripe sometimes sends the same change under a second event id.
              if (d.redeliver) inbox.push({ at: step + d.delay, event: { ...e, id: `${e.id}_again` } });
            }
            await deliver(step);
          }
          await deliver(Number.MAX_SAFE_INTEGER);

          const out = await orderOutcome(prisma, f.orderId);
          expect(out.ledgerUnbalanced).toEqual([]);
          const attempts = await prisma.paymentAttempt.findMany({ where: { orderId: f.orderId }, orderBy: { attemptNumber: 'asc' }, select: { status: true, failureCode: true } });
          const normalized = {
            status: out.status,
            amountPaid: out.amountPaid,
            amountRefunded: out.amountRefunded,
            stock: out.stock,
            emails: out.emails,
            fulfillments: out.fulfillments,
            paidEvents: out.paidEvents,
            refunds: out.refunds.map((r) => [r.amount, r.status]),
            ledger: out.ledger.map((l) => [l.txKey.split(':')[0], l.account, l.amount]),
            attempts,
            unprocessed: await prisma.stripeEvent.count({ where: { status: { not: 'processed' } } }),
          };
          expected ??= normalized;
          expect(normalized).toEqual(expected);
        },
      ),
      { numRuns: 5 },
    );
    expect(expected).toMatchObject({
      status: 'refunded',
      amountPaid: 4000,
      amountRefunded: 4000,
      stock: [2],
      emails: 1,
      fulfillments: 1,
      paidEvents: 1,
      attempts: [{ status: 'requires_payment_method', failureCode: 'card_declined' }, { status: 'succeeded', failureCode: null }],
      unprocessed: 0,
    });
  });

  describe('what each event type does', () => {
    const prisma = () => database.prisma;
    async function paidOrder(world: World) {
      const f = await createOrderFixture(prisma(), { lines: [{ stock: 5, quantity: 1 }] });
      const spec: PiSpec = { id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: 'succeeded' };
      world.pis.set(spec.id, spec);
      await applyPaymentIntent(prisma(), fakePaymentIntent(spec), { source: 'return_page' });
      return { f, spec };
    }
    async function run(world: World, e: Stripe.Event) {
      await recordStripeEvent(prisma(), e);
      return processStripeEvent(prisma(), world, e.id);
    }
    const row = (id: string) => prisma().stripeEvent.findUniqueOrThrow({ where: { id } });

    it.each([
      ['payment_intent.created', 'requires_payment_method', 'pending', 'requires_payment_method'],
      ['payment_intent.processing', 'processing', 'processing', 'processing'],
      ['payment_intent.requires_action', 'requires_action', 'pending', 'requires_action'],
      ['payment_intent.amount_capturable_updated', 'requires_capture', 'processing', 'requires_capture'],
      ['payment_intent.succeeded', 'succeeded', 'paid', 'succeeded'],
      ['payment_intent.payment_failed', 'requires_payment_method', 'pending', 'requires_payment_method'],
      ['payment_intent.canceled', 'canceled', 'pending', 'canceled'],
    ] as const)('%s is applied from its payload (PaymentIntent %s → order %s), without asking Stripe', async (type, piStatus, orderStatus, attemptStatus) => {
      const world = new World();
      const f = await createOrderFixture(prisma(), { lines: [{ stock: 5, quantity: 1 }] });
      const declined = type === 'payment_intent.payment_failed' ? { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' } : undefined;
      const e = event(type, fakePaymentIntent({ id: f.paymentIntentIds[0], orderId: f.orderId, attempt: 1, amount: f.total, status: piStatus, declined }) as never);
      expect(await run(world, e)).toBe('processed');
      expect(await row(e.id)).toMatchObject({ status: 'processed', ignoredReason: null, lastError: null, attempts: 1 });
      expect(world.log).toEqual([]);
      expect((await prisma().order.findUniqueOrThrow({ where: { id: f.orderId } })).status).toBe(orderStatus);
      const attempt = await prisma().paymentAttempt.findFirstOrThrow({ where: { orderId: f.orderId } });
      expect(attempt.status).toBe(attemptStatus);
      if (declined) expect(attempt).toMatchObject({ failureCode: 'card_declined', cardLast4: '0002' });
    });

    it('a PaymentIntent event whose object is not a PaymentIntent fails with the reason, and nothing changes', async () => {
      const world = new World();
      const f = await createOrderFixture(prisma(), { lines: [{ stock: 5, quantity: 1 }] });
      for (const [type, object] of [
        ['payment_intent.succeeded', { id: f.paymentIntentIds[0], object: 'charge', status: 'succeeded', amount: f.total }],
        ['payment_intent.canceled', { object: 'payment_intent', status: 'canceled' }],
      ] as const) {
        const e = event(type, object);
        await recordStripeEvent(prisma(), e);
        await expect(processStripeEvent(prisma(), world, e.id)).rejects.toThrow(`${type} event ${e.id} carries no PaymentIntent`);
        expect(await row(e.id)).toMatchObject({ status: 'failed', attempts: 1, lastError: `Error: ${type} event ${e.id} carries no PaymentIntent` });
      }
      expect((await prisma().order.findUniqueOrThrow({ where: { id: f.orderId } })).status).toBe('pending');
    });

    it('charge.refunded reads the refunds from Stripe and applies them; without a PaymentIntent it asks nothing', async () => {
      const world = new World();
      const { f, spec } = await paidOrder(world);
      world.refunds.push(fakeRefund({ id: `re_${spec.id}_a`, paymentIntentId: spec.id, amount: 300 }));
      expect(await run(world, event('charge.refunded', { id: `ch_${spec.id.slice(3)}`, object: 'charge', payment_intent: { id: spec.id } }))).toBe('processed');
      expect(world.log.sort()).toEqual(['listRefunds', 'retrievePaymentIntent']);
      expect(await prisma().order.findUniqueOrThrow({ where: { id: f.orderId } })).toMatchObject({ status: 'partially_refunded', amountRefunded: 300 });
      world.log = [];
      expect(await run(world, event('charge.refunded', { id: 'ch_nobody', object: 'charge', payment_intent: null }))).toBe('processed');
      expect(world.log).toEqual([]);
    });

    it.each(['refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated'])(
      '%s applies the PaymentIntent\'s refunds, found through the charge when the refund names only that',
      async (type) => {
        for (const via of ['payment_intent', 'charge', 'neither'] as const) {
          const world = new World();
          const { f, spec } = await paidOrder(world);
          const refund = fakeRefund({ id: `re_${spec.id}_${via}`, paymentIntentId: spec.id, amount: 500 });
          world.refunds.push(refund);
          const object = { ...refund, payment_intent: via === 'payment_intent' ? spec.id : null, charge: via === 'neither' ? null : refund.charge };
          expect(await run(world, event(type, object as never)), via).toBe('processed');
          const order = await prisma().order.findUniqueOrThrow({ where: { id: f.orderId } });
          if (via === 'neither') {
            expect(world.log).toEqual([]);
            expect(order.amountRefunded).toBe(0);
          } else {
            expect(world.log.sort(), via).toEqual(via === 'charge' ? ['listRefunds', 'retrieveCharge', 'retrievePaymentIntent'] : ['listRefunds', 'retrievePaymentIntent']);
            expect(order).toMatchObject({ status: 'partially_refunded', amountRefunded: 500 });
          }
        }
      },
    );

    it('a charge event records the card tried on its attempt, even after the order moved on; one naming no PaymentIntent does nothing', async () => {
      const world = new World();
      const f = await createOrderFixture(prisma(), { lines: [{ stock: 5, quantity: 1 }], attempts: 2 });
      const [pi1, pi2] = f.paymentIntentIds;
      await applyPaymentIntent(prisma(), fakePaymentIntent({ id: pi2, orderId: f.orderId, attempt: 2, amount: f.total, status: 'succeeded' }), { source: 'return_page' });
      const card = (last4: string, brand?: string) => ({ type: 'card', card: { last4, ...(brand ? { brand } : {}) } });
      expect(await run(world, event('charge.failed', { id: `ch_${pi1.slice(3)}`, object: 'charge', payment_intent: pi1, payment_method_details: card('0341', 'mastercard') }))).toBe('processed');
      expect(await prisma().paymentAttempt.findFirstOrThrow({ where: { paymentIntentId: pi1 } })).toMatchObject({ cardLast4: '0341', cardBrand: 'mastercard' });
      // The order stays paid by the second attempt.
      expect((await prisma().order.findUniqueOrThrow({ where: { id: f.orderId } })).status).toBe('paid');

      const g = await createOrderFixture(prisma(), { lines: [{ stock: 5, quantity: 1 }] });
      expect(await run(world, event('charge.failed', { id: 'ch_nobrand', object: 'charge', payment_intent: g.paymentIntentIds[0], payment_method_details: card('0119') }))).toBe('processed');
      expect(await prisma().paymentAttempt.findFirstOrThrow({ where: { orderId: g.orderId } })).toMatchObject({ cardLast4: '0119', cardBrand: null });
      expect(await run(world, event('charge.succeeded', { id: 'ch_loose', object: 'charge', payment_intent: null, payment_method_details: card('4242', 'visa') }))).toBe('processed');
      expect(world.log).toEqual([]);
    });

    it('keeps the error as text, at most 2000 characters, whatever was thrown', async () => {
      const world = new World();
      const { spec } = await paidOrder(world);
      const refunded = () => event('charge.refunded', { id: `ch_${spec.id.slice(3)}`, object: 'charge', payment_intent: spec.id });
      world.failWith = new TypeError('x'.repeat(3000));
      const long = refunded();
      await recordStripeEvent(prisma(), long);
      await expect(processStripeEvent(prisma(), world, long.id)).rejects.toThrow(TypeError);
      const kept = (await row(long.id)).lastError!;
      expect(kept).toHaveLength(2000);
      expect(kept.startsWith('TypeError: xxx')).toBe(true);
      world.failWith = 'socket hang up';
      const plain = refunded();
      await recordStripeEvent(prisma(), plain);
      await expect(processStripeEvent(prisma(), world, plain.id)).rejects.toBe('socket hang up');
      expect(await row(plain.id)).toMatchObject({ status: 'failed', lastError: 'socket hang up' });
    });

    it('waits (received) only when calls are being paced: a 429 from Stripe too; a timeout is a failure', async () => {
      expect(isSheddingLoad(new Error('busy'))).toBe(false);
      for (const [reason, status] of [['rate_limited', 'received'], ['busy', 'received'], ['timeout', 'failed'], ['circuit_open', 'failed']] as const) {
        const world = new World();
        const { spec } = await paidOrder(world);
        world.failWith = new StripeUnavailableError('Stripe is not answering right now', reason);
        const e = event('charge.refunded', { id: `ch_${spec.id.slice(3)}`, object: 'charge', payment_intent: spec.id });
        await recordStripeEvent(prisma(), e);
        const err = await processStripeEvent(prisma(), world, e.id).catch((x: unknown) => x);
        expect(isSheddingLoad(err), reason).toBe(status === 'received');
        expect(await row(e.id), reason).toMatchObject({ status, attempts: 1, lastError: 'StripeUnavailableError: Stripe is not answering right now' });
      }
    });
  });
});
