// The checkout's reads and writes of the order aggregate: where a cart's checkout stands, the
// order it creates or re-prices for a new attempt, the stock held for that attempt, and the
// attempt with its PaymentIntent. lib/checkout/start-payment.ts decides (price, throttle, reuse
// or a new attempt, call Stripe); these statements are the only checkout code that writes
// Order, OrderItem, OrderEvent, StockHold and PaymentAttempt. Each is one statement, run in the
// caller's transaction.
import { randomBytes, randomUUID } from 'node:crypto';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { CART_COLUMNS, CART_LINE_ORDER, CART_WITH_LINES, cartFromRows, type CartRow, type PricedCart } from '@/lib/cart/cart';
import { sql } from 'kysely';
import { sqlDatabase, type Sql, type SqlDatabase } from '@/lib/db/sql';
import { statement } from '@/lib/db/statement';
import { writeOutbox } from './outbox';

/** How long a paid order of the same cart answers a resubmit with "already paid". */
export const ALREADY_PAID_WINDOW_MS = 10 * 60_000;

export type CheckoutLine = { productId: string; name: string; unitPrice: number; quantity: number };

/** Who pays and where it goes, as validated by the checkout form. */
export interface OrderDetails {
  email: string;
  name: string;
  addressLine1: string;
  addressLine2?: string | null;
  city: string;
  postalCode: string;
  country: string;
}

/** What the attempt records of the PaymentIntent Stripe answered with. */
export interface AttemptPaymentIntent {
  id: string;
  amount: number;
  currency: string;
  status: string;
  clientSecret: string | null;
}

/** The first line that cannot be held: its name and how many are left for this order. */
export interface StockShortage {
  name: string;
  left: number;
}

/**
 * Locks what a checkout of this cart changes, before it reads where the checkout stands (a
 * no-op where transactions run one at a time). One checkout per cart at a time: concurrent
 * clicks queue on the cart's row lock. The cart's open order is locked too: a payment being
 * applied to it (the webhook worker holds the order's lock) commits first, and this checkout
 * then sees it paid. Then the cart's products, in id order as a payment takes stock: the order
 * lines written later lock them for key share, and taken in any order those locks deadlocked
 * with a payment locking the same products for update. Started together with the read after
 * them, BEGIN, the locks and the read take one round trip on PostgreSQL.
 */
export function lockCheckout(tx: Sql, cartId: string, serial: boolean): Promise<unknown>[] {
  if (serial) return [];
  const p = { cartId };
  return [lockCart(tx, p), lockOpenOrder(tx, p), lockCartProducts(tx, p)];
}

const lockCart = statement((db, p: { cartId: string }) => db.selectFrom('Cart').select('id').where('id', '=', p.cartId).forUpdate());
const lockOpenOrder = statement((db, p: { cartId: string }) =>
  db.selectFrom('Order').select('id').where('cartId', '=', p.cartId).where('status', 'in', ['pending', 'processing']).forUpdate(),
);
const lockCartProducts = statement((db, p: { cartId: string }) =>
  db
    .selectFrom('Product as p')
    .select('p.id')
    .where('p.id', 'in', (eb) => eb.selectFrom('CartItem as i').select('i.productId').where('i.cartId', '=', p.cartId))
    .orderBy('p.id')
    .forUpdate(),
);

export interface CheckoutState {
  /** Orders of this cart paid in the last ten minutes, newest first. */
  paid: { publicToken: string; pricingHash: string }[];
  /** The cart's open order and its latest attempt. */
  open: {
    id: string;
    status: 'pending' | 'processing';
    publicToken: string;
    pricingHash: string;
    attemptCount: number;
    lastAttempt: { attemptNumber: number; paymentIntentId: string; status: string; failureCode: string | null; declineCode: string | null; clientSecret: string | null } | null;
  } | null;
}

/** The priced cart and where its checkout stands, in one statement. */
export async function cartAndCheckoutState(db: Sql, cartId: string): Promise<{ cart: PricedCart; state: CheckoutState }> {
  const { rows } = await checkoutStateOf(db, { cartId, recent: new Date(Date.now() - ALREADY_PAID_WINDOW_MS) });
  return { cart: cartFromRows(rows), state: { paid: rows[0]?.paid ?? [], open: rows[0]?.open ?? null } };
}

