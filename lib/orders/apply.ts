// applyPayment / applyRefunds: the one idempotent way Stripe's view of a payment (translated
// into our own Payment and PaymentRefund by lib/stripe/payment.ts) becomes our order. The webhook worker, the return page, reconciliation and the admin all
// call it with whatever state they hold, in any order, any number of times, concurrently;
// the order row lock serialises them and SideEffect keys make each follow-up happen once.
import { assessRiskInTransaction, SIGNAL_WINDOW_MS, signalsSql, type SignalCounts } from '@/lib/risk/score';
import { randomUUID } from 'node:crypto';
import type { Prisma, PrismaClient } from '@/lib/generated/prisma/client';
import type { OrderStatus } from '@/lib/generated/prisma/enums';
import type { Payment, PaymentRefund } from '@/lib/stripe/payment';
import { sql, type Insertable, type QueryCreator, type RawBuilder } from 'kysely';
import { jsonArrayFrom, jsonObjectFrom } from 'kysely/helpers/postgres';
import { sqlDatabase, sqlOf, type Sql } from '@/lib/db/sql';
import type { DB, Db } from '@/lib/db/query';
import { statement } from '@/lib/db/statement';
import { invalidateCatalog } from '@/lib/catalog/catalog';
import { recordDecline } from '@/lib/security/throttle';
import { writeOutbox, type OutboxMessage } from './outbox';
import { planPaymentUpdate, planRefunds, type RefundsPlanInput } from './transition-plans';
import { ACCOUNTS, ledgerLines, type LedgerLine } from './ledger';
import { planPaid } from './paid-plan';
import { decideSucceededPayment, STRAY_REASON_TEXT, type StrayReason } from './payment-decision';
import { hasBeenPaid, isFinalPayment } from './state-machine';

export type ApplySource = 'webhook' | 'return_page' | 'reconcile' | 'admin';

export interface ApplyContext {
  source: ApplySource;
  stripeEventId?: string;
  actor?: string;
  /**
   * The shopper's order page is asking: when this call makes the order paid, the same
   * statement empties the cart it came from (once, as the page would) and returns the order as
   * the page shows it (`ApplyResult.view`), so the page need not read it again.
   */
  shopperView?: boolean;
}

/** The order as its shopper's page shows it: the row, its lines, its latest attempt. */
export interface ShopperOrderView {
  order: Prisma.OrderGetPayload<object> & { items: Prisma.OrderItemGetPayload<object>[] };
  lastAttempt: Pick<Prisma.PaymentAttemptGetPayload<object>, 'attemptNumber' | 'status' | 'failureMessage' | 'cardBrand' | 'cardLast4'> | null;
  /** This call emptied the cart (the page refreshes the cart badge). */
  cartJustCleared: boolean;
}

export interface ApplyResult {
  orderId: string | null;
  status: OrderStatus | null;
  changed: boolean;
  /** With `shopperView`, when this call made the order paid. */
  view?: ShopperOrderView;
}

type Tx = Prisma.TransactionClient;
type Json = Prisma.InputJsonValue;


/** What one application decided besides its rows: the outbox's messages, the catalog to refresh. */
interface Pending {
  /** Emails queued by this call: sent after commit (the outbox). */
  emailIds: string[];
  /** System refunds of stray payments reserved by this call: executed after commit (the outbox). */
  refundIds: string[];
  stockChanged: boolean;
  view?: ShopperOrderView;
  /** Wakes the workers of what the outbox was given, once the transaction committed. */
  committed?: () => void;
}

const TX_OPTIONS = { maxWait: 20_000, timeout: 20_000 } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function runAfterCommit(p: Pending): void {
  p.committed?.();
  if (p.stockChanged) invalidateCatalog();
}

/** What the transaction decided to do after it commits, for the outbox (outbox.ts). */
function outboxOf(p: Pending): OutboxMessage[] {
  return [
    ...p.emailIds.map((emailId) => ({ topic: 'email.queued' as const, emailId })),
    ...p.refundIds.map((refundId) => ({ topic: 'refund.reserved' as const, refundId })),
  ];
}

/** The key an attempt's PaymentIntent is created under: one PaymentIntent per attempt. */
export function idempotencyKeyFor(orderId: string, attempt: number): string {
  return `brisk:pi:${orderId}:${attempt}`;
}

/**
 * Locks the order's row for the rest of the transaction and reads it with its lines (null when
 * there is no such order): the one way a Prisma transaction takes an order (payments, refunds,
 * admin changes, the risk review).
 */
export async function findAndLockOrder(tx: Tx, orderId: string) {
  const locked = await sqlOf(tx).kysely.selectFrom('Order').select('id').where('id', '=', orderId).forUpdate().execute();
  if (locked.length === 0) return null;
  return tx.order.findUniqueOrThrow({ where: { id: orderId }, include: { items: true } });
}

export async function lockOrder(tx: Tx, orderId: string): Promise<NonNullable<Awaited<ReturnType<typeof findAndLockOrder>>>> {
  const order = await findAndLockOrder(tx, orderId);
  if (!order) throw new Error(`order ${orderId} not found`);
  return order;
}
type LockedOrder = Awaited<ReturnType<typeof lockOrder>>;
type AttemptRow = Pick<
  Prisma.PaymentAttemptGetPayload<object>,
  'id' | 'attemptNumber' | 'status' | 'cardBrand' | 'cardLast4' | 'riskLevel' | 'riskScore' | 'declineCode' | 'failureCode' | 'failureMessage' | 'clientIp' | 'amount' | 'currency'
> & { superseded: boolean };

