'use server';
import { cookies } from 'next/headers';
import { z } from 'zod';
import { stripe } from '../stripe';

const Input = z.object({
  email: z.email(),
  name: z.string().min(1).max(200),
  addressLine1: z.string().min(1).max(200),
  city: z.string().min(1).max(100),
  postalCode: z.string().min(1).max(20),
  country: z.string().length(2),
  expectedAmount: z.number().int().positive(),
});

export type FloorStartResult = { kind: 'ready'; clientSecret: string; paymentIntentId: string } | { kind: 'invalid' } | { kind: 'cart_empty' };

/** The least a checkout's Pay can do: validate, read the cart, create the PaymentIntent. */
export async function floorStartPayment(raw: unknown): Promise<FloorStartResult> {
  const parsed = Input.safeParse(raw);
  if (!parsed.success) return { kind: 'invalid' };
  const cart = (await cookies()).get('floor_cart')?.value;
  if (!cart) return { kind: 'cart_empty' };
  const pi = await stripe.paymentIntents.create({
    amount: parsed.data.expectedAmount,
    currency: 'usd',
    receipt_email: parsed.data.email,
    metadata: { cart },
    automatic_payment_methods: { enabled: true },
  });
  return { kind: 'ready', clientSecret: pi.client_secret!, paymentIntentId: pi.id };
}