// The state once (MATERIALIZED), beside each of the cart's lines.
const checkoutStateOf = statement(
  (_, p: { cartId: string; recent: Date }) => sql<CartRow & { paid: CheckoutState['paid'] | null; open: CheckoutState['open'] }>`
    WITH st AS MATERIALIZED (
      SELECT
        (SELECT json_agg(json_build_object('publicToken', p."publicToken", 'pricingHash', p."pricingHash") ORDER BY p."createdAt" DESC)
          FROM "Order" p WHERE p."cartId" = ${p.cartId} AND p.status = 'paid' AND p."paidAt" > ${p.recent}) AS paid,
        (SELECT json_build_object('id', o.id, 'status', o.status, 'publicToken', o."publicToken", 'pricingHash', o."pricingHash",
                'attemptCount', o."attemptCount",
                'lastAttempt', (SELECT json_build_object('attemptNumber', a."attemptNumber", 'paymentIntentId', a."paymentIntentId",
                                       'status', a.status, 'failureCode', a."failureCode", 'declineCode', a."declineCode", 'clientSecret', a."clientSecret")
                                FROM "PaymentAttempt" a WHERE a."orderId" = o.id ORDER BY a."attemptNumber" DESC LIMIT 1))
          FROM "Order" o WHERE o."cartId" = ${p.cartId} AND o.status IN ('pending', 'processing')
          ORDER BY o."createdAt" DESC LIMIT 1) AS open
    )
    SELECT ${CART_COLUMNS}, st.paid, st.open
    FROM ${CART_WITH_LINES} CROSS JOIN st
    WHERE c.id = ${p.cartId}
    ORDER BY ${CART_LINE_ORDER}`,
);

const ITEM_COLUMNS = ['id', 'orderId', 'productId', 'name', 'unitPrice', 'quantity'] as const;

/** Order lines as the rows of an INSERT … SELECT (a json parameter: one statement text for any number; null: none). */
function itemRows(orderId: string, lines: string | null) {
  return sql`SELECT x.id, ${orderId}, x."productId", x.name, x."unitPrice", x.quantity
      FROM jsonb_to_recordset(COALESCE(${lines}::jsonb, '[]'::jsonb)) AS x(id text, "productId" text, name text, "unitPrice" int, quantity int)`;
}

type NewOrder = ReturnType<typeof detailColumns> & { id: string; publicToken: string; cartId: string; currency: string; subtotal: number; hash: string; now: Date; lines: string; eventId: string };
const insertOrder = statement((db, p: NewOrder) =>
  db
    .with('ord', (db) =>
      db.insertInto('Order').values({
        id: p.id,
        publicToken: p.publicToken,
        cartId: p.cartId,
        email: p.email,
        name: p.name,
        addressLine1: p.addressLine1,
        addressLine2: p.addressLine2,
        city: p.city,
        postalCode: p.postalCode,
        country: p.country,
        currency: p.currency,
        subtotal: p.subtotal,
        total: p.subtotal,
        pricingHash: p.hash,
        attemptCount: 1,
        createdAt: p.now,
        updatedAt: p.now,
      }),
    )
    .with('items', (db) => db.insertInto('OrderItem').columns(ITEM_COLUMNS).expression(itemRows(p.id, p.lines)))
    .insertInto('OrderEvent')
    .values({ id: p.eventId, orderId: p.id, kind: 'created', toStatus: 'pending', source: 'checkout', createdAt: p.now }),
);

/** The order, its lines and its first timeline entry, in one statement. */
export async function createOrder(
  tx: Sql,
  o: { cartId: string; details: OrderDetails; currency: string; subtotal: number; hash: string; lines: CheckoutLine[] },
): Promise<{ id: string; publicToken: string }> {
  const id = randomUUID();
  const publicToken = randomBytes(24).toString('base64url');
  const d = o.details;
  await insertOrder(tx, {
    id,
    publicToken,
    cartId: o.cartId,
    ...detailColumns(d),
    currency: o.currency,
    subtotal: o.subtotal,
    hash: o.hash,
    now: new Date(),
    lines: JSON.stringify(o.lines.map((l) => ({ id: randomUUID(), ...l }))),
    eventId: randomUUID(),
  });
  return { id, publicToken };
}