type PaymentTarget = { paymentIntentId: string; metaId: string | null };
/** The order a PaymentIntent pays: its attempt's, else the order_id in its metadata. */
const paymentTarget = (db: Db, p: PaymentTarget) =>
  db.fn.coalesce(db.selectFrom('PaymentAttempt').select('PaymentAttempt.orderId').where('PaymentAttempt.paymentIntentId', '=', p.paymentIntentId), sql<string>`${p.metaId}::text`);
const lockPaymentTarget = statement((db, p: PaymentTarget) => db.selectFrom('Order').select('id').where('id', '=', paymentTarget(db, p)).forUpdate());
const readPaymentTarget = statement((db, p: PaymentTarget) =>
  db
    .selectFrom('Order as o')
    .selectAll('o')
    .select((eb) => [
      jsonArrayFrom(eb.selectFrom('OrderItem as i').selectAll('i').whereRef('i.orderId', '=', 'o.id').orderBy('i.id')).as('items'),
      jsonObjectFrom(
        eb
          .selectFrom('PaymentAttempt as a')
          .select((a) => [...ATTEMPT_COLUMNS, a('a.supersededAt', 'is not', null).$castTo<boolean>().as('superseded')])
          .where('a.paymentIntentId', '=', p.paymentIntentId)
          .whereRef('a.orderId', '=', 'o.id'),
      ).as('attempt'),
    ])
    .where('o.id', '=', paymentTarget(db, p)),
);

/**
 * Finds the PaymentIntent's order (its attempt row, else the order_id we put in its metadata),
 * locks it, then reads it with its lines and that attempt. The read must be a statement of its
 * own: under READ COMMITTED a statement that waited for the lock still reads other rows (the
 * attempt) as of its start, missing what the lock holder just committed. The two are pipelined
 * (one round trip). Where transactions run one at a time (PGlite) nobody else can hold the
 * lock: no lock statement.
 */
async function lockOrderForPaymentIntent(tx: Sql, pi: Payment, serial: boolean): Promise<{ order: LockedOrder; attempt: AttemptRow | null } | null> {
  const target = { paymentIntentId: pi.id, metaId: pi.orderId && UUID.test(pi.orderId) ? pi.orderId : null };
  // Started together, lock first: on PostgreSQL one round trip, the read running after the
  // lock is granted.
  const lock = serial ? null : lockPaymentTarget(tx, target);
  const read = readPaymentTarget(tx, target).then((r) => r.rows);
  const [, rows] = await Promise.all([lock, read]);
  const row = rows[0];
  if (!row) return null;
  const { attempt, ...order } = row;
  // Prisma's row type (the callers' currency): the same columns, json as Prisma types it.
  return { order: order as LockedOrder, attempt };
}

/** The attempt's columns applyPayment reads (AttemptRow, with `superseded`). */
const ATTEMPT_COLUMNS = [
  'a.id',
  'a.attemptNumber',
  'a.status',
  'a.cardBrand',
  'a.cardLast4',
  'a.riskLevel',
  'a.riskScore',
  'a.declineCode',
  'a.failureCode',
  'a.failureMessage',
  'a.clientIp',
  'a.amount',
  'a.currency',
] as const;

/** Inserts a side effect's key; true only for the one caller that inserted it. */
async function claim(tx: Sql, key: string, kind: string, orderId: string): Promise<boolean> {
  const rows = await tx.kysely
    .insertInto('SideEffect')
    .values({ key, kind, orderId, createdAt: new Date() })
    .onConflict((oc) => oc.column('key').doNothing())
    .returning('key')
    .execute();
  return rows.length === 1;
}

type TimelineEntry = { kind: string; fromStatus?: OrderStatus; toStatus?: OrderStatus; detail?: Json };

/** One timeline entry's row (the same columns whatever it holds: one statement text). */
function eventValues(orderId: string, ctx: ApplyContext, e: TimelineEntry, now: Date): Insertable<DB['OrderEvent']> {
  return {
    id: randomUUID(),
    orderId,
    kind: e.kind,
    fromStatus: e.fromStatus ?? null,
    toStatus: e.toStatus ?? null,
    source: ctx.source,
    stripeEventId: ctx.stripeEventId ?? null,
    actor: ctx.actor ?? null,
    detail: sql`${e.detail === undefined ? null : JSON.stringify(e.detail)}::jsonb`,
    createdAt: now,
  };
}

async function recordEvent(tx: Sql, orderId: string, ctx: ApplyContext, e: TimelineEntry): Promise<void> {
  await tx.kysely.insertInto('OrderEvent').values(eventValues(orderId, ctx, e, new Date())).execute();
}

/**
 * The status change and its timeline entry, in one statement: the one way an order's status
 * changes, whoever changes it (a payment, a refund, an admin). Entering canceled stamps
 * canceledAt.
 */
export async function moveOrder(tx: Sql, order: { id: string; status: OrderStatus }, to: OrderStatus, ctx: ApplyContext, detail?: Json): Promise<void> {
  const now = new Date();
  await tx.kysely
    .with('upd', (db) =>
      db
        .updateTable('Order')
        .set({
          status: to,
          updatedAt: now,
          canceledAt: sql`CASE WHEN ${to}::"OrderStatus" = 'canceled' THEN COALESCE("canceledAt", ${now}) ELSE "canceledAt" END`,
        })
        .where('id', '=', order.id),
    )
    .insertInto('OrderEvent')
    .values(eventValues(order.id, ctx, { kind: 'status_changed', fromStatus: order.status, toStatus: to, detail }, now))
    .execute();
  order.status = to;
}

