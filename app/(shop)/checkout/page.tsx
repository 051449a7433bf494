import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { CheckoutForm } from '@/components/shop/CheckoutForm';
import { getCart } from '@/lib/cart/cart';
import { browserStripeSettings } from '@/lib/config';
import { readCartId } from '@/lib/cart/session';
import { prisma } from '@/lib/services';
import { formatMoney } from '@/lib/money';

export const metadata: Metadata = { title: 'Checkout' };
// Rendered per request: the Stripe key and Stripe.js URL come from the running server's settings.
export const dynamic = 'force-dynamic';

export default async function CheckoutPage() {
  const cart = await getCart(await prisma(), await readCartId());
  if (cart.lines.length === 0) redirect('/cart');
  const { publishableKey, stripeJsUrl } = browserStripeSettings();
  return (
    <div className="grid gap-8 lg:grid-cols-[1fr_22rem]">
      <section aria-labelledby="checkout-heading">
        <h1 id="checkout-heading" className="mb-6 text-3xl font-bold">Checkout</h1>
        {publishableKey ? (
          <CheckoutForm amount={cart.subtotal} currency={cart.currency} publishableKey={publishableKey} stripeJsUrl={stripeJsUrl} />
        ) : (
          <p role="alert" className="rounded-md bg-amber-50 p-4 text-amber-900">Payments are not configured on this server.</p>
        )}
      </section>
      <aside aria-labelledby="summary-heading" className="h-fit rounded-xl border border-stone-200 bg-white p-5">
        <h2 id="summary-heading" className="mb-3 text-lg font-semibold">Order summary</h2>
        <ul className="space-y-2 text-sm" data-testid="summary-lines">
          {cart.lines.map((l) => (
            <li key={l.productId} className="flex justify-between gap-2">
              <span>
                {l.name} × {l.quantity}
              </span>
              <span>{formatMoney(l.lineTotal, l.currency)}</span>
            </li>
          ))}
        </ul>
        <p className="mt-4 flex justify-between border-t border-stone-200 pt-3 text-lg font-semibold">
          <span>Total</span>
          <span data-testid="checkout-total">{formatMoney(cart.subtotal, cart.currency)}</span>
        </p>
      </aside>
    </div>
  );
}