/** The order's columns for the shopper's details, as submitted. */
function detailColumns(d: OrderDetails) {
  return { email: d.email, name: d.name, addressLine1: d.addressLine1, addressLine2: d.addressLine2 ?? null, city: d.city, postalCode: d.postalCode, country: d.country };
}

/**
 * The next attempt on an open order, in one statement: the shopper's details as submitted now,
 * and, when the cart changed (`lines`), the new lines snapshotted and the new amount.
 */
export async function updateOrderForAttempt(
  db: SqlDatabase,
  tx: Sql,
  o: { orderId: string; details: OrderDetails; subtotal: number; hash: string; attempt: number; lines: CheckoutLine[] | null; superseded?: number | null },
): Promise<void> {
  const d = o.details;
  const lines = o.lines ? JSON.stringify(o.lines.map((l) => ({ id: randomUUID(), ...l }))) : null;
  const now = new Date();
  await tx.kysely
    .with('superseded', (db) =>
      db
        .updateTable('PaymentAttempt')
        .set({ supersededAt: now, updatedAt: now })
        .where('orderId', '=', o.orderId)
        .where('attemptNumber', '=', sql<number>`${o.superseded ?? null}::int`)
        .where('supersededAt', 'is', null),
    )
    .with('gone', (db) => db.deleteFrom('OrderItem').where('orderId', '=', o.orderId).where(sql<boolean>`${lines}::jsonb IS NOT NULL`))
    .with('items', (db) => db.insertInto('OrderItem').columns(ITEM_COLUMNS).expression(itemRows(o.orderId, lines)))
    .updateTable('Order')
    .set({
      ...detailColumns(d),
      subtotal: o.subtotal,
      total: o.subtotal,
      pricingHash: o.hash,
      attemptCount: o.attempt,
      updatedAt: now,
    })
    .where('id', '=', o.orderId)
    .execute();
  // The replaced attempt can no longer be paid: its PaymentIntent is canceled at Stripe after
  // commit (a success that beats the cancel is refunded as a stray payment). Not woken: the
  // cancel is not urgent, and the remedy worker's next poll finds it.
  if (o.superseded != null) await writeOutbox(db, tx, [{ topic: 'attempt.superseded', orderId: o.orderId, attemptNumber: o.superseded }]);
}

/**
 * Holds the lines' stock for this attempt until `until`: what other orders hold (active holds)
 * is not available. The order's other holds are released (the new attempt replaces them). When
 * any line is short nothing is written and the shortage is returned (the caller refuses).
 */
