import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { OrderActions, OrderEmailsAndLedger, OrderLinesAndCustomer, OrderRefunds, OrderRisk, OrderTimeline, PaymentAttempts } from '@/components/admin/OrderDetail';
import { Money, Notice, StatusBadge } from '@/components/admin/ui';
import { parseMajorAmount } from '@/lib/admin/orders-query';
import { requireAdmin } from '@/lib/admin/session';
import { loadOrderDetail, orderTimeline } from '@/lib/admin/views';
import { prisma } from '@/lib/services';
import { formatMoney } from '@/lib/money';
import { canTransition } from '@/lib/orders/state-machine';

export const metadata: Metadata = { title: 'Order' };

export default async function OrderDetailPage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  await requireAdmin();
  const { id } = await params;
  const sp = await searchParams;
  const detail = await loadOrderDetail(await prisma(), id);
  if (!detail) notFound();
  const { order, plan } = detail;
  const cur = order.currency;
  const str = (k: string) => (typeof sp[k] === 'string' ? (sp[k] as string) : undefined);

  const refundInput = str('refund');
  const refundAmount = refundInput !== undefined ? parseMajorAmount(refundInput) : null;
  const refundError =
    refundInput === undefined ? null : refundAmount === null || refundAmount <= 0 ? 'Enter an amount like 12.50.' : refundAmount > plan.refundable ? `At most ${formatMoney(plan.refundable, cur)} can be refunded.` : null;
  const confirmingCancel = str('confirm') === 'cancel';
  const cancelable = canTransition(order.status, 'canceled');

  return (
    <>
      <p className="text-sm">
        <Link href="/admin/orders" className="text-amber-800 underline">
          ← Orders
        </Link>
      </p>
      <div className="mt-2 flex flex-wrap items-center gap-3">
        <h1 className="text-2xl font-bold">
          Order <span className="font-mono">{order.id.slice(0, 8)}</span>
        </h1>
        <StatusBadge status={order.status} testId="admin-order-status" />
        {order.reviewStatus !== 'none' && <span className="text-sm font-semibold text-red-800">Review: {order.reviewStatus.replace('_', ' ')}</span>}
      </div>
      <p className="mt-1 font-mono text-xs text-stone-500" data-testid="admin-order-id">{order.id}</p>
      <div className="mt-4">
        <Notice notice={str('notice')} tone={str('tone')} />
      </div>

      <dl className="mt-4 grid grid-cols-2 gap-3 sm:grid-cols-4">
        {(
          [
            ['Total', <Money key="t" amount={order.total} currency={cur} />],
            ['Paid', <Money key="p" amount={order.amountPaid} currency={cur} />],
            ['Refunded', <span key="r" data-testid="admin-order-refunded"><Money amount={order.amountRefunded} currency={cur} /></span>],
            ['Refundable', <span key="f" data-testid="admin-order-refundable"><Money amount={plan.refundable} currency={cur} /></span>],
          ] as const
        ).map(([k, v]) => (
          <div key={k} className="rounded-lg border border-stone-200 bg-white p-3">
            <dt className="text-xs uppercase text-stone-600">{k}</dt>
            <dd className="text-lg font-semibold">{v}</dd>
          </div>
        ))}
      </dl>

      <OrderActions order={order} refund={{ refundable: plan.refundable, nextRefundNumber: plan.nextRefundNumber, input: refundInput, amount: refundAmount, error: refundError }} confirmingCancel={confirmingCancel} cancelable={cancelable} />
      <OrderLinesAndCustomer order={order} />
      <PaymentAttempts order={order} />
      <OrderRisk order={order} />
      <OrderRefunds order={order} />
      <OrderTimeline timeline={orderTimeline(detail)} />
      <OrderEmailsAndLedger order={order} />
    </>
  );
}
