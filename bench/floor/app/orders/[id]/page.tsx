import { notFound } from 'next/navigation';
import { z } from 'zod';
import { stripe } from '../../stripe';

export const dynamic = 'force-dynamic';

/** The least an order page can do: retrieve the PaymentIntent and say whether it is paid. */
export default async function OrderPage({ params }: { params: Promise<{ id: string }> }) {
  const id = z.string().regex(/^pi_[A-Za-z0-9]+$/).safeParse((await params).id);
  if (!id.success) notFound();
  const pi = await stripe.paymentIntents.retrieve(id.data);
  return (
    <main>
      <h1>Order</h1>
      <p data-testid="order-status">{pi.status === 'succeeded' ? 'Paid' : 'Awaiting payment'}</p>
    </main>
  );
}
