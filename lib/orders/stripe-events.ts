// Stripe events → orders. The webhook route only records an event (recordStripeEvent); a job
// later processes it (processStripeEvent). A PaymentIntent event is applied from its own signed
// payload, without asking Stripe again: a late, duplicated or overtaken snapshot cannot move an
// order backwards (applyPayment and the state machine only move it forward, and only a
// succeeded PaymentIntent pays). Refund events still read the PaymentIntent's refunds from
// Stripe, since no one event carries them all.
import { z } from 'zod';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import type { StripeEventType } from '@/lib/stripe/client';
import { StripeUnavailableError, type StripeGateway } from '@/lib/stripe/gateway';
import { cardOfCharge, paymentFromEvent, toPayment, toRefund, unexpandedChargeId, type EventObject, type StripeEventEnvelope } from '@/lib/stripe/payment';
import { applyPayment, applyRefunds, type ApplyResult } from './apply';
import { sql } from 'kysely';
import { sqlOf } from '@/lib/db/sql';
import { statement } from '@/lib/db/statement';
import { eventRow, storeStripeEvents } from './event-inbox';
import { hasBeenPaid } from './state-machine';

const HANDLED = [
  'payment_intent.created',
  'payment_intent.processing',
  'payment_intent.requires_action',
  'payment_intent.amount_capturable_updated',
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.canceled',
  'charge.succeeded',
  'charge.failed',
  'charge.refunded',
  'charge.refund.updated',
  'refund.created',
  'refund.updated',
  'refund.failed',
] as const satisfies readonly StripeEventType[];

export type HandledEventType = (typeof HANDLED)[number];
export const HANDLED_EVENT_TYPES: ReadonlySet<string> = new Set<string>(HANDLED);

export function isHandledEventType(type: string): type is HandledEventType {
  return HANDLED_EVENT_TYPES.has(type);
}

/** What the gateway must offer to process events: reads only. */
export type EventGateway = Pick<StripeGateway, 'retrievePaymentIntent' | 'retrieveCharge' | 'listRefunds'>;

/** The payload of a `stripe-event` job. */
export const StripeEventJobData = z.object({ eventId: z.string().regex(/^evt_[A-Za-z0-9_]+$/, 'must be a Stripe event id') });
export type StripeEventJobData = z.infer<typeof StripeEventJobData>;

// The part of a stored event this module reads; anything else in the payload is kept, not trusted.
const StoredEvent = z.object({
  id: z.string(),
  type: z.string(),
  data: z.object({
    object: z.looseObject({
      id: z.string().optional(),
      object: z.string().optional(),
      payment_intent: z.union([z.string(), z.looseObject({ id: z.string() }), z.null()]).optional(),
      charge: z.union([z.string(), z.looseObject({ id: z.string() }), z.null()]).optional(),
      metadata: z.record(z.string(), z.unknown()).nullable().optional().catch(undefined),
    }),
  }),
});

/**
 * Stores one verified event by its id, through the inbox's statement (one way to store an
 * event). A second delivery of the same id is not inserted. With `settle`, an event that can
 * change nothing is stored processed (`toProcess` false), as the inbox stores it; without, it is
 * stored received for the worker to judge.
 */
export async function recordStripeEvent(
  prisma: PrismaClient,
  event: StripeEventEnvelope,
  opts: { rawBody?: string; settle?: boolean } = {},
): Promise<{ inserted: boolean; toProcess: boolean }> {
  const { inserted, toProcess } = await storeStripeEvents(sqlOf(prisma), [eventRow(event, opts.rawBody ?? JSON.stringify(event))], { settle: opts.settle ?? false });
  return { inserted: inserted.has(event.id), toProcess: toProcess.includes(event.id) };
}

export type ProcessOutcome = 'processed' | 'ignored' | 'already_processed' | 'missing';

function idOf(ref: string | { id: string } | null | undefined): string | null {
  if (!ref) return null;
  return typeof ref === 'string' ? ref : ref.id;
}

