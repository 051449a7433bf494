import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { AddressLines } from '@/components/PostalAddress';
import { OrderAutoRefresh } from '@/components/shop/OrderAutoRefresh';
import { loadOrderForShopper } from '@/lib/checkout/order-view';
import { prisma, stripeGateway } from '@/lib/services';
import { formatMoney } from '@/lib/money';

export const metadata: Metadata = { title: 'Your order', robots: { index: false } };

const LABELS: Record<string, { text: string; tone: string }> = {
  pending: { text: 'Awaiting payment', tone: 'bg-stone-100 text-stone-800' },
  processing: { text: 'Payment processing', tone: 'bg-sky-100 text-sky-900' },
  paid: { text: 'Paid', tone: 'bg-green-100 text-green-900' },
  partially_refunded: { text: 'Partially refunded', tone: 'bg-amber-100 text-amber-900' },
  refunded: { text: 'Refunded', tone: 'bg-amber-100 text-amber-900' },
  canceled: { text: 'Canceled', tone: 'bg-red-100 text-red-900' },
};

export default async function OrderPage({ params }: { params: Promise<{ token: string }> }) {
  const view = await loadOrderForShopper(await prisma(), stripeGateway(), (await params).token);
  if (!view) notFound();
  const { order, settled, stripeUnavailable, lastAttempt, cartJustCleared, detailsHidden } = view;
  const label = LABELS[order.status];
  const failed = order.status === 'pending' && lastAttempt?.failureMessage;
  return (
    <article className="mx-auto max-w-2xl">
      <OrderAutoRefresh settled={settled} cartJustCleared={cartJustCleared} />
      <h1 className="text-3xl font-bold">{order.status === 'paid' ? 'Thank you for your order!' : 'Your order'}</h1>
      <p className="mt-3">
        Status:{' '}
        <span className={`rounded-full px-3 py-1 font-semibold ${label.tone}`} data-testid="order-status">
          {label.text}
        </span>
      </p>
      {failed && (
        <p role="alert" className="mt-4 rounded-md bg-red-50 p-4 text-red-800">
          {lastAttempt.failureMessage} <Link href="/checkout" className="underline">Try another card</Link>
        </p>
      )}
      {!settled && !failed && <p className="mt-4 text-stone-600">{stripeUnavailable ? 'We are confirming your payment with our payment provider. This page updates by itself.' : 'This page updates by itself.'}</p>}
      {order.status === 'paid' && !detailsHidden && <p className="mt-4 text-stone-700">A confirmation has been sent to {order.email}. Keep this page&apos;s link to check on your order.</p>}
      {detailsHidden && (
        <p className="mt-4 text-stone-700" data-testid="order-details-hidden">
          For your privacy, this link no longer shows the order&apos;s items and address. Your confirmation email has the details.
        </p>
      )}
      {!detailsHidden && (<>
      <ul className="mt-6 divide-y divide-stone-200 rounded-xl border border-stone-200 bg-white">
        {order.items.map((i) => (
          <li key={i.id} className="flex justify-between p-4">
            <span>
              {i.name} × {i.quantity}
            </span>
            <span>{formatMoney(i.unitPrice * i.quantity, order.currency)}</span>
          </li>
        ))}
        <li className="flex justify-between p-4 font-semibold">
          <span>Total</span>
          <span data-testid="order-total">{formatMoney(order.total, order.currency)}</span>
        </li>
      </ul>
      {order.amountRefunded > 0 && <p className="mt-3 text-stone-700">Refunded: {formatMoney(order.amountRefunded, order.currency)}</p>}
      <section className="mt-6 text-sm text-stone-700">
        <h2 className="font-semibold">Shipping to</h2>
        <p>
          {order.name}
          <br />
          <AddressLines address={order} />
        </p>
      </section>
      </>)}
      <Link href="/" className="mt-8 inline-block text-amber-800 underline">Continue shopping</Link>
    </article>
  );
}