/** Ledger lines as the rows of one INSERT … SELECT (a json parameter: one statement text for any number). */
function ledgerRows(orderId: string, linesJson: string, now: Date): RawBuilder<unknown> {
  return sql`SELECT x.id, x."txKey", ${orderId}, x.account, x.amount, x.currency, x.memo, ${now}::timestamp
    FROM jsonb_to_recordset(${linesJson}::jsonb) AS x(id text, "txKey" text, account text, amount int, currency text, memo text)`;
}

const LEDGER_COLUMNS = ['id', 'txKey', 'orderId', 'account', 'amount', 'currency', 'memo', 'createdAt'] as const;

/** Ledger lines as decided (each transaction balanced by ledgerLines), in one statement. */
async function insertLedger(tx: Sql, orderId: string, lines: LedgerLine[]): Promise<void> {
  await tx.kysely.insertInto('LedgerEntry').columns(LEDGER_COLUMNS).expression(ledgerRows(orderId, JSON.stringify(lines), new Date())).execute();
}


type AttemptFields = Pick<AttemptRow, 'status' | 'cardBrand' | 'cardLast4' | 'riskLevel' | 'riskScore' | 'declineCode' | 'failureCode' | 'failureMessage'>;
/** What the attempt row must become to match the PaymentIntent (`next` null: nothing). */
type AttemptChange = { attemptNumber: number | null; attempt: AttemptRow | null; next: AttemptFields | null };

function attemptChange(attempt: AttemptRow | null, pi: Payment): AttemptChange {
  if (!attempt) return { attemptNumber: pi.attempt, attempt, next: null };
  const charge = pi.charge;
  const card = charge?.card;
  const err = pi.lastError;
  // A stale snapshot must not undo a terminal status the attempt already reached.
  const status = isFinalPayment(attempt.status) ? attempt.status : pi.status;
  const next: AttemptFields = {
    status,
    cardBrand: card?.brand ?? attempt.cardBrand,
    cardLast4: card?.last4 ?? attempt.cardLast4,
    riskLevel: charge?.risk?.level ?? attempt.riskLevel,
    riskScore: charge?.risk?.score ?? attempt.riskScore,
    declineCode: status === 'succeeded' ? attempt.declineCode : (err?.declineCode ?? (err ? null : attempt.declineCode)),
    failureCode: status === 'succeeded' ? attempt.failureCode : (err?.code ?? (err ? null : attempt.failureCode)),
    failureMessage: status === 'succeeded' ? attempt.failureMessage : (err?.message ?? (err ? null : attempt.failureMessage)),
  };
  const changed = (Object.keys(next) as (keyof AttemptFields)[]).some((k) => next[k] !== attempt[k]);
  return { attemptNumber: attempt.attemptNumber, attempt, next: changed ? next : null };
}

/**
 * The attempt row's new fields, as a statement or a part of one (`WITH … AS (…)`). With `next`
 * null it matches no row; the statement's text is the same either way.
 */
function attemptUpdate(db: QueryCreator<DB>, id: string | null, next: AttemptFields | null, now: Date) {
  return db
    .updateTable('PaymentAttempt')
    .set({
      status: sql<string>`${next?.status ?? null}::text`,
      cardBrand: next?.cardBrand ?? null,
      cardLast4: next?.cardLast4 ?? null,
      riskLevel: next?.riskLevel ?? null,
      riskScore: next?.riskScore ?? null,
      declineCode: next?.declineCode ?? null,
      failureCode: next?.failureCode ?? null,
      failureMessage: next?.failureMessage ?? null,
      updatedAt: now,
    })
    .where('id', '=', sql<string>`${next ? id : null}::text`);
}

const updateAttemptRow = statement((db, p: AttemptFields & { id: string; now: Date }) => attemptUpdate(db, p.id, p, p.now));

/** Brings the attempt row up to the PaymentIntent; records a decline on the timeline once. */
async function updateAttempt(tx: Sql, order: { id: string; email: string; cartId: string | null }, change: AttemptChange, pi: Payment, ctx: ApplyContext): Promise<void> {
  const { attempt, next } = change;
  if (!attempt || !next) return;
  await updateAttemptRow(tx, { ...next, id: attempt.id, now: new Date() });
  const err = pi.lastError;
  const newlyFailed = next.status === 'requires_payment_method' && err && (attempt.status !== next.status || attempt.failureCode !== next.failureCode || attempt.declineCode !== next.declineCode);
  if (newlyFailed) {
    // Card-testing defence: each decline counts once, against the cart, email and address.
    await recordDecline(tx, { cartId: order.cartId, email: order.email, ip: attempt.clientIp });
    await recordEvent(tx, order.id, ctx, {
      kind: 'payment_failed',
      detail: { paymentIntentId: pi.id, attempt: attempt.attemptNumber, code: err.code, declineCode: err.declineCode, message: err.message },
    });
  }
}


type Shortfall = { productId: string; wanted: number; available: number };

/**
 * Claims the follow-ups' keys and takes the order's lines out of stock, all or nothing; with
 * `signals`, reads the risk signals too: one statement. Products are locked in id order (two
 * orders sharing products cannot deadlock). What another order holds (an active StockHold) is
 * not available; this order's own holds for the paying attempt are turned into taken stock.
 * When any line is short nothing is claimed or taken, and the shortfall is reported: the
 * payment is then refunded, never fulfilled without the goods.
 */