export async function holdStock(tx: Sql, orderId: string, attemptNumber: number, lines: CheckoutLine[], until: Date): Promise<StockShortage | null> {
  const wanted = new Map<string, { qty: number; name: string }>();
  for (const l of lines) wanted.set(l.productId, { qty: (wanted.get(l.productId)?.qty ?? 0) + l.quantity, name: l.name });
  const want = JSON.stringify([...wanted].map(([id, w]) => ({ id, qty: w.qty })));
  const now = new Date();
  const {
    rows: [row],
  } = await sql<{ ok: boolean; avail: { id: string; available: number; wanted: number }[] }>`
    WITH want AS (SELECT * FROM jsonb_to_recordset(${want}::jsonb) AS w(id text, qty int)),
    locked AS MATERIALIZED (SELECT p.id, p.stock FROM "Product" p JOIN want USING (id) ORDER BY p.id FOR UPDATE OF p),
    avail AS MATERIALIZED (
      SELECT l.id, w.qty AS wanted, l.stock - COALESCE((
        SELECT SUM(h.quantity) FROM "StockHold" h
        WHERE h."productId" = l.id AND h."orderId" <> ${orderId} AND h."releasedAt" IS NULL AND h."takenAt" IS NULL AND h."expiresAt" > ${now}
      ), 0)::int AS available
      FROM locked l JOIN want w USING (id)
    ),
    enough AS (SELECT (SELECT count(*) FROM avail WHERE available >= wanted) = (SELECT count(*) FROM want) AS ok),
    released AS (
      UPDATE "StockHold" SET "releasedAt" = ${now}
      WHERE "orderId" = ${orderId} AND "attemptNumber" <> ${attemptNumber} AND "releasedAt" IS NULL AND "takenAt" IS NULL AND (SELECT ok FROM enough)
    ),
    held AS (
      INSERT INTO "StockHold" (id, "orderId", "attemptNumber", "productId", quantity, "expiresAt", "createdAt")
      SELECT gen_random_uuid()::text, ${orderId}, ${attemptNumber}, a.id, a.wanted, ${until}, ${now} FROM avail a WHERE (SELECT ok FROM enough)
      ON CONFLICT ("orderId", "attemptNumber", "productId") DO UPDATE SET quantity = EXCLUDED.quantity, "expiresAt" = EXCLUDED."expiresAt", "releasedAt" = NULL
    )
    SELECT (SELECT ok FROM enough) AS ok, (SELECT COALESCE(json_agg(json_build_object('id', id, 'available', available, 'wanted', wanted)), '[]'::json) FROM avail) AS avail`.execute(tx.kysely);
  if (row.ok) return null;
  const short = row.avail.find((a) => a.available < a.wanted);
  const name = (short && wanted.get(short.id)?.name) ?? [...wanted.values()][0]?.name ?? 'An item';
  return { name, left: Math.max(0, short?.available ?? 0) };
}

/**
 * Stores the attempt, with the lines and amount it priced and its client secret (so the same
 * cart submitted again is answered without Stripe), and points the order at its
 * PaymentIntent, in one statement.
 */
export async function recordAttempt(
  prisma: PrismaClient,
  a: { orderId: string; attemptNumber: number; pi: AttemptPaymentIntent; idempotencyKey: string; clientIp?: string; pricingHash: string; lines: CheckoutLine[] },
): Promise<void> {
  const now = new Date();
  const { pi } = a;
  await insertAttempt(sqlDatabase(prisma), {
    id: randomUUID(),
    orderId: a.orderId,
    attemptNumber: a.attemptNumber,
    paymentIntentId: pi.id,
    idempotencyKey: a.idempotencyKey,
    amount: pi.amount,
    currency: pi.currency,
    status: pi.status,
    clientIp: a.clientIp ?? null,
    pricingHash: a.pricingHash,
    lines: JSON.stringify(a.lines),
    clientSecret: pi.clientSecret,
    now,
  });
}

type NewAttempt = {
  id: string;
  orderId: string;
  attemptNumber: number;
  paymentIntentId: string;
  idempotencyKey: string;
  amount: number;
  currency: string;
  status: string;
  clientIp: string | null;
  pricingHash: string;
  lines: string;
  clientSecret: string | null;
  now: Date;
};
const insertAttempt = statement((db, p: NewAttempt) =>
  db
    .with('attempt', (db) =>
      db
        .insertInto('PaymentAttempt')
        .values({
          id: p.id,
          orderId: p.orderId,
          attemptNumber: p.attemptNumber,
          paymentIntentId: p.paymentIntentId,
          idempotencyKey: p.idempotencyKey,
          amount: p.amount,
          currency: p.currency,
          status: p.status,
          clientIp: p.clientIp,
          pricingHash: p.pricingHash,
          lines: sql`${p.lines}::jsonb`,
          clientSecret: p.clientSecret,
          createdAt: p.now,
          updatedAt: p.now,
        })
        // Already there: this answer came after its payment was applied (which records the attempt).
        .onConflict((oc) => oc.doNothing()),
    )
    .updateTable('Order')
    .set({ paymentIntentId: p.paymentIntentId, updatedAt: p.now })
    .where('id', '=', p.orderId)
    .where('attemptCount', '=', p.attemptNumber),
);
