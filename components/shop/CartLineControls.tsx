'use client';

import { useActionState } from 'react';
import { removeFromCartAction, setQuantityAction, type CartActionState } from '@/app/(shop)/actions';

export function CartLineControls({ productId, name, quantity, max }: { productId: string; name: string; quantity: number; max: number }) {
  const [qState, setQty, qPending] = useActionState<CartActionState, FormData>(setQuantityAction, { ok: false });
  const [rState, remove, rPending] = useActionState<CartActionState, FormData>(removeFromCartAction, { ok: false });
  const error = qState.error ?? rState.error;
  return (
    <div className="flex flex-wrap items-end gap-2">
      <form action={setQty} className="flex items-end gap-2">
        <input type="hidden" name="productId" value={productId} />
        <label className="flex flex-col text-sm">
          <span className="sr-only">Quantity of {name}</span>
          <input
            name="quantity"
            type="number"
            min={0}
            max={max}
            defaultValue={quantity}
            key={quantity}
            aria-label={`Quantity of ${name}`}
            className="w-20 rounded-md border border-stone-300 px-2 py-1.5"
          />
        </label>
        <button type="submit" disabled={qPending} className="rounded-md border border-stone-300 px-3 py-1.5 text-sm hover:bg-stone-100">
          Update
        </button>
      </form>
      <form action={remove}>
        <input type="hidden" name="productId" value={productId} />
        <button type="submit" disabled={rPending} className="rounded-md px-3 py-1.5 text-sm text-red-700 underline" aria-label={`Remove ${name}`}>
          Remove
        </button>
      </form>
      {error && (
        <p role="alert" className="w-full text-sm text-red-700" data-testid="cart-error">
          {error}
        </p>
      )}
    </div>
  );
}