async function claimAndTakeStock(
  tx: Sql,
  order: LockedOrder,
  attemptNumber: number | null,
  effects: { key: string; kind: string }[],
  stockKey: string,
  signals: ReturnType<typeof signalsSql> | null,
  now: Date,
): Promise<{ claimed: Set<string>; short: Shortfall[]; signals: SignalCounts | null }> {
  const wanted = new Map<string, number>();
  for (const item of order.items) wanted.set(item.productId, (wanted.get(item.productId) ?? 0) + item.quantity);
  const want = JSON.stringify([...wanted].map(([id, qty]) => ({ id, qty })));
  const {
    rows: [row],
  } = await sql<{ claimed: string[]; avail: { id: string; available: number; wanted: number }[]; signals: SignalCounts | null }>`
    WITH want AS (SELECT * FROM jsonb_to_recordset(${want}::jsonb) AS w(id text, qty int)),
    locked AS MATERIALIZED (
      SELECT p.id, p.stock FROM "Product" p JOIN want USING (id)
      WHERE NOT EXISTS (SELECT 1 FROM "SideEffect" s WHERE s.key = ${stockKey})
      ORDER BY p.id FOR UPDATE OF p
    ),
    avail AS MATERIALIZED (
      SELECT l.id, w.qty AS wanted, l.stock - COALESCE((
        SELECT SUM(h.quantity) FROM "StockHold" h
        WHERE h."productId" = l.id AND h."orderId" <> ${order.id} AND h."releasedAt" IS NULL AND h."takenAt" IS NULL AND h."expiresAt" > ${now}
      ), 0)::int AS available
      FROM locked l JOIN want w USING (id)
    ),
    enough AS (SELECT (SELECT count(*) FROM avail WHERE available >= wanted) = (SELECT count(*) FROM want) AS ok),
    claimed AS (
      INSERT INTO "SideEffect" (key, kind, "orderId", "createdAt")
      SELECT x.key, x.kind, ${order.id}, ${now}::timestamp FROM jsonb_to_recordset(${JSON.stringify(effects)}::jsonb) AS x(key text, kind text)
      WHERE (SELECT ok FROM enough)
      ON CONFLICT (key) DO NOTHING
      RETURNING key
    ),
    taken AS (
      UPDATE "Product" p SET stock = p.stock - a.wanted, "updatedAt" = ${now}
      FROM avail a
      WHERE p.id = a.id AND EXISTS (SELECT 1 FROM claimed WHERE claimed.key = ${stockKey})
      RETURNING p.id
    ),
    held AS (
      UPDATE "StockHold" SET "takenAt" = ${now}
      WHERE "orderId" = ${order.id} AND "attemptNumber" = ${attemptNumber ?? -1}::int AND "releasedAt" IS NULL AND "takenAt" IS NULL
        AND EXISTS (SELECT 1 FROM claimed WHERE claimed.key = ${stockKey})
      RETURNING id
    )
    SELECT
      (SELECT COALESCE(json_agg(key), '[]'::json) FROM claimed) AS claimed,
      (SELECT COALESCE(json_agg(json_build_object('id', id, 'available', available, 'wanted', wanted)), '[]'::json) FROM avail) AS avail,
      ${signals ? sql`(SELECT row_to_json(s) FROM (${signals}) s)` : sql`NULL::json`} AS signals`.execute(tx.kysely);
  const claimed = new Set(row.claimed);
  const short: Shortfall[] = [];
  if (!claimed.has(stockKey)) {
    for (const r of row.avail) if (r.available < r.wanted) short.push({ productId: r.id, wanted: r.wanted, available: Math.max(0, r.available) });
    // A product that no longer exists is short by all of it.
    for (const [productId, qty] of wanted) if (!row.avail.some((r) => r.id === productId)) short.push({ productId, wanted: qty, available: 0 });
  }
  return { claimed, short, signals: row.signals };
}

/**
 * Entering `paid`, in one transaction: the status change, the risk score, and every follow-up
 * (stock, ledger, confirmation email, fulfillment) exactly once per order — each runs only in
 * the transaction that inserted its SideEffect key. Two statements: the keys, the stock and the
 * risk signals in one, everything else in the other. Returns the shortfall, without changing
 * anything, when the stock is not there to take.
 */
async function enterPaid(tx: Sql, order: LockedOrder, pi: Payment, ctx: ApplyContext, change: AttemptChange, pending: Pending): Promise<Shortfall[] | null> {
  const { attemptNumber, attempt, next } = change;
  const now = new Date();
  const charge = pi.charge;
  const effects = [
    { key: `stock:${order.id}`, kind: 'stock' },
    { key: `ledger:payment:${pi.id}`, kind: 'ledger' },
    { key: `email:order-confirmation:${order.id}`, kind: 'email' },
    { key: `fulfillment:${order.id}`, kind: 'fulfillment' },
  ];
  const clientIp = attempt?.clientIp ?? null;
  // Scored before anyone can ship it: a risky order's fulfillment starts on hold.
  const scoring = order.riskReasons === null;
  // The attempt row is brought up to date by the last statement; the signals count its card now.
  const paying = attempt && next ? { attemptId: attempt.id, cardBrand: next.cardBrand, cardLast4: next.cardLast4 } : undefined;
  const subject = { email: order.email, addressLine1: order.addressLine1, postalCode: order.postalCode, clientIp };
  const signals = scoring ? signalsSql(subject, new Date(now.getTime() - SIGNAL_WINDOW_MS), paying) : null;
  const taken = await claimAndTakeStock(tx, order, attemptNumber, effects, effects[0].key, signals, now);
  const { claimed, short } = taken;
  if (short.length > 0) return short;
  if (claimed.has(effects[0].key)) pending.stockChanged = true;
  const risk = scoring
    ? await assessRiskInTransaction(
        tx,
        {
          order,
          stripeRiskLevel: charge?.risk?.level ?? attempt?.riskLevel ?? null,
          stripeRiskScore: charge?.risk?.score ?? attempt?.riskScore ?? null,
          clientIp,
          now,
        },
        taken.signals ?? undefined,
      )
    : null;
  // Decided by a pure function (paid-plan.ts), applied here in one statement.
  const plan = planPaid({
    order,
    payment: { id: pi.id, amountReceived: pi.amountReceived, currency: pi.currency, risk: charge?.risk ?? null },
    attemptNumber,
    claimed: { ledger: claimed.has(effects[1].key), email: claimed.has(effects[2].key), fulfillment: claimed.has(effects[3].key) },
    risk,
    actor: { source: ctx.source, stripeEventId: ctx.stripeEventId ?? null, actor: ctx.actor ?? null },
  });
  const { events, ledger, emails, fulfillments } = plan;
  // The rest of entering `paid`, in one statement (enterPaidStatement).
  const view = ctx.shopperView === true;
  const { rows } = await (view ? enterPaidWithView : enterPaidWithoutView)(tx, {
    ...(next ?? NO_ATTEMPT_CHANGE),
    attemptId: next ? (attempt?.id ?? null) : null,
    orderId: order.id,
    cartId: order.cartId,
    now,
    amountPaid: plan.order.amountPaid,
    paymentIntentId: plan.order.paymentIntentId,
    orderRiskScore: plan.order.riskScore,
    orderRiskLevel: plan.order.riskLevel,
    orderRiskReasons: plan.order.riskReasons ? JSON.stringify(plan.order.riskReasons) : null,
    hold: plan.order.hold,
    events: JSON.stringify(events),
    ledger: JSON.stringify(ledger),
    emails: JSON.stringify(emails),
    fulfillments: JSON.stringify(fulfillments),
    fulfillmentId: randomUUID(),
  });
  if (view) {
    const { lastAttempt, cartJustCleared, ...row } = rows[0];
    pending.view = { order: row, lastAttempt, cartJustCleared };
  }
  order.status = 'paid';
  order.paymentIntentId = pi.id;
  pending.emailIds.push(...emails.map((e) => e.id));
  return null;
}

