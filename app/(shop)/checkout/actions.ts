'use server';

import { headers } from 'next/headers';
import { readCartId } from '@/lib/cart/session';
import { startPayment, type StartPaymentResult } from '@/lib/checkout/start-payment';
import { prisma } from '@/lib/db/client';
import { stripeGateway } from '@/lib/stripe/gateway';

export async function startPaymentAction(input: unknown): Promise<StartPaymentResult> {
  const h = await headers();
  const clientIp = h.get('x-forwarded-for')?.split(',')[0]?.trim() || h.get('x-real-ip') || undefined;
  try {
    return await startPayment({ prisma: await prisma(), gateway: stripeGateway(), clientIp }, await readCartId(), input);
  } catch (err) {
    console.error('startPayment failed', err instanceof Error ? err.message : err);
    return { kind: 'error', message: 'Something went wrong on our side. Your cart is saved — please try again.' };
  }
}
