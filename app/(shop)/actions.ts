'use server';

import { revalidatePath } from 'next/cache';
import { addToCart, removeFromCart, setCartQuantity, type CartResult } from '@/lib/cart/cart';
import { readCartId, writeCartId } from '@/lib/cart/session';
import { prisma } from '@/lib/services';

export interface CartActionState {
  ok: boolean;
  error?: string;
  at?: number;
}

async function run(op: (cartId: string | null) => Promise<CartResult>): Promise<CartActionState> {
  const result = await op(await readCartId());
  if (!result.ok) return { ok: false, error: result.error, at: Date.now() };
  await writeCartId(result.cartId);
  revalidatePath('/', 'layout');
  return { ok: true, at: Date.now() };
}

export async function addToCartAction(_prev: CartActionState, form: FormData): Promise<CartActionState> {
  const db = await prisma();
  return run((cartId) => addToCart(db, cartId, { productId: form.get('productId'), quantity: form.get('quantity') }));
}

export async function setQuantityAction(_prev: CartActionState, form: FormData): Promise<CartActionState> {
  const db = await prisma();
  return run((cartId) => setCartQuantity(db, cartId, { productId: form.get('productId'), quantity: form.get('quantity') }));
}

export async function removeFromCartAction(_prev: CartActionState, form: FormData): Promise<CartActionState> {
  const db = await prisma();
  return run((cartId) => removeFromCart(db, cartId, { productId: form.get('productId') }));
}