/** The attempt fields when the attempt row does not change (its update then matches no row). */
const NO_ATTEMPT_CHANGE = { status: null, cardBrand: null, cardLast4: null, riskLevel: null, riskScore: null, declineCode: null, failureCode: null, failureMessage: null } as unknown as AttemptFields;

type PaidParams = AttemptFields & {
  attemptId: string | null;
  orderId: string;
  cartId: string | null;
  now: Date;
  amountPaid: number;
  paymentIntentId: string;
  // The order's (AttemptFields holds the attempt's riskScore and riskLevel).
  orderRiskScore: number | null;
  orderRiskLevel: string | null;
  orderRiskReasons: string | null;
  hold: boolean;
  events: string;
  ledger: string;
  emails: string;
  fulfillments: string;
  fulfillmentId: string;
};

/**
 * The rest of entering `paid` in one statement: the attempt row, the order row, its timeline,
 * the ledger lines, the confirmation email and the fulfillment record (each list empty when its
 * key was claimed before). With `view` (the shopper's page) it also returns the order as shown.
 */
function enterPaidStatement(view: boolean) {
  return statement((db, p: PaidParams) => {
    const att = attemptUpdate(db, p.attemptId, p, p.now);
    const upd = db
      .updateTable('Order')
      .set({
        status: 'paid',
        amountPaid: p.amountPaid,
        paidAt: p.now,
        paymentIntentId: p.paymentIntentId,
        riskScore: sql`COALESCE(${p.orderRiskScore}::int, "riskScore")`,
        riskLevel: sql`COALESCE(${p.orderRiskLevel}::text, "riskLevel")`,
        riskReasons: sql`COALESCE(${p.orderRiskReasons}::jsonb, "riskReasons")`,
        reviewStatus: sql`CASE WHEN ${p.hold} THEN 'pending_review'::"ReviewStatus" ELSE "reviewStatus" END`,
        updatedAt: p.now,
      })
      .where('id', '=', p.orderId);
    const ev = db
      .insertInto('OrderEvent')
      .columns(['id', 'orderId', 'kind', 'fromStatus', 'toStatus', 'source', 'stripeEventId', 'actor', 'detail', 'createdAt'])
      .expression(
        sql`SELECT x.id, ${p.orderId}, x.kind, x."fromStatus"::"OrderStatus", x."toStatus"::"OrderStatus", x.source, x."stripeEventId", x.actor, x.detail, ${p.now}::timestamp
          FROM jsonb_to_recordset(${p.events}::jsonb)
            AS x(id text, kind text, "fromStatus" text, "toStatus" text, source text, "stripeEventId" text, actor text, detail jsonb)`,
      );
    const led = db.insertInto('LedgerEntry').columns(LEDGER_COLUMNS).expression(ledgerRows(p.orderId, p.ledger, p.now));
    const em = db
      .insertInto('Email')
      .columns(['id', 'dedupeKey', 'orderId', 'to', 'subject', 'text', 'kind', 'status', 'createdAt'])
      .expression(
        sql`SELECT x.id, x."dedupeKey", ${p.orderId}, x."to", x.subject, x.text, x.kind, 'queued', ${p.now}::timestamp
          FROM jsonb_to_recordset(${p.emails}::jsonb) AS x(id text, "dedupeKey" text, "to" text, subject text, text text, kind text)`,
      );
    const ful = db
      .insertInto('Fulfillment')
      .columns(['id', 'orderId', 'status', 'note', 'createdAt', 'updatedAt'])
      .expression(
        sql`SELECT ${p.fulfillmentId}::text, ${p.orderId}::text, x.status, x.note, ${p.now}::timestamp, ${p.now}::timestamp
          FROM jsonb_to_recordset(${p.fulfillments}::jsonb) AS x(status text, note text)`,
      )
      .onConflict((oc) => oc.column('orderId').doNothing());
    // Data-modifying parts of one WITH, each written with the builder; the WITH itself is raw, as
    // the shopper's view at its end reads the parts' RETURNING.
    return sql<ShopperOrderView['order'] & Omit<ShopperOrderView, 'order'>>`
      WITH att AS (${view ? att.returning(['id', 'status', 'failureMessage', 'cardBrand', 'cardLast4']) : att}),
      upd AS (${view ? upd.returningAll() : upd}),
      ev AS (${ev}), led AS (${led}), em AS (${em}), ful AS (${ful})${view ? shopperViewOfPaid(p.orderId, p.cartId, p.now) : sql`
      SELECT 1`}`;
  });
}
const enterPaidWithView = enterPaidStatement(true);
const enterPaidWithoutView = enterPaidStatement(false);