async function applyRefundsOf(prisma: PrismaClient, gateway: EventGateway, paymentIntentId: string, stripeEventId: string): Promise<ApplyResult> {
  const [pi, refunds] = await Promise.all([gateway.retrievePaymentIntent(paymentIntentId), gateway.listRefunds({ payment_intent: paymentIntentId, limit: 100 })]);
  return applyRefunds(prisma, { payment: toPayment(pi), refunds: refunds.data.map(toRefund) }, { source: 'webhook', stripeEventId });
}

/**
 * True when our records already hold everything a payment event about this PaymentIntent could
 * tell: it succeeded and paid its order (the shopper's return page usually gets there first).
 * Such events are processed without asking Stripe, which keeps the shared rate budget for
 * shoppers; anything else (a duplicate payment, a refund, an unknown PaymentIntent) is fetched.
 */
async function alreadyPaidBy(prisma: PrismaClient, paymentIntentId: string): Promise<boolean> {
  const attempt = await prisma.paymentAttempt.findUnique({ where: { paymentIntentId }, select: { status: true, order: { select: { status: true, paymentIntentId: true } } } });
  return attempt?.status === 'succeeded' && attempt.order.paymentIntentId === paymentIntentId && hasBeenPaid(attempt.order.status);
}

/**
 * Applies the PaymentIntent an event carries. Its `latest_charge` is only an id in the payload;
 * the charge's own event (charge.succeeded / charge.failed, sent just before) carries the card
 * and risk facts, so it is taken from our inbox when we have it: still no Stripe call.
 */
async function applyPaymentEvent(prisma: PrismaClient, pi: EventObject, ctx: { source: 'webhook'; stripeEventId: string }, force = false): Promise<void> {
  if (!force && (await alreadyPaidBy(prisma, pi.id))) return;
  const chargeId = unexpandedChargeId(pi);
  let charge: EventObject | undefined;
  if (chargeId) {
    const event = await prisma.stripeEvent.findFirst({
      where: { objectId: chargeId, type: { in: ['charge.succeeded', 'charge.failed', 'charge.captured'] } },
      orderBy: { apiCreated: 'desc' },
      select: { payload: true },
    });
    charge = (event?.payload as { data?: { object?: EventObject } } | null)?.data?.object;
  }
  await applyPayment(prisma, paymentFromEvent(pi, charge), ctx);
}

