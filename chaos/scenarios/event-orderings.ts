// One order's real event stream (a declined attempt, a paid attempt, a partial and a full refund,
// recorded from the emulator) replayed many times: shuffled, with duplicate deliveries, some
// events processed again as if the worker died before marking them done, and each Stripe read
// answered with a snapshot anywhere between the event's own moment and now (a stale read can
// lag, but never predate the event that caused it). Every replay must end exactly where the
// in-order replay ends.
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { openDatabase } from '../../lib/db/client';
import { applyMigrations } from '../../lib/db/migrate';
import type { PrismaClient } from '../../lib/generated/prisma/client';
import { processStripeEvent, recordStripeEvent, type EventGateway } from '../../lib/orders/stripe-events';
import { chance, listAllStripe, rand, startStripe, type Scenario } from '../lib/harness';

interface Snapshot {
  intents: Record<string, Stripe.PaymentIntent>;
  refunds: Record<string, Stripe.Refund[]>;
  charges: Record<string, Stripe.Charge>;
}

interface Recorded {
  orderId: string;
  amount: number;
  quantity: number;
  price: number;
  intents: string[];
  events: { event: Stripe.Event; step: number }[];
  snapshots: Snapshot[];
}

async function recordStream(): Promise<Recorded> {
  const s = await startStripe({ webhookUrls: [] });
  try {
    const orderId = randomUUID();
    const price = 2_400;
    const quantity = 2;
    const amount = price * quantity;
    const intents: string[] = [];
    const events: Recorded['events'] = [];
    const snapshots: Snapshot[] = [];
    const seen = new Set<string>();
    const snap = async () => {
      const step = snapshots.length;
      const snapshot: Snapshot = { intents: {}, refunds: {}, charges: {} };
      for (const id of intents) {
        const pi = await s.stripe.paymentIntents.retrieve(id, { expand: ['latest_charge'] });
        snapshot.intents[id] = pi;
        snapshot.refunds[id] = (await s.stripe.refunds.list({ payment_intent: id, limit: 100 })).data;
        if (pi.latest_charge && typeof pi.latest_charge === 'object') snapshot.charges[pi.latest_charge.id] = pi.latest_charge;
      }
      snapshots.push(snapshot);
      const all = await listAllStripe<Stripe.Event>(s, '/v1/events');
      for (const e of all.reverse()) if (!seen.has(e.id)) {
        seen.add(e.id);
        events.push({ event: e, step });
      }
    };
    const create = async (attempt: number) => {
      const pi = await s.stripe.paymentIntents.create({ amount, currency: 'usd', automatic_payment_methods: { enabled: true }, metadata: { order_id: orderId, attempt: String(attempt) } }, { idempotencyKey: `brisk:pi:${orderId}:${attempt}` });
      intents.push(pi.id);
      return pi;
    };
    const pi1 = await create(1);
    await snap();
    await s.stripe.paymentIntents.confirm(pi1.id, { payment_method: 'pm_card_chargeDeclined' }).catch(() => null);
    await snap();
    const pi2 = await create(2);
    await snap();
    await s.stripe.paymentIntents.confirm(pi2.id, { payment_method: 'pm_card_visa' });
    await snap();
    await s.stripe.refunds.create({ payment_intent: pi2.id, amount: 1_000 });
    await snap();
    await s.stripe.refunds.create({ payment_intent: pi2.id });
    await snap();
    return { orderId, amount, quantity, price, intents, events, snapshots };
  } finally {
    await s.close();
  }
}

