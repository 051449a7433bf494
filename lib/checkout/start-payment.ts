// startPayment: price the cart from the database, create or reuse the order, and create the
// PaymentIntent under an idempotency key derived from the order and its attempt number, so a
// double click, a resubmit or a retry after a timeout lands on the same PaymentIntent.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type Stripe from 'stripe';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { CART_COLUMNS, CART_LINE_ORDER, CART_WITH_LINES, cartFromRows, type CartRow, type PricedCart } from '@/lib/cart/cart';
import { formatMoney } from '@/lib/money';
import { logger } from '@/lib/observability/logger';
import { applyPaymentIntent } from '@/lib/orders/apply';
import { sqlDatabase, type Sql } from '@/lib/db/sql';
import { checkCooldown, consumeAttempt, type ThrottleDecision } from '@/lib/security/throttle';
import { StripeUnavailableError, type StripeGateway } from '@/lib/stripe/gateway';

// PostgreSQL refuses a NUL in text and nobody's address has control characters: say so plainly.
const PLAIN_TEXT = /^[^\u0000-\u001f\u007f]*$/;
const UNUSUAL = 'Please remove unusual characters.';

export const CheckoutDetails = z.object({
  email: z.string({ error: 'Enter a valid email address.' }).trim().toLowerCase().max(254).email('Enter a valid email address.'),
  name: z.string({ error: 'Enter your name.' }).trim().min(1, 'Enter your name.').max(120, 'Name is too long.').regex(PLAIN_TEXT, UNUSUAL),
  addressLine1: z.string({ error: 'Enter your street address.' }).trim().min(1, 'Enter your street address.').max(200, 'Address is too long.').regex(PLAIN_TEXT, UNUSUAL),
  addressLine2: z.string({ error: 'Enter a valid address.' }).trim().max(200, 'Address is too long.').regex(PLAIN_TEXT, UNUSUAL).optional().transform((v) => v || undefined),
  city: z.string({ error: 'Enter your city.' }).trim().min(1, 'Enter your city.').max(120, 'City is too long.').regex(PLAIN_TEXT, UNUSUAL),
  postalCode: z.string({ error: 'Enter your postal code.' }).trim().min(2, 'Enter your postal code.').max(16, 'Postal code is too long.').regex(/^[A-Za-z0-9 -]+$/, 'Enter a valid postal code.'),
  country: z.string({ error: 'Choose a country.' }).trim().toUpperCase().regex(/^[A-Z]{2}$/, 'Choose a country.'),
}, { error: 'Please check the form and try again.' });
export type CheckoutDetails = z.infer<typeof CheckoutDetails>;

export const StartPaymentInput = CheckoutDetails.extend({
  // What the shopper was shown; if the server's price differs, they are asked again.
  expectedAmount: z.coerce.number({ error: 'Please reload the page and try again.' }).int('Please reload the page and try again.').min(0, 'Please reload the page and try again.').max(100_000_000, 'Please reload the page and try again.'),
});

export type StartPaymentResult =
  | { kind: 'ready'; clientSecret: string; orderToken: string; paymentIntentId: string; amount: number; currency: string; attempt: number }
  | { kind: 'invalid'; fieldErrors: Record<string, string>; message: string }
  | { kind: 'cart_empty'; message: string }
  | { kind: 'out_of_stock'; message: string }
  | { kind: 'amount_changed'; amount: number; currency: string; message: string }
  | { kind: 'already_paid'; orderToken: string; message: string }
  | { kind: 'in_progress'; orderToken: string; message: string }
  | { kind: 'busy'; retryAfterSeconds: number; message: string }
  | { kind: 'throttled'; retryAfterSeconds: number; message: string }
  | { kind: 'error'; message: string };

export interface StartPaymentDeps {
  prisma: PrismaClient;
  gateway: StripeGateway;
  clientIp?: string;
}

export function pricingHash(cart: PricedCart): string {
  const canonical = JSON.stringify([cart.currency, cart.subtotal, cart.lines.map((l) => [l.productId, l.unitPrice, l.quantity])]);
  return createHash('sha256').update(canonical).digest('hex');
}