async function applyEvent(prisma: PrismaClient, gateway: EventGateway, event: z.infer<typeof StoredEvent>, type: HandledEventType): Promise<void> {
  const obj = event.data.object;
  const ctx = { source: 'webhook' as const, stripeEventId: event.id };
  switch (type) {
    case 'payment_intent.created':
    case 'payment_intent.processing':
    case 'payment_intent.requires_action':
    case 'payment_intent.amount_capturable_updated':
    case 'payment_intent.succeeded':
    case 'payment_intent.payment_failed':
    case 'payment_intent.canceled': {
      if (!obj.id || obj.object !== 'payment_intent') throw new Error(`${type} event ${event.id} carries no PaymentIntent`);
      await applyPaymentEvent(prisma, obj as EventObject, ctx);
      return;
    }
    case 'charge.succeeded':
    case 'charge.failed': {
      // The PaymentIntent's own event (payment_intent.succeeded / payment_failed, sent with it)
      // carries the payment's state and reads this charge from the inbox. When this one is
      // processed after it, the PaymentIntent it carried is applied again with this charge.
      const piId = idOf(obj.payment_intent);
      if (!piId) return;
      const attempt = await prisma.paymentAttempt.findUnique({ where: { paymentIntentId: piId }, select: { cardLast4: true } });
      if (!attempt || attempt.cardLast4 !== null) return;
      const latest = await prisma.stripeEvent.findFirst({
        where: { objectId: piId, type: { startsWith: 'payment_intent.' }, status: 'processed' },
        orderBy: { apiCreated: 'desc' },
        select: { payload: true },
      });
      const pi = (latest?.payload as { data?: { object?: EventObject } } | null)?.data?.object;
      if (pi?.object === 'payment_intent' && pi.latest_charge === obj.id) await applyPaymentEvent(prisma, pi, ctx, true);
      // The card is a fact of this charge whatever order the events came in: an attempt the
      // order has moved past (declined, then paid by the next one) still shows the card it tried.
      const card = cardOfCharge(obj as EventObject);
      if (card?.last4) await prisma.paymentAttempt.updateMany({ where: { paymentIntentId: piId, cardLast4: null }, data: { cardLast4: card.last4, cardBrand: card.brand ?? null } });
      return;
    }
    case 'charge.refunded': {
      const pi = idOf(obj.payment_intent);
      if (pi) await applyRefundsOf(prisma, gateway, pi, event.id);
      return;
    }
    case 'charge.refund.updated':
    case 'refund.created':
    case 'refund.updated':
    case 'refund.failed': {
      let pi = idOf(obj.payment_intent);
      const charge = idOf(obj.charge);
      if (!pi && charge) pi = idOf((await gateway.retrieveCharge(charge)).payment_intent);
      if (pi) await applyRefundsOf(prisma, gateway, pi, event.id);
      return;
    }
    default: {
      const unhandled: never = type;
      throw new Error(`no handler for ${String(unhandled)}`);
    }
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The PaymentIntent a handled event is about, when its payload names it. */
function paymentIntentOf(event: z.infer<typeof StoredEvent>): string | null {
  const obj = event.data.object;
  if (event.type.startsWith('payment_intent.')) return obj.id ?? null;
  return idOf(obj.payment_intent);
}

/** True when an attempt or an order of ours has the PaymentIntent, or the order id is ours. */
const isKnownPayment = statement((db, p: { paymentIntentId: string; ourOrderId: string | null }) =>
  db.selectNoFrom((eb) =>
    eb
      .or([
        eb.exists(db.selectFrom('PaymentAttempt').select(sql`1`.as('one')).where('paymentIntentId', '=', p.paymentIntentId)),
        eb.exists(db.selectFrom('Order').select(sql`1`.as('one')).where('paymentIntentId', '=', p.paymentIntentId)),
        eb.exists(db.selectFrom('Order').select(sql`1`.as('one')).where('id', '=', sql<string>`${p.ourOrderId}::text`)),
      ])
      .$castTo<boolean>()
      .as('known'),
  ),
);

/**
 * Why an event is about a payment Brisk did not make, or null when it is (or may be) ours.
 * Answered from our records and the event alone, without asking Stripe: the PaymentIntent it
 * names has no attempt and no order of ours, and the `order_id` we put in the metadata of every
 * PaymentIntent we create (read from the event's own object) names no order of ours either — so
 * the window between creating a PaymentIntent and storing its attempt still counts as ours.
 * Another app on the same Stripe account, a payment link or a Dashboard charge would otherwise
 * cost a Stripe call each and, when that call fails (another account's object, a deleted test
 * object), retry for minutes and hold up the webhook lag. An event that names no PaymentIntent
 * (a refund known only by its charge) is left to the usual path.
 */
export async function foreignReason(prisma: PrismaClient, event: z.infer<typeof StoredEvent>): Promise<string | null> {
  const paymentIntentId = paymentIntentOf(event);
  if (!paymentIntentId) return null;
  const metadata = event.data.object.metadata;
  const orderIdInMetadata = typeof metadata?.order_id === 'string' ? metadata.order_id : null;
  const ourOrderId = orderIdInMetadata && UUID.test(orderIdInMetadata) ? orderIdInMetadata : null;
  const { rows } = await isKnownPayment(sqlOf(prisma), { paymentIntentId, ourOrderId });
  const known = rows[0]?.known === true;
  if (known) return null;
  const because = orderIdInMetadata === null ? 'it carries no order_id of ours' : `its order_id ${JSON.stringify(orderIdInMetadata.slice(0, 64))} is no order of ours`;
  return `foreign: PaymentIntent ${paymentIntentId} was not created by Brisk (no payment attempt or order has it, and ${because})`;
}

/**
 * A refusal to call Stripe now because calls are being paced (our shared rate budget, or a 429
 * from Stripe), as opposed to Stripe or the event failing.
 */
export function isSheddingLoad(err: unknown): err is StripeUnavailableError {
  return err instanceof StripeUnavailableError && (err.reason === 'busy' || err.reason === 'rate_limited');
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.slice(0, 2_000);
}

/**
 * Processes one stored event: fetches what it refers to and applies it. Marks the event
 * processed, or failed with the error (and rethrows so the job is retried).
 */
export async function processStripeEvent(prisma: PrismaClient, gateway: EventGateway, eventId: string): Promise<ProcessOutcome> {
  const row = await prisma.stripeEvent.findUnique({ where: { id: eventId } });
  if (!row) return 'missing';
  if (row.status === 'processed') return 'already_processed';
  await prisma.stripeEvent.update({ where: { id: eventId }, data: { attempts: { increment: 1 } } });
  try {
    const event = StoredEvent.parse(row.payload);
    // Dropped at once, with the reason kept: nothing to apply, nothing to retry.
    const ignoredReason = isHandledEventType(event.type) ? await foreignReason(prisma, event) : `event type ${event.type} is not one Brisk handles`;
    if (ignoredReason === null) await applyEvent(prisma, gateway, event, event.type as HandledEventType);
    await prisma.stripeEvent.update({ where: { id: eventId }, data: { status: 'processed', processedAt: new Date(), lastError: null, ignoredReason } });
    return ignoredReason === null ? 'processed' : 'ignored';
  } catch (err) {
    if (isSheddingLoad(err)) {
      // Stripe (or our shared rate budget) asked us to slow down: not this event's failure.
      // It stays `received`; the job is deferred rather than retried (see lib/jobs).
      await prisma.stripeEvent.update({ where: { id: eventId }, data: { status: 'received', lastError: errorText(err) } }).catch(() => {});
      throw err;
    }
    await prisma.stripeEvent.update({ where: { id: eventId }, data: { status: 'failed', lastError: errorText(err) } }).catch(() => {});
    throw err;
  }
}

/** After the last retry: the event waits in the dead-letter list for an admin. */
export async function markStripeEventDead(prisma: PrismaClient, eventId: string, lastError?: string): Promise<void> {
  await prisma.stripeEvent.updateMany({
    where: { id: eventId, status: { not: 'processed' } },
    data: { status: 'dead', ...(lastError ? { lastError: lastError.slice(0, 2_000) } : {}) },
  });
}

export function listDeadStripeEvents(prisma: PrismaClient, take = 100) {
  return prisma.stripeEvent.findMany({
    where: { status: 'dead' },
    orderBy: { receivedAt: 'desc' },
    take,
    select: { id: true, type: true, objectId: true, attempts: true, lastError: true, receivedAt: true, apiCreated: true },
  });
}

/** Puts a dead (or failed) event back to `received` for a new job. False when there is no such event or it is not dead or failed. */
export async function reopenStripeEvent(prisma: PrismaClient, eventId: string): Promise<boolean> {
  const r = await prisma.stripeEvent.updateMany({ where: { id: eventId, status: { in: ['dead', 'failed'] } }, data: { status: 'received', lastError: null } });
  return r.count === 1;
}

/** Events still `received` since before `before`, oldest first (at most 500): the sweep's candidates. */
export function stripeEventsWaitingSince(prisma: PrismaClient, before: Date): Promise<{ id: string }[]> {
  return prisma.stripeEvent.findMany({ where: { status: 'received', receivedAt: { lt: before } }, orderBy: { receivedAt: 'asc' }, take: 500, select: { id: true } });
}

/** Age in seconds of the oldest event not yet processed (0 when none waits): the webhook lag. */
export async function webhookLagSeconds(prisma: PrismaClient): Promise<number> {
  const oldest = await prisma.stripeEvent.findFirst({ where: { status: { in: ['received', 'failed'] } }, orderBy: { receivedAt: 'asc' }, select: { receivedAt: true } });
  return oldest ? Math.max(0, (Date.now() - oldest.receivedAt.getTime()) / 1000) : 0;
}