/** The recorded stream with every Stripe id and the order id renamed for one replay. */
function renamed(rec: Recorded, run: number, orderId: string): { map: (x: string) => string; unmap: (x: string) => string; rec: Recorded } {
  const ids = new Set<string>();
  const collect = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(collect);
    else if (x && typeof x === 'object') {
      for (const [k, v] of Object.entries(x)) {
        if (k === 'id' && typeof v === 'string' && /^(pi|ch|re|evt|pm|py)_[A-Za-z0-9]+$/.test(v)) ids.add(v);
        collect(v);
      }
    }
  };
  collect(rec);
  const forward = new Map<string, string>([...ids].map((id) => [id, `${id}R${run}`]));
  forward.set(rec.orderId, orderId);
  const backward = new Map([...forward].map(([a, b]) => [b, a]));
  // Emails name the order by its first 8 characters.
  backward.set(orderId.slice(0, 8), rec.orderId.slice(0, 8));
  const re = new RegExp([...forward.keys()].sort((a, b) => b.length - a.length).join('|'), 'g');
  const json = JSON.stringify(rec).replace(re, (m) => forward.get(m)!);
  const reBack = new RegExp([...backward.keys()].sort((a, b) => b.length - a.length).map((k) => k.replace(/[-]/g, '\\-')).join('|'), 'g');
  return { map: (x) => forward.get(x) ?? x, unmap: (x) => x.replace(reBack, (m) => backward.get(m)!), rec: JSON.parse(json) as Recorded };
}

async function replay(prisma: PrismaClient, base: Recorded, run: number, mode: 'in_order' | 'chaos'): Promise<{ state: string; deliveries: number; reprocessed: number }> {
  const orderId = randomUUID();
  const { rec, unmap } = renamed(base, run, orderId);
  const product = await prisma.product.create({ data: { slug: `chaos-order-${run}-${orderId.slice(0, 8)}`, name: 'Chaos mug', description: 'x', price: rec.price, image: '/x.png', stock: 10 } });
  await prisma.order.create({
    data: {
      id: orderId,
      publicToken: `tok_${orderId}`,
      email: 'orderings@example.com',
      name: 'Ada',
      addressLine1: '1 St',
      city: 'X',
      postalCode: '94107',
      country: 'US',
      currency: 'usd',
      subtotal: rec.amount,
      total: rec.amount,
      pricingHash: 'h',
      attemptCount: rec.intents.length,
      paymentIntentId: rec.intents.at(-1),
      items: { create: [{ productId: product.id, name: 'Chaos mug', unitPrice: rec.price, quantity: rec.quantity }] },
      attempts: { create: rec.intents.map((pi, i) => ({ attemptNumber: i + 1, paymentIntentId: pi, idempotencyKey: `brisk:pi:${orderId}:${i + 1}`, amount: rec.amount, currency: 'usd', status: 'requires_payment_method' })) },
    },
  });
  const last = rec.snapshots.length - 1;
  let step = last;
  const at = () => rec.snapshots[step];
  const gateway: EventGateway = {
    retrievePaymentIntent: async (id) => structuredClone(at().intents[id]),
    retrieveCharge: async (id) => structuredClone(at().charges[id]),
    listRefunds: async (params) => ({ object: 'list', data: structuredClone(at().refunds[String(params?.payment_intent)] ?? []), has_more: false, url: '/v1/refunds' }) as unknown as Stripe.ApiList<Stripe.Refund>,
  } as EventGateway;

  let deliveries = rec.events.map((e) => e);
  if (mode === 'chaos') {
    deliveries = deliveries.flatMap((e) => (chance(0.35) ? [e, e, ...(chance(0.3) ? [e] : [])] : [e]));
    for (let i = deliveries.length - 1; i > 0; i--) {
      const j = rand(i + 1);
      [deliveries[i], deliveries[j]] = [deliveries[j], deliveries[i]];
    }
  }
  let reprocessed = 0;
  for (const { event, step: eventStep } of deliveries) {
    // In order, each read sees Stripe as it was when the event was sent (not the final state,
    // which would let a bug that reads ahead pass in order); chaos reads anywhere from then to now.
    step = mode === 'chaos' ? eventStep + rand(last - eventStep + 1) : eventStep;
    const { inserted } = await recordStripeEvent(prisma, event);
    if (!inserted) {
      // A duplicate delivery is acknowledged and dropped — but sometimes the worker had died
      // after applying the event and before marking it processed, so it runs again.
      if (!chance(0.3)) continue;
      await prisma.stripeEvent.update({ where: { id: event.id }, data: { status: 'received' } });
      reprocessed++;
    }
    await processStripeEvent(prisma, gateway, event.id);
  }

  const order = await prisma.order.findUniqueOrThrow({ where: { id: orderId }, include: { attempts: { orderBy: { attemptNumber: 'asc' } }, refunds: { orderBy: { stripeRefundId: 'asc' } }, fulfillment: true } });
  const [ledger, emails, effects, events, stock] = await Promise.all([
    prisma.ledgerEntry.findMany({ where: { orderId }, select: { txKey: true, account: true, amount: true } }),
    prisma.email.findMany({ where: { orderId }, select: { kind: true, dedupeKey: true, to: true, subject: true } }),
    prisma.sideEffect.findMany({ where: { orderId }, select: { key: true } }),
    prisma.stripeEvent.findMany({ where: { id: { in: rec.events.map((e) => e.event.id) } }, select: { status: true } }),
    prisma.product.findUniqueOrThrow({ where: { id: product.id }, select: { stock: true } }),
  ]);
  const sortBy = <T>(xs: T[]) => xs.map((x) => JSON.stringify(x)).sort();
  const state = unmap(
    JSON.stringify({
      order: { status: order.status, amountPaid: order.amountPaid, amountRefunded: order.amountRefunded, oversold: order.oversold, paymentIntentId: order.paymentIntentId, paid: Boolean(order.paidAt) },
      attempts: order.attempts.map((a) => [a.attemptNumber, a.paymentIntentId, a.status, a.declineCode, a.failureCode, a.cardLast4]),
      refunds: order.refunds.map((r) => [r.stripeRefundId, r.amount, r.status]),
      fulfillment: order.fulfillment ? 1 : 0,
      stockTaken: 10 - stock.stock,
      ledger: sortBy(ledger.map((l) => [l.txKey, l.account, l.amount])),
      emails: sortBy(emails.map((e) => [e.kind, e.dedupeKey, e.to, e.subject])),
      sideEffects: sortBy(effects.map((e) => e.key)),
      events: sortBy(events.map((e) => e.status)),
    }),
  );
  return { state, deliveries: deliveries.length, reprocessed };
}