export function idempotencyKeyFor(orderId: string, attempt: number): string {
  return `brisk:pi:${orderId}:${attempt}`;
}

const ALREADY_PAID_WINDOW_MS = 10 * 60_000;
const FAILED_PI_STATUSES = new Set(['canceled']);

function attemptFailed(a: { status: string; failureCode: string | null; declineCode: string | null }): boolean {
  return FAILED_PI_STATUSES.has(a.status) || (a.status === 'requires_payment_method' && Boolean(a.failureCode || a.declineCode));
}

export async function startPayment(deps: StartPaymentDeps, cartId: string | null, raw: unknown): Promise<StartPaymentResult> {
  const parsed = StartPaymentInput.safeParse(raw);
  if (!parsed.success) {
    const fieldErrors: Record<string, string> = {};
    for (const issue of parsed.error.issues) fieldErrors[String(issue.path[0] ?? 'form')] ??= issue.message;
    return { kind: 'invalid', fieldErrors, message: 'Please check the highlighted fields.' };
  }
  const { expectedAmount, ...details } = parsed.data;
  const { prisma, gateway } = deps;
  if (!cartId) return { kind: 'cart_empty', message: 'Your cart is empty.' };

  try {
    const plan = await planAttempt(deps, cartId, expectedAmount, details);
    if (plan.kind === 'refused') return plan.result;
    if (plan.kind === 'already_paid') return { kind: 'already_paid', orderToken: plan.orderToken, message: 'This cart has already been paid.' };
    if (plan.kind === 'in_progress') return { kind: 'in_progress', orderToken: plan.orderToken, message: 'Your payment is being processed.' };
    if (plan.kind === 'throttled') return throttled(plan.gate);

    const idempotencyKey = idempotencyKeyFor(plan.orderId, plan.attempt);
    const pi = await gateway.createPaymentIntent(
      {
        amount: plan.amount,
        currency: plan.currency,
        automatic_payment_methods: { enabled: true },
        description: `Brisk order ${plan.orderId.slice(0, 8)}`,
        metadata: { order_id: plan.orderId, attempt: String(plan.attempt) },
      },
      { idempotencyKey },
    );
    await recordAttempt(prisma, plan.orderId, plan.attempt, pi, idempotencyKey, deps.clientIp);
    if (pi.status === 'succeeded') {
      await applyPaymentIntent(prisma, pi, { source: 'return_page' });
      return { kind: 'already_paid', orderToken: plan.token, message: 'This order has already been paid.' };
    }
    return { kind: 'ready', clientSecret: pi.client_secret!, orderToken: plan.token, paymentIntentId: pi.id, amount: plan.amount, currency: plan.currency, attempt: plan.attempt };
  } catch (err) {
    if (err instanceof StripeUnavailableError) return busy(err);
    throw err;
  }
}

/** Why this cart cannot be paid as it stands (priced from the database, never from input). */
function refuseCart(cart: PricedCart, expectedAmount: number): StartPaymentResult | null {
  if (!cart.id || cart.lines.length === 0) return { kind: 'cart_empty', message: 'Your cart is empty.' };
  const short = cart.lines.find((l) => l.quantity > l.stock);
  if (short) {
    return { kind: 'out_of_stock', message: short.stock === 0 ? `${short.name} just sold out. Please remove it from your cart.` : `Only ${short.stock} ${short.name} left. Please update your cart.` };
  }
  if (cart.subtotal !== expectedAmount) {
    return { kind: 'amount_changed', amount: cart.subtotal, currency: cart.currency, message: `Your cart changed: the total is now ${formatMoney(cart.subtotal, cart.currency)}. Press Pay again to continue.` };
  }
  return null;
}

type Plan =
  | { kind: 'refused'; result: StartPaymentResult }
  | { kind: 'already_paid'; orderToken: string }
  | { kind: 'in_progress'; orderToken: string }
  | { kind: 'throttled'; gate: Exclude<ThrottleDecision, { ok: true }> }
  | { kind: 'attempt'; orderId: string; token: string; attempt: number; amount: number; currency: string };

