// What the shopper's order page shows. It converges the order on the PaymentIntent's current
// state through the same function the webhook worker uses, so "Paid" never waits on a webhook.
// The page is on every shopper's path: one round trip to read it, one more only after it moved.
import type { Prisma, PrismaClient } from '@/lib/generated/prisma/client';
import { applyPayment, clearingCart } from '@/lib/orders/apply';
import { toPayment, type Payment } from '@/lib/stripe/payment';
import { sql } from 'kysely';
import { sqlDatabase } from '@/lib/db/sql';
import { statement } from '@/lib/db/statement';
import { isSettled } from '@/lib/orders/state-machine';
import { StripeUnavailableError, type StripeGateway } from '@/lib/stripe/gateway';
import { RecentResults } from '@/lib/recent-results';


export function isValidOrderToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{32}$/.test(token);
}

type OrderRow = Prisma.OrderGetPayload<object>;
type ItemRow = Prisma.OrderItemGetPayload<object>;
export type ShopperAttempt = Pick<Prisma.PaymentAttemptGetPayload<object>, 'attemptNumber' | 'status' | 'failureMessage' | 'cardBrand' | 'cardLast4'>;
export type ShopperOrder = OrderRow & { items: ItemRow[] };

// readOrder's statement, compiled once (lib/db/statement.ts): by token or id, and, when asked, the paid order's cart emptied.
const orderOf = statement(
  (_, p: { token: string | null; id: string | null; clearCart: boolean; now: Date }) =>
    sql<OrderRow & { items: ItemRow[]; lastAttempt: ShopperAttempt | null; cartJustCleared: boolean }>`
    WITH target AS (
      SELECT o.id, o."cartId", o.status FROM "Order" o
      WHERE (${p.token}::text IS NOT NULL AND o."publicToken" = ${p.token}::text) OR (${p.id}::text IS NOT NULL AND o.id = ${p.id}::text)
    ), ${clearingCart(sql`SELECT t.id, t."cartId" FROM target t WHERE ${p.clearCart}::boolean AND t.status = 'paid'`, p.now)}
    SELECT o.*,
      COALESCE((SELECT json_agg(i ORDER BY i.id) FROM "OrderItem" i WHERE i."orderId" = o.id), '[]'::json) AS items,
      (SELECT json_build_object('attemptNumber', a."attemptNumber", 'status', a.status, 'failureMessage', a."failureMessage",
              'cardBrand', a."cardBrand", 'cardLast4', a."cardLast4")
       FROM "PaymentAttempt" a WHERE a."orderId" = o.id ORDER BY a."attemptNumber" DESC LIMIT 1) AS "lastAttempt",
      EXISTS (SELECT 1 FROM cleared) AS "cartJustCleared"
    FROM "Order" o
    WHERE o.id = (SELECT id FROM target)`,
);

/**
 * The order by its token (or id), with its lines and latest attempt, in one statement. With
 * `clearCart`, the same statement empties the cart a paid order came from, once: the shopper's
 * cart is emptied the first time they see their order paid.
 */
async function readOrder(
  prisma: PrismaClient,
  where: { token: string } | { id: string },
  clearCart: boolean,
): Promise<{ order: ShopperOrder; lastAttempt: ShopperAttempt | null; cartJustCleared: boolean } | null> {
  const { rows } = await orderOf(sqlDatabase(prisma), {
    token: 'token' in where ? where.token : null,
    id: 'id' in where ? where.id : null,
    clearCart,
    now: new Date(),
  });
  const row = rows[0];
  if (!row) return null;
  const { lastAttempt, cartJustCleared, ...order } = row;
  return { order, lastAttempt, cartJustCleared };
}

// Order-page reads of one PaymentIntent share one Stripe call: one in flight, and its answer
// reused for a moment. A shopper (or a script) reloading an unpaid order page costs Stripe at
// most one retrieve per PaymentIntent per REUSE_MS per instance; webhooks keep the order itself
// fresh in between. Per process: each bundle copy of this module has its own map, which only
// weakens the bound by the number of copies (one per route that renders an order).
// 2 s, not 1: with 1 s a client reloading flat out cost a retrieve every ~1.02 s plus its
// PaymentIntent's creation, just over the 1 request/s a client may cost (bench/abuse.bench.ts);
// 2 s halves that and leaves room for a second instance. A shopper who just paid sees Paid from
// the webhook or the next read, at most 2 s later, and only if they loaded the page before paying.
export const REUSE_MS = 2_000;
const inflight = new RecentResults<string, Payment>(REUSE_MS);

export function coalescedRetrieve(gateway: Pick<StripeGateway, 'retrievePaymentIntent'>, id: string, now = Date.now()): Promise<Payment> {
  // A failed read is not reused: the next page load asks again.
  return inflight.share(id, async () => toPayment(await gateway.retrievePaymentIntent(id)), now);
}

/** How long an order link shows the shopper's name, address and lines after the order settled. */
export const ORDER_DETAILS_DAYS = 30;

/**
 * An order link never expires, but after its order settled (paid or canceled) and
 * ORDER_DETAILS_DAYS passed it shows only the status. Brisk records no delivery date; payment
 * (or cancellation) is the last date it knows, so the window starts there.
 */
export function orderDetailsExpired(order: { status: string; paidAt: Date | null; canceledAt: Date | null; updatedAt: Date }, now = new Date()): boolean {
  if (!isSettled(order.status)) return false;
  const settledAt = order.paidAt ?? order.canceledAt ?? order.updatedAt;
  return now.getTime() - settledAt.getTime() > ORDER_DETAILS_DAYS * 86_400_000;
}

export async function loadOrderForShopper(prisma: PrismaClient, gateway: StripeGateway, token: string) {
  if (!isValidOrderToken(token)) return null;
  let view = await readOrder(prisma, { token }, true);
  if (!view) return null;
  let cartJustCleared = view.cartJustCleared;
  let stripeUnavailable = false;
  // Our records already know how it ended when it settled, or when its latest attempt was
  // declined (checkout applied Stripe's answer; the shopper pays again from the checkout, which
  // makes a new attempt): no Stripe call then. Otherwise (3-D Secure under way, processing) the
  // page asks Stripe, once per moment.
  const last = view.lastAttempt;
  const declined = last !== null && last.status === 'requires_payment_method' && last.failureMessage !== null;
  if (!isSettled(view.order.status) && view.order.paymentIntentId && !declined) {
    try {
      const pi = await coalescedRetrieve(gateway, view.order.paymentIntentId);
      const applied = await applyPayment(prisma, pi, { source: 'return_page', shopperView: true });
      // Read again when the order moved, or the attempt did (a decline the page should show).
      if (applied.changed || (last && (last.status !== pi.status || (pi.lastError && last.failureMessage !== pi.lastError.message)))) {
        // Made paid just now: the same statement returned the order as shown here.
        view = applied.view ?? (await readOrder(prisma, { id: view.order.id }, true)) ?? view;
        cartJustCleared ||= view.cartJustCleared;
      }
    } catch (err) {
      if (!(err instanceof StripeUnavailableError)) throw err;
      stripeUnavailable = true;
    }
  }
  const { order, lastAttempt } = view;
  const detailsHidden = orderDetailsExpired(order);
  // Past its time, the link tells only where the order stands: no name, address or lines.
  const shown = detailsHidden ? { ...order, name: '', addressLine1: '', addressLine2: null, city: '', postalCode: '', email: '', items: [] } : order;
  return { order: shown, settled: isSettled(order.status), stripeUnavailable, lastAttempt, cartJustCleared, detailsHidden };
}