/**
 * The in-order replay pinned to what Stripe's records say, not to another replay by the same
 * code: refunded in full; paid once by the second attempt; one Refund row per Stripe refund
 * (same id, amount, status) and no other; the ledger exactly one payment pair and one refund
 * pair per Stripe refund; stock taken exactly once; one fulfillment, one confirmation; every
 * event processed.
 */
function pinned(state: string, rec: Recorded): string[] {
  const s = JSON.parse(state) as {
    order: { status: string; amountPaid: number; amountRefunded: number; oversold: boolean; paymentIntentId: string; paid: boolean };
    refunds: [string, number, string][];
    fulfillment: number;
    stockTaken: number;
    ledger: string[];
    emails: string[];
    events: string[];
  };
  const v: string[] = [];
  const paying = rec.intents.at(-1)!;
  const stripeRefunds = rec.snapshots.at(-1)!.refunds[paying] ?? [];
  const refunded = stripeRefunds.filter((r) => r.status === 'succeeded').reduce((sum, r) => sum + r.amount, 0);
  const want = { status: 'refunded', amountPaid: rec.amount, amountRefunded: rec.amount, oversold: false, paymentIntentId: paying, paid: true };
  if (JSON.stringify(s.order) !== JSON.stringify(want)) v.push(`in order: order ${JSON.stringify(s.order)}, expected ${JSON.stringify(want)}`);
  if (refunded !== rec.amount || stripeRefunds.length !== 2) v.push(`the recorded stream is not the one this scenario means: Stripe refunded ${refunded} of ${rec.amount} in ${stripeRefunds.length} refunds`);
  const wantRefunds = stripeRefunds.map((r) => [r.id, r.amount, r.status]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  // Both sides in one order (the database sorts ids by its collation, JavaScript by localeCompare).
  const gotRefunds = [...s.refunds].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  if (JSON.stringify(gotRefunds) !== JSON.stringify(wantRefunds)) v.push(`in order: Refund rows ${JSON.stringify(s.refunds)}, Stripe's refunds ${JSON.stringify(wantRefunds)}`);
  const wantLedger = [
    [`payment:${paying}`, 'stripe_balance', rec.amount],
    [`payment:${paying}`, 'sales', -rec.amount],
    ...stripeRefunds.flatMap((r) => [
      [`refund:${r.id}`, 'refunds', r.amount],
      [`refund:${r.id}`, 'stripe_balance', -r.amount],
    ]),
  ]
    .map((l) => JSON.stringify(l))
    .sort();
  if (JSON.stringify(s.ledger) !== JSON.stringify(wantLedger)) v.push(`in order: ledger ${JSON.stringify(s.ledger)}, expected ${JSON.stringify(wantLedger)}`);
  if (s.stockTaken !== rec.quantity) v.push(`in order: stock taken ${s.stockTaken}, expected ${rec.quantity}`);
  if (s.fulfillment !== 1) v.push(`in order: ${s.fulfillment} fulfillments`);
  const confirmations = s.emails.filter((e) => e.includes('"order_confirmation"')).length;
  if (confirmations !== 1) v.push(`in order: ${confirmations} confirmation emails`);
  if (s.events.some((e) => e !== '"processed"')) v.push(`in order: events ${JSON.stringify(s.events)}, expected all processed`);
  return v;
}

function diff(got: string, want: string): string {
  const a = JSON.parse(got) as Record<string, unknown>;
  const b = JSON.parse(want) as Record<string, unknown>;
  return Object.keys(b)
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .map((k) => `${k}: got ${JSON.stringify(a[k]).slice(0, 300)}, expected ${JSON.stringify(b[k]).slice(0, 300)}`)
    .join('; ');
}

export const eventOrderingsScenario: Scenario = {
  name: 'event-orderings',
  invariant:
    'The in-order replay of an order’s event stream (declined attempt, paid attempt, a partial and a full refund), each read seeing Stripe as of its event, ends refunded in full with exactly Stripe’s refunds as Refund rows, one payment pair and one refund pair per refund on the ledger, stock taken once, one fulfillment and one confirmation; and any order and duplication of the stream (with stale reads and re-processing) ends in exactly that state.',
  async run(ctx) {
    const runs = ctx.quick ? 100 : 1_000;
    const rec = await recordStream();
    ctx.log(`recorded ${rec.events.length} events (${[...new Set(rec.events.map((e) => e.event.type))].join(', ')}) over ${rec.snapshots.length} steps`);
    const database = await openDatabase({ dataDir: 'memory://' });
    try {
      await applyMigrations(database.adapterFactory);
      const canonical = await replay(database.prisma, rec, 0, 'in_order');
      const violations: string[] = [];
      // Pinned to absolute values first: every replay is then compared with this one.
      violations.push(...pinned(canonical.state, rec));
      if (violations.length) ctx.log(`in-order replay: ${canonical.state.slice(0, 1500)}`);
      let deliveries = 0;
      let reprocessed = 0;
      const started = performance.now();
      for (let run = 1; run <= runs; run++) {
        const r = await replay(database.prisma, rec, run, 'chaos');
        deliveries += r.deliveries;
        reprocessed += r.reprocessed;
        if (r.state !== canonical.state && violations.length < 10) violations.push(`replay ${run} differs in ${diff(r.state, canonical.state)}`);
        if (run % Math.max(1, runs / 5) === 0) ctx.log(`${run}/${runs} replays`);
      }
      return {
        figures: {
          'events in the stream': rec.events.length,
          replays: runs,
          'deliveries (with duplicates)': deliveries,
          're-processed after a simulated crash': reprocessed,
          'differing final states': violations.filter((v) => v.startsWith('replay')).length,
          'ms per replay': ((performance.now() - started) / runs).toFixed(0),
        },
        violations,
      };
    } finally {
      await database.close();
    }
  },
};