/**
 * Prices the cart and decides, under the cart's lock, whether this submit reuses the current
 * attempt or starts one.
 */
async function planAttempt(deps: StartPaymentDeps, cartId: string, expectedAmount: number, details: CheckoutDetails): Promise<Plan> {
  const { prisma } = deps;
  const db = sqlDatabase(prisma);
  for (let refreshed = false; ; refreshed = true) {
    const plan = await db.transaction(async (tx): Promise<Plan | { kind: 'refresh'; paymentIntentId: string }> => {
      // One checkout per cart at a time: concurrent clicks queue on the cart's row lock and see
      // the same attempt (where transactions run one at a time, they queue anyway). The cart
      // and its checkout state are read after the lock, in a statement of its own, so it sees
      // what the holder committed; started together, lock first, BEGIN and both take one round
      // trip on PostgreSQL.
      const lock = db.serialTransactions ? null : tx.query`SELECT id FROM "Cart" WHERE id = ${cartId} FOR UPDATE`;
      const [, { cart, state }] = await Promise.all([lock, cartAndCheckoutState(tx, cartId)]);
      const refusal = refuseCart(cart, expectedAmount);
      if (refusal) return { kind: 'refused', result: refusal };
      // Stripe is known to be down (breaker open): answer at once, before any order work.
      const unavailable = deps.gateway.unavailable();
      if (unavailable) return { kind: 'refused', result: busy(unavailable) };
      const hash = pricingHash(cart);
      // This cart's contents, paid in the last ten minutes: a resubmit must not charge again.
      const paid = state.paid.find((p) => p.pricingHash === hash);
      if (paid) return { kind: 'already_paid' as const, orderToken: paid.publicToken };
      const order = state.open;
      if (order?.status === 'processing') return { kind: 'in_progress' as const, orderToken: order.publicToken };
      // Learn how the current attempt ended before deciding whether to reuse it (the decline the
      // shopper just saw may not have reached us by webhook yet): outside the transaction, as
      // it asks Stripe, then decide again.
      const current = order?.lastAttempt;
      if (!refreshed && order && current && current.attemptNumber === order.attemptCount && !attemptFailed(current)) {
        return { kind: 'refresh' as const, paymentIntentId: current.paymentIntentId };
      }
      const lines = cart.lines.map((l) => ({ productId: l.productId, name: l.name, unitPrice: l.unitPrice, quantity: l.quantity }));
      // Card-testing defence: a new attempt counts against the cart, the email and the client
      // address; reusing the current attempt (a double click, a retry) only respects a cool-down.
      const subject = { cartId: cart.id, email: details.email, ip: deps.clientIp };
      if (!order) {
        const gate = await consumeAttempt(tx, subject);
        if (!gate.ok) return { kind: 'throttled' as const, gate };
        const created = await createOrder(tx, { cartId, details, currency: cart.currency, subtotal: cart.subtotal, hash, lines });
        return { kind: 'attempt' as const, orderId: created.id, token: created.publicToken, attempt: 1, amount: cart.subtotal, currency: cart.currency };
      }
      let attempt = order.attemptCount;
      const last = order.lastAttempt;
      const repriced = order.pricingHash !== hash;
      if (repriced || (last && last.attemptNumber === attempt && attemptFailed(last))) attempt += 1;
      const gate = attempt !== order.attemptCount ? await consumeAttempt(tx, subject) : await checkCooldown(tx, subject);
      if (!gate.ok) return { kind: 'throttled' as const, gate };
      await updateOrderForAttempt(tx, { orderId: order.id, details, subtotal: cart.subtotal, hash, attempt, lines: repriced ? lines : null });
      return { kind: 'attempt' as const, orderId: order.id, token: order.publicToken, attempt, amount: cart.subtotal, currency: cart.currency };
    });
    if (plan.kind !== 'refresh') return plan;
    await applyPaymentIntent(prisma, await deps.gateway.retrievePaymentIntent(plan.paymentIntentId), { source: 'return_page' });
  }
}

