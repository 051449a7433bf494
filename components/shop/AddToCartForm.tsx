'use client';

import Link from 'next/link';
import { useActionState } from 'react';
import { addToCartAction, type CartActionState } from '@/app/(shop)/actions';

export function AddToCartForm({ productId, max }: { productId: string; max: number }) {
  const [state, action, pending] = useActionState<CartActionState, FormData>(addToCartAction, { ok: false });
  return (
    <form action={action} className="mt-6 flex flex-wrap items-end gap-3">
      <input type="hidden" name="productId" value={productId} />
      <label className="flex flex-col text-sm font-medium">
        Quantity
        <input name="quantity" type="number" inputMode="numeric" min={1} max={max} defaultValue={1} required className="mt-1 w-24 rounded-md border border-stone-300 px-3 py-2" />
      </label>
      <button type="submit" disabled={pending} className="rounded-md bg-amber-700 px-5 py-2.5 font-semibold text-white hover:bg-amber-800 disabled:opacity-60">
        {pending ? 'Adding…' : 'Add to cart'}
      </button>
      <p role="status" aria-live="polite" className="w-full text-sm">
        {state.error ? (
          <span className="text-red-700" data-testid="cart-error">{state.error}</span>
        ) : state.ok ? (
          <span className="text-green-800">
            Added. <Link href="/cart" className="underline">View cart</Link>
          </span>
        ) : null}
      </p>
    </form>
  );
}