/**
 * Two parts of a statement's WITH, `cleared` and `emptied`: the cart a paid order came from is
 * emptied once, by the one statement that inserts its key (`cleared` then holds it: "the cart
 * was just cleared"). `paid` selects that order as (id, "cartId"), at most one row, or none
 * when its cart should stay.
 */
export function clearingCart(paid: RawBuilder<unknown>, now: Date): RawBuilder<unknown> {
  return sql`cleared AS (
      INSERT INTO "SideEffect" (key, "orderId", kind, "createdAt")
      SELECT 'cart-cleared:' || p.id, p.id, 'cart_cleared', ${now}::timestamp FROM (${paid}) p WHERE p."cartId" IS NOT NULL
      ON CONFLICT (key) DO NOTHING RETURNING key
    ), emptied AS (
      DELETE FROM "CartItem" WHERE "cartId" = (SELECT p."cartId" FROM (${paid}) p) AND EXISTS (SELECT 1 FROM cleared) RETURNING id
    )`;
}

/**
 * The end of entering paid for the shopper's page (`WITH att …, upd … RETURNING *` before it):
 * the cart emptied once (the key the page's own read uses), and the order as the page shows
 * it. The statement's other parts are not visible to its subqueries, so the new order row and
 * attempt come from their RETURNING, and the latest attempt is the one just updated or, when
 * that was an older attempt, the latest as it stood.
 */
function shopperViewOfPaid(orderId: string, cartId: string | null, now: Date): RawBuilder<unknown> {
  return sql`, ${clearingCart(sql`SELECT ${orderId}::text AS id, ${cartId}::text AS "cartId"`, now)}
    SELECT upd.*,
      COALESCE((SELECT json_agg(i ORDER BY i.id) FROM "OrderItem" i WHERE i."orderId" = upd.id), '[]'::json) AS items,
      (SELECT CASE WHEN att.id IS NOT NULL
                THEN json_build_object('attemptNumber', la."attemptNumber", 'status', att.status, 'failureMessage', att."failureMessage", 'cardBrand', att."cardBrand", 'cardLast4', att."cardLast4")
                ELSE json_build_object('attemptNumber', la."attemptNumber", 'status', la.status, 'failureMessage', la."failureMessage", 'cardBrand', la."cardBrand", 'cardLast4', la."cardLast4") END
       FROM (SELECT a.id, a."attemptNumber", a.status, a."failureMessage", a."cardBrand", a."cardLast4" FROM "PaymentAttempt" a
             WHERE a."orderId" = upd.id ORDER BY a."attemptNumber" DESC LIMIT 1) la
       LEFT JOIN att ON att.id = la.id) AS "lastAttempt",
      EXISTS (SELECT 1 FROM cleared) AS "cartJustCleared"
    FROM upd`;
}

/**
 * A succeeded PaymentIntent the order must not keep (payment-decision.ts): on the books as an
 * unexpected payment, on the timeline, and a system refund reserved under an idempotency key
 * derived from the PaymentIntent, executed after commit (or by the sweep). Once per
 * PaymentIntent, however often it is applied.
 */
async function recordStrayPayment(
  tx: Sql,
  order: LockedOrder,
  pi: Payment,
  ctx: ApplyContext,
  attemptNumber: number | null,
  reason: StrayReason,
  pending: Pending,
): Promise<void> {
  if (!(await claim(tx, `ledger:payment:${pi.id}`, 'ledger', order.id))) return;
  const now = new Date();
  const refundId = randomUUID();
  const amount = pi.amountReceived;
  const ledger = ledgerLines(`payment:${pi.id}`, pi.currency, `stray payment on order ${order.id}`, [
    [ACCOUNTS.stripeBalance, amount],
    [ACCOUNTS.unexpectedPayments, -amount],
  ]);
  await tx.kysely
    .with('led', (db) => db.insertInto('LedgerEntry').columns(LEDGER_COLUMNS).expression(ledgerRows(order.id, JSON.stringify(ledger), now)))
    .with('re', (db) =>
      db
        .insertInto('Refund')
        .columns(['id', 'orderId', 'refundNumber', 'idempotencyKey', 'amount', 'currency', 'status', 'reason', 'requestedBy', 'paymentIntentId', 'createdAt', 'updatedAt'])
        .expression(
          sql`SELECT ${refundId}, ${order.id}, COALESCE(MAX("refundNumber"), 0) + 1, ${strayRefundKey(pi.id)}, ${amount}, ${pi.currency}, 'reserved', 'duplicate', 'system', ${pi.id}, ${now}, ${now}
            FROM "Refund" WHERE "orderId" = ${order.id}`,
        )
        .onConflict((oc) => oc.column('idempotencyKey').doNothing()),
    )
    .insertInto('OrderEvent')
    .values(
      eventValues(
        order.id,
        ctx,
        {
          kind: reason === 'order_canceled' ? 'payment_after_cancel' : reason === 'already_paid' ? 'duplicate_payment' : 'stray_payment',
          detail: { paymentIntentId: pi.id, attempt: attemptNumber, amount, currency: pi.currency, reason, why: STRAY_REASON_TEXT[reason], paidBy: order.paymentIntentId, action: 'refund_automatically' },
        },
        now,
      ),
    )
    .execute();
  pending.refundIds.push(refundId);
}