type Line = { productId: string; name: string; unitPrice: number; quantity: number };

/**
 * The next attempt on an open order, in one statement: the shopper's details as submitted now,
 * and, when the cart changed (`lines`), the new lines snapshotted and the new amount.
 */
async function updateOrderForAttempt(tx: Sql, o: { orderId: string; details: CheckoutDetails; subtotal: number; hash: string; attempt: number; lines: Line[] | null }): Promise<void> {
  const d = o.details;
  const lines = o.lines ? JSON.stringify(o.lines.map((l) => ({ id: randomUUID(), ...l }))) : null;
  await tx.execute`
    WITH gone AS (
      DELETE FROM "OrderItem" WHERE "orderId" = ${o.orderId} AND ${lines}::jsonb IS NOT NULL
    ), items AS (
      INSERT INTO "OrderItem" (id, "orderId", "productId", name, "unitPrice", quantity)
      SELECT x.id, ${o.orderId}, x."productId", x.name, x."unitPrice", x.quantity
      FROM jsonb_to_recordset(COALESCE(${lines}::jsonb, '[]'::jsonb)) AS x(id text, "productId" text, name text, "unitPrice" int, quantity int)
    )
    UPDATE "Order" SET email = ${d.email}, name = ${d.name}, "addressLine1" = ${d.addressLine1}, "addressLine2" = ${d.addressLine2 ?? null}::text,
      city = ${d.city}, "postalCode" = ${d.postalCode}, country = ${d.country}, subtotal = ${o.subtotal}, total = ${o.subtotal},
      "pricingHash" = ${o.hash}, "attemptCount" = ${o.attempt}, "updatedAt" = ${new Date()}
    WHERE id = ${o.orderId}`;
}

/** The order, its lines and its first timeline entry, in one statement. */
async function createOrder(
  tx: Sql,
  o: { cartId: string; details: CheckoutDetails; currency: string; subtotal: number; hash: string; lines: Line[] },
): Promise<{ id: string; publicToken: string }> {
  const id = randomUUID();
  const publicToken = randomBytes(24).toString('base64url');
  const now = new Date();
  const d = o.details;
  const lines = JSON.stringify(o.lines.map((l) => ({ id: randomUUID(), ...l })));
  await tx.execute`
    WITH ord AS (
      INSERT INTO "Order" (id, "publicToken", "cartId", email, name, "addressLine1", "addressLine2", city, "postalCode", country,
                           currency, subtotal, total, "pricingHash", "attemptCount", "createdAt", "updatedAt")
      VALUES (${id}, ${publicToken}, ${o.cartId}, ${d.email}, ${d.name}, ${d.addressLine1}, ${d.addressLine2 ?? null}::text, ${d.city}, ${d.postalCode}, ${d.country},
              ${o.currency}, ${o.subtotal}, ${o.subtotal}, ${o.hash}, 1, ${now}, ${now})
    ), items AS (
      INSERT INTO "OrderItem" (id, "orderId", "productId", name, "unitPrice", quantity)
      SELECT x.id, ${id}, x."productId", x.name, x."unitPrice", x.quantity
      FROM jsonb_to_recordset(${lines}::jsonb) AS x(id text, "productId" text, name text, "unitPrice" int, quantity int)
    )
    INSERT INTO "OrderEvent" (id, "orderId", kind, "toStatus", source, "createdAt") VALUES (${randomUUID()}, ${id}, 'created', 'pending', 'checkout', ${now})`;
  return { id, publicToken };
}

function throttled(gate: Exclude<ThrottleDecision, { ok: true }>): StartPaymentResult {
  logger().warn({ scope: gate.scope, reason: gate.reason, retryAfterSeconds: gate.retryAfterSeconds }, 'checkout throttled (card-testing defence)');
  const minutes = Math.ceil(gate.retryAfterSeconds / 60);
  const wait = gate.retryAfterSeconds < 90 ? 'a minute' : `${minutes} minutes`;
  return {
    kind: 'throttled',
    retryAfterSeconds: gate.retryAfterSeconds,
    message: `For your security, we have paused payments from this checkout after several unsuccessful attempts. Your cart is saved — please try again in ${wait}, or contact us if you need help.`,
  };
}

