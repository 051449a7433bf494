// Tests feed the order code Stripe-shaped objects (what the emulator and Stripe send): these
// pass them through the seam (lib/stripe/payment.ts) the way production callers do.
import type Stripe from 'stripe';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { applyPayment, applyRefunds, type ApplyContext, type ApplyResult } from '@/lib/orders/apply';
import { toPayment, toRefund } from '@/lib/stripe/payment';

export function applyPaymentIntent(prisma: PrismaClient, pi: Stripe.PaymentIntent, ctx: ApplyContext): Promise<ApplyResult> {
  return applyPayment(prisma, toPayment(pi), ctx);
}

export function applyChargeRefunds(
  prisma: PrismaClient,
  input: { paymentIntent: Stripe.PaymentIntent; refunds: Stripe.Refund[]; charge?: Stripe.Charge | null },
  ctx: ApplyContext,
): Promise<ApplyResult> {
  return applyRefunds(prisma, { payment: toPayment(input.paymentIntent, input.charge), refunds: input.refunds.map(toRefund) }, ctx);
}