/** The idempotency key of the automatic refund of a stray payment: one refund per PaymentIntent. */
export function strayRefundKey(paymentIntentId: string): string {
  return `brisk:refund:stray:${paymentIntentId}`;
}

async function applyLocked(tx: Sql, order: LockedOrder, attempt: AttemptRow | null, pi: Payment, ctx: ApplyContext, pending: Pending): Promise<boolean> {
  const before = order.status;
  const change = attemptChange(attempt, pi);
  const { attemptNumber } = change;
  if (pi.status === 'succeeded') {
    const decision = decideSucceededPayment(
      order,
      attempt ? { attemptNumber: attempt.attemptNumber, amount: attempt.amount, currency: attempt.currency, superseded: attempt.superseded } : null,
      { paymentIntentId: pi.id, amountReceived: pi.amountReceived, currency: pi.currency, metadataAttempt: pi.attempt },
    );
    if (decision.kind === 'pay') {
      // Entering paid writes the attempt in its own last statement (a success records no decline).
      const short = await enterPaid(tx, order, pi, ctx, change, pending);
      if (!short) return true;
      // Paid, but the goods are gone (the hold lapsed and someone else bought them): the
      // order cannot be fulfilled, so it is canceled and the money goes back.
      await updateAttempt(tx, order, change, pi, ctx);
      await recordEvent(tx, order.id, ctx, { kind: 'out_of_stock', detail: { paymentIntentId: pi.id, short } });
      await recordStrayPayment(tx, order, pi, ctx, attemptNumber, 'out_of_stock', pending);
      await releaseHolds(tx, order.id, new Date());
      await moveOrder(tx, order, 'canceled', ctx, { reason: 'out_of_stock', paymentIntentId: pi.id });
      return true;
    }
    await updateAttempt(tx, order, change, pi, ctx);
    if (decision.kind === 'stray') await recordStrayPayment(tx, order, pi, ctx, attemptNumber, decision.reason, pending);
    return false;
  }
  await updateAttempt(tx, order, change, pi, ctx);
  // Decided by a pure function (transition-plans.ts): current or not, stock back, the move.
  const plan = planPaymentUpdate({
    order,
    attempt: attempt ? { superseded: attempt.superseded } : null,
    attemptNumber,
    payment: { id: pi.id, status: pi.status, failed: Boolean(pi.lastError) },
  });
  if (plan.releaseHoldsOf !== null) await releaseHolds(tx, order.id, new Date(), plan.releaseHoldsOf);
  if (plan.move) await moveOrder(tx, order, plan.move.to, ctx, plan.move.detail);
  return order.status !== before;
}

/**
 * The PaymentIntent of the order's current attempt, never recorded by checkout (its answer was
 * lost: a timeout after Stripe acted, a crash): the attempt row is written from what the order
 * holds for that attempt (its lines and pricing are the order's while it is current) and the
 * PaymentIntent, so the payment is known by its attempt, with its card, wherever it is shown.
 * Checkout's own record of it, if its answer comes after all, then changes nothing.
 */
async function adoptCurrentAttempt(tx: Sql, order: LockedOrder, pi: Payment): Promise<AttemptRow | null> {
  const n = pi.attempt;
  if (n === null || n !== order.attemptCount || pi.orderId !== order.id) return null;
  const lines = order.items.map((i) => ({ productId: i.productId, name: i.name, unitPrice: i.unitPrice, quantity: i.quantity }));
  const now = new Date();
  // Written as created: applying the PaymentIntent next brings it to its status (a decline counted once).
  const rows = await tx.kysely
    .insertInto('PaymentAttempt')
    .values({
      id: randomUUID(),
      orderId: order.id,
      attemptNumber: n,
      paymentIntentId: pi.id,
      idempotencyKey: idempotencyKeyFor(order.id, n),
      amount: pi.amount,
      currency: pi.currency,
      status: 'requires_confirmation',
      pricingHash: order.pricingHash,
      lines: sql`${JSON.stringify(lines)}::jsonb`,
      clientSecret: pi.clientSecret,
      createdAt: now,
      updatedAt: now,
    })
    .onConflict((oc) => oc.doNothing())
    .returning([
      'id',
      'attemptNumber',
      'status',
      'cardBrand',
      'cardLast4',
      'riskLevel',
      'riskScore',
      'declineCode',
      'failureCode',
      'failureMessage',
      'clientIp',
      'amount',
      'currency',
      sql<boolean>`false`.as('superseded'),
    ])
    .execute();
  return rows[0] ?? null;
}

/** Gives back the stock an order holds (one attempt's, or all of them). */
export async function releaseHolds(tx: Sql, orderId: string, now: Date, attemptNumber?: number): Promise<void> {
  const n = attemptNumber ?? null;
  await tx.kysely
    .updateTable('StockHold')
    .set({ releasedAt: now })
    .where('orderId', '=', orderId)
    .where('releasedAt', 'is', null)
    .where('takenAt', 'is', null)
    // One statement text with or without an attempt.
    .where((eb) => eb.or([eb(sql<number | null>`${n}::int`, 'is', null), eb('attemptNumber', '=', sql<number>`${n}::int`)]))
    .execute();
}

/**
 * Applies a PaymentIntent's state to its order. Safe to call with stale, duplicated or
 * reordered snapshots: the order only moves forward, and follow-ups happen once.
 */