function busy(err: StripeUnavailableError): StartPaymentResult {
  return { kind: 'busy', retryAfterSeconds: Math.max(1, Math.ceil(err.retryAfterMs / 1000)), message: 'Payments are busy right now. Your cart is saved — please try again in a moment.' };
}

/** Stores the attempt and points the order at its PaymentIntent, in one statement. */
async function recordAttempt(prisma: PrismaClient, orderId: string, attemptNumber: number, pi: Stripe.PaymentIntent, idempotencyKey: string, clientIp?: string): Promise<void> {
  const now = new Date();
  await sqlDatabase(prisma).execute`
    WITH attempt AS (
      INSERT INTO "PaymentAttempt" (id, "orderId", "attemptNumber", "paymentIntentId", "idempotencyKey", amount, currency, status, "clientIp", "createdAt", "updatedAt")
      VALUES (${randomUUID()}, ${orderId}, ${attemptNumber}, ${pi.id}, ${idempotencyKey}, ${pi.amount}, ${pi.currency}, ${pi.status}, ${clientIp ?? null}::text, ${now}, ${now})
      ON CONFLICT ("orderId", "attemptNumber") DO NOTHING
    )
    UPDATE "Order" SET "paymentIntentId" = ${pi.id}, "updatedAt" = ${now} WHERE id = ${orderId} AND "attemptCount" = ${attemptNumber}`;
}

interface CheckoutState {
  /** Orders of this cart paid in the last ten minutes, newest first. */
  paid: { publicToken: string; pricingHash: string }[];
  /** The cart's open order and its latest attempt. */
  open: {
    id: string;
    status: 'pending' | 'processing';
    publicToken: string;
    pricingHash: string;
    attemptCount: number;
    lastAttempt: { attemptNumber: number; paymentIntentId: string; status: string; failureCode: string | null; declineCode: string | null } | null;
  } | null;
}

/** The priced cart and where its checkout stands, in one statement. */
async function cartAndCheckoutState(db: Sql, cartId: string): Promise<{ cart: PricedCart; state: CheckoutState }> {
  const recent = new Date(Date.now() - ALREADY_PAID_WINDOW_MS);
  // The state once (MATERIALIZED), beside each of the cart's lines.
  const rows = await db.query<CartRow & { paid: CheckoutState['paid'] | null; open: CheckoutState['open'] }>`
    WITH st AS MATERIALIZED (
      SELECT
        (SELECT json_agg(json_build_object('publicToken', p."publicToken", 'pricingHash', p."pricingHash") ORDER BY p."createdAt" DESC)
          FROM "Order" p WHERE p."cartId" = ${cartId} AND p.status = 'paid' AND p."paidAt" > ${recent}) AS paid,
        (SELECT json_build_object('id', o.id, 'status', o.status, 'publicToken', o."publicToken", 'pricingHash', o."pricingHash",
                'attemptCount', o."attemptCount",
                'lastAttempt', (SELECT json_build_object('attemptNumber', a."attemptNumber", 'paymentIntentId', a."paymentIntentId",
                                       'status', a.status, 'failureCode', a."failureCode", 'declineCode', a."declineCode")
                                FROM "PaymentAttempt" a WHERE a."orderId" = o.id ORDER BY a."attemptNumber" DESC LIMIT 1))
          FROM "Order" o WHERE o."cartId" = ${cartId} AND o.status IN ('pending', 'processing')
          ORDER BY o."createdAt" DESC LIMIT 1) AS open
    )
    SELECT ${CART_COLUMNS}, st.paid, st.open
    FROM ${CART_WITH_LINES} CROSS JOIN st
    WHERE c.id = ${cartId}
    ORDER BY ${CART_LINE_ORDER}`;
  return { cart: cartFromRows(rows), state: { paid: rows[0]?.paid ?? [], open: rows[0]?.open ?? null } };
}
