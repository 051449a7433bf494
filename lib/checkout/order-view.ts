// What the shopper's order page shows. It converges the order on the PaymentIntent's current
// state through the same function the webhook worker uses, so "Paid" never waits on a webhook.
// The page is on every shopper's path: one round trip to read it, one more only after it moved.
import type { Prisma, PrismaClient } from '@/lib/generated/prisma/client';
import { applyPaymentIntent } from '@/lib/orders/apply';
import { sqlDatabase } from '@/lib/db/sql';
import { StripeUnavailableError, type StripeGateway } from '@/lib/stripe/gateway';

const SETTLED = new Set(['paid', 'partially_refunded', 'refunded', 'canceled']);

export function isValidOrderToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{32}$/.test(token);
}

type OrderRow = Prisma.OrderGetPayload<object>;
type ItemRow = Prisma.OrderItemGetPayload<object>;
export type ShopperAttempt = Pick<Prisma.PaymentAttemptGetPayload<object>, 'attemptNumber' | 'status' | 'failureMessage' | 'cardBrand' | 'cardLast4'>;
export type ShopperOrder = OrderRow & { items: ItemRow[] };

/** The order by its token, with its lines and latest attempt, in one statement. */
async function readOrder(prisma: PrismaClient, where: { token: string } | { id: string }): Promise<{ order: ShopperOrder; lastAttempt: ShopperAttempt | null } | null> {
  const token = 'token' in where ? where.token : null;
  const id = 'id' in where ? where.id : null;
  const rows = await sqlDatabase(prisma).query<OrderRow & { items: ItemRow[]; lastAttempt: ShopperAttempt | null }>`
    SELECT o.*,
      COALESCE((SELECT json_agg(i ORDER BY i.id) FROM "OrderItem" i WHERE i."orderId" = o.id), '[]'::json) AS items,
      (SELECT json_build_object('attemptNumber', a."attemptNumber", 'status', a.status, 'failureMessage', a."failureMessage",
              'cardBrand', a."cardBrand", 'cardLast4', a."cardLast4")
       FROM "PaymentAttempt" a WHERE a."orderId" = o.id ORDER BY a."attemptNumber" DESC LIMIT 1) AS "lastAttempt"
    FROM "Order" o
    WHERE (${token}::text IS NOT NULL AND o."publicToken" = ${token}::text) OR (${id}::text IS NOT NULL AND o.id = ${id}::text)`;
  const row = rows[0];
  if (!row) return null;
  const { lastAttempt, ...order } = row;
  return { order, lastAttempt };
}

export async function loadOrderForShopper(prisma: PrismaClient, gateway: StripeGateway, token: string) {
  if (!isValidOrderToken(token)) return null;
  let view = await readOrder(prisma, { token });
  if (!view) return null;
  let stripeUnavailable = false;
  if (!SETTLED.has(view.order.status) && view.order.paymentIntentId) {
    try {
      const applied = await applyPaymentIntent(prisma, await gateway.retrievePaymentIntent(view.order.paymentIntentId), { source: 'return_page' });
      if (applied.changed) view = (await readOrder(prisma, { id: view.order.id })) ?? view;
    } catch (err) {
      if (!(err instanceof StripeUnavailableError)) throw err;
      stripeUnavailable = true;
    }
  }
  const { order, lastAttempt } = view;
  const cartJustCleared = order.status === 'paid' && order.cartId ? await clearPaidCart(prisma, order.id, order.cartId) : false;
  return { order, settled: SETTLED.has(order.status), stripeUnavailable, lastAttempt, cartJustCleared };
}

/** Empties the cart a paid order came from, once (one statement); true when this call emptied it. */
async function clearPaidCart(prisma: PrismaClient, orderId: string, cartId: string): Promise<boolean> {
  const [row] = await sqlDatabase(prisma).query<{ cleared: boolean }>`
    WITH claimed AS (
      INSERT INTO "SideEffect" (key, "orderId", kind, "createdAt") VALUES (${`cart-cleared:${orderId}`}, ${orderId}, 'cart_cleared', ${new Date()})
      ON CONFLICT (key) DO NOTHING RETURNING key
    ), emptied AS (
      DELETE FROM "CartItem" WHERE "cartId" = ${cartId} AND EXISTS (SELECT 1 FROM claimed) RETURNING id
    )
    SELECT EXISTS (SELECT 1 FROM claimed) AS cleared`;
  return row.cleared;
}
