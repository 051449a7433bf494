// What the shopper's order page shows. It converges the order on the PaymentIntent's current
// state through the same function the webhook worker uses, so "Paid" never waits on a webhook.
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { applyPaymentIntent } from '@/lib/orders/apply';
import { StripeUnavailableError, type StripeGateway } from '@/lib/stripe/gateway';

const SETTLED = new Set(['paid', 'partially_refunded', 'refunded', 'canceled']);

export function isValidOrderToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{32}$/.test(token);
}

export async function loadOrderForShopper(prisma: PrismaClient, gateway: StripeGateway, token: string) {
  if (!isValidOrderToken(token)) return null;
  const order = await prisma.order.findUnique({ where: { publicToken: token }, select: { id: true, status: true, paymentIntentId: true } });
  if (!order) return null;
  let stripeUnavailable = false;
  if (!SETTLED.has(order.status) && order.paymentIntentId) {
    try {
      await applyPaymentIntent(prisma, await gateway.retrievePaymentIntent(order.paymentIntentId), { source: 'return_page' });
    } catch (err) {
      if (!(err instanceof StripeUnavailableError)) throw err;
      stripeUnavailable = true;
    }
  }
  const full = await prisma.order.findUniqueOrThrow({
    where: { id: order.id },
    include: { items: true, attempts: { orderBy: { attemptNumber: 'desc' }, take: 1 } },
  });
  const cartJustCleared = full.status === 'paid' && full.cartId ? await clearPaidCart(prisma, full.id, full.cartId) : false;
  return { order: full, settled: SETTLED.has(full.status), stripeUnavailable, lastAttempt: full.attempts[0] ?? null, cartJustCleared };
}

/** Empties the cart a paid order came from, once; true when this call emptied it. */
async function clearPaidCart(prisma: PrismaClient, orderId: string, cartId: string): Promise<boolean> {
  try {
    await prisma.$transaction([
      prisma.sideEffect.create({ data: { key: `cart-cleared:${orderId}`, orderId, kind: 'cart_cleared' } }),
      prisma.cartItem.deleteMany({ where: { cartId } }),
    ]);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code !== 'P2002') throw err; // already cleared
    return false;
  }
}
