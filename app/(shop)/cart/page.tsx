import type { Metadata } from 'next';
import Image from 'next/image';
import Link from 'next/link';
import { CartLineControls } from '@/components/shop/CartLineControls';
import { getCart } from '@/lib/cart/cart';
import { readCartId } from '@/lib/cart/session';
import { prisma } from '@/lib/services';
import { formatMoney } from '@/lib/money';

export const metadata: Metadata = { title: 'Your cart' };

export default async function CartPage() {
  const cart = await getCart(await prisma(), await readCartId());
  if (cart.lines.length === 0) {
    return (
      <section className="text-center">
        <h1 className="text-3xl font-bold">Your cart is empty</h1>
        <p className="mt-2 text-stone-600">Find something you like in the shop.</p>
        <Link href="/" className="mt-6 inline-block rounded-md bg-amber-700 px-5 py-2.5 font-semibold text-white">Browse products</Link>
      </section>
    );
  }
  return (
    <section aria-labelledby="cart-heading">
      <h1 id="cart-heading" className="mb-6 text-3xl font-bold">Your cart</h1>
      <ul className="divide-y divide-stone-200 rounded-xl border border-stone-200 bg-white" data-testid="cart-lines">
        {cart.lines.map((line) => (
          <li key={line.productId} className="flex flex-wrap items-center gap-4 p-4" data-testid="cart-line">
            <Image src={line.image} alt="" width={80} height={80} className="rounded-md" unoptimized />
            <div className="min-w-40 flex-1">
              <Link href={`/products/${line.slug}`} className="font-semibold hover:underline">{line.name}</Link>
              <p className="text-sm text-stone-600">{formatMoney(line.unitPrice, line.currency)} each</p>
            </div>
            <CartLineControls productId={line.productId} name={line.name} quantity={line.quantity} max={Math.min(line.stock, 99)} />
            <p className="w-24 text-right font-semibold" data-testid="line-total">{formatMoney(line.lineTotal, line.currency)}</p>
          </li>
        ))}
      </ul>
      <div className="mt-6 flex flex-col items-end gap-3">
        <p className="text-xl">
          Subtotal: <strong data-testid="subtotal">{formatMoney(cart.subtotal, cart.currency)}</strong>
        </p>
        <Link href="/checkout" className="rounded-md bg-amber-700 px-6 py-3 font-semibold text-white hover:bg-amber-800">Checkout</Link>
      </div>
    </section>
  );
}