export async function applyPayment(prisma: PrismaClient, pi: Payment, ctx: ApplyContext): Promise<ApplyResult> {
  const pending: Pending = { emailIds: [], refundIds: [], stockChanged: false };
  const db = sqlDatabase(prisma);
  const result = await db.transaction(async (tx): Promise<ApplyResult> => {
    const locked = await lockOrderForPaymentIntent(tx, pi, db.serialTransactions);
    if (!locked) return { orderId: null, status: null, changed: false };
    const attempt = locked.attempt ?? (await adoptCurrentAttempt(tx, locked.order, pi));
    const changed = await applyLocked(tx, locked.order, attempt, pi, ctx, pending);
    pending.committed = await writeOutbox(db, tx, outboxOf(pending));
    return { orderId: locked.order.id, status: locked.order.status, changed };
  });
  runAfterCommit(pending);
  return pending.view ? { ...result, view: pending.view } : result;
}

export interface RefundsInput {
  /** The payment the refunds are against, ideally with its latest charge (Stripe's refunded total). */
  payment: Payment;
  /** Every refund Stripe has for it (a list, or what an event carried). */
  refunds: PaymentRefund[];
}

const REFUND_TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

/**
 * Applies Stripe's refunds of a PaymentIntent: Refund rows upserted by their re_ id, one
 * ledger transaction per refund that succeeded, amountRefunded from Stripe's numbers, and
 * paid → partially_refunded → refunded. The PaymentIntent is applied first, so a refund
 * event that overtakes the payment event still lands on a paid order.
 */
export async function applyRefunds(prisma: PrismaClient, input: RefundsInput, ctx: ApplyContext): Promise<ApplyResult> {
  const pi = input.payment;
  const first = await applyPayment(prisma, pi, ctx);
  if (!first.orderId) return first;
  const orderId = first.orderId;
  const refunds = input.refunds.filter((r) => r.paymentIntentId === pi.id);

  const result = await prisma.$transaction(async (tx) => {
    const order = await lockOrder(tx, orderId);
    const sql = sqlOf(tx);
    const before = order.status;
    // Refunds of a payment the order did not keep reverse that payment, not the sale, and are
    // recorded whatever the order's status (a stray payment on an order never paid).
    const ofSale = hasBeenPaid(order.status) && order.paymentIntentId === pi.id;
    if (!ofSale && !(await tx.sideEffect.findUnique({ where: { key: `ledger:payment:${pi.id}` }, select: { key: true } }))) {
      return { orderId, status: order.status, changed: first.changed };
    }

    // Each refund's status as recorded (a failed or canceled one stays so, whatever a stale
    // snapshot says): what the refunded total counts.
    const recorded: RefundsPlanInput['refunds'] = [];
    for (const re of refunds) {
      const status = re.status ?? 'pending';
      let row = await tx.refund.findUnique({ where: { stripeRefundId: re.id } });
      if (!row && re.ourRefundId && UUID.test(re.ourRefundId)) {
        // A refund we asked for ourselves, whose Stripe id has not been written back yet.
        const ours = await tx.refund.findFirst({ where: { id: re.ourRefundId, orderId, stripeRefundId: null } });
        if (ours) row = await tx.refund.update({ where: { id: ours.id }, data: { stripeRefundId: re.id } });
      }
      if (!row) {
        const last = await tx.refund.findFirst({ where: { orderId }, orderBy: { refundNumber: 'desc' }, select: { refundNumber: true } });
        row = await tx.refund.create({
          data: {
            orderId,
            refundNumber: (last?.refundNumber ?? 0) + 1,
            stripeRefundId: re.id,
            idempotencyKey: `stripe:${re.id}`,
            amount: re.amount,
            currency: re.currency,
            status,
            reason: re.reason ?? null,
            paymentIntentId: pi.id,
          },
        });
        await recordEvent(sql, orderId, ctx, { kind: 'refund_recorded', detail: { refundId: re.id, paymentIntentId: pi.id, amount: re.amount, status } });
      } else if (row.status !== status && !REFUND_TERMINAL.has(row.status)) {
        row = await tx.refund.update({ where: { id: row.id }, data: { status, amount: re.amount } });
        await recordEvent(sql, orderId, ctx, { kind: 'refund_updated', detail: { refundId: re.id, status } });
      }
      // Each refund's ledger transaction is claimed once; the plan writes only those claimed now.
      const ledgerClaimed = row.status === 'succeeded' && (await claim(sql, `ledger:refund:${re.id}`, 'ledger', orderId));
      recorded.push({ stripeRefundId: re.id, amount: re.amount, currency: re.currency, status: row.status, ledgerClaimed });
    }
    // Decided by a pure function (transition-plans.ts): the ledger, the refunded total, the move.
    const plan = planRefunds({
      order,
      payment: { id: pi.id, currency: pi.currency, chargeAmountRefunded: pi.charge?.amountRefunded ?? null },
      ofSale,
      refunds: recorded,
    });
    if (plan.ledger.length > 0) await insertLedger(sql, orderId, plan.ledger);
    // Applying the PaymentIntent may have moved the order (canceled for want of stock) even so.
    if (!ofSale) return { orderId, status: order.status, changed: first.changed };
    if (plan.amountRefunded !== order.amountRefunded) {
      await tx.order.update({ where: { id: orderId }, data: { amountRefunded: plan.amountRefunded } });
      order.amountRefunded = plan.amountRefunded;
    }
    if (plan.move) await moveOrder(sql, order, plan.move.to, ctx, plan.move.detail);
    return { orderId, status: order.status, changed: order.status !== before || first.changed };
  }, TX_OPTIONS);
  return result;
}
