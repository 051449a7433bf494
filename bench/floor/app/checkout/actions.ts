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
  /** The card's ConfirmationToken, made by Stripe.js in the browser. */
  confirmationToken: z.string().min(1).max(255),
});

export type FloorStartResult =
  | { kind: 'submitted'; paymentIntentId: string; status: string }
  | { kind: 'requires_action'; clientSecret: string; paymentIntentId: string }
  | { kind: 'declined' }
  | { kind: 'invalid' }
  | { kind: 'cart_empty' };

/** The least a checkout's Pay can do: validate, read the cart, create and confirm the PaymentIntent in one call. */
export async function floorStartPayment(raw: unknown): Promise<FloorStartResult> {
  const parsed = Input.safeParse(raw);
  if (!parsed.success) return { kind: 'invalid' };
  const cart = (await cookies()).get('floor_cart')?.value;
  if (!cart) return { kind: 'cart_empty' };
  try {
    const pi = await stripe.paymentIntents.create({
      amount: parsed.data.expectedAmount,
      currency: 'usd',
      receipt_email: parsed.data.email,
      metadata: { cart },
      automatic_payment_methods: { enabled: true },
      confirm: true,
      confirmation_token: parsed.data.confirmationToken,
    });
    if (pi.status === 'requires_action') return { kind: 'requires_action', clientSecret: pi.client_secret!, paymentIntentId: pi.id };
    return { kind: 'submitted', paymentIntentId: pi.id, status: pi.status };
  } catch {
    return { kind: 'declined' };
  }
}
