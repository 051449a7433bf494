import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { SubmitButton } from '@/components/admin/SubmitButton';
import { Money, Notice, RiskLabel, Section, StatusBadge, TableWrap, button, buttonDanger, buttonSecondary, formatDateTime, input, label, td, th } from '@/components/admin/ui';
import { parseMajorAmount } from '@/lib/admin/orders-query';
import { requireAdmin } from '@/lib/admin/session';
import { loadOrderDetail } from '@/lib/admin/views';
import { prisma } from '@/lib/db/client';
import { formatMoney } from '@/lib/money';
import { canTransition } from '@/lib/orders/state-machine';
import type { RiskReason } from '@/lib/risk/score';
import { cancelOrderAction, refundAction, resendReceiptAction } from '../../actions';

export const metadata: Metadata = { title: 'Order' };

type TimelineItem = { at: Date; what: string; source: string; detail?: string };

function majorString(minor: number): string {
  return `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`;
}

export default async function OrderDetailPage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  await requireAdmin();
  const { id } = await params;
  const sp = await searchParams;
  const detail = await loadOrderDetail(await prisma(), id);
  if (!detail) notFound();
  const { order, plan, stripeEvents, audit } = detail;
  const cur = order.currency;
  const str = (k: string) => (typeof sp[k] === 'string' ? (sp[k] as string) : undefined);

  const refundInput = str('refund');
  const refundAmount = refundInput !== undefined ? parseMajorAmount(refundInput) : null;
  const refundError =
    refundInput === undefined ? null : refundAmount === null || refundAmount <= 0 ? 'Enter an amount like 12.50.' : refundAmount > plan.refundable ? `At most ${formatMoney(plan.refundable, cur)} can be refunded.` : null;
  const confirmingRefund = refundInput !== undefined && !refundError && refundAmount !== null;
  const confirmingCancel = str('confirm') === 'cancel';
  const cancelable = canTransition(order.status, 'canceled');

  const timeline: TimelineItem[] = [
    ...order.events.map((e) => ({
      at: e.createdAt,
      what: e.kind === 'status_changed' ? `Status ${e.fromStatus ?? '—'} → ${e.toStatus}` : e.kind.replace(/_/g, ' '),
      source: `${e.source}${e.actor ? ` · ${e.actor}` : ''}`,
      detail: e.detail ? JSON.stringify(e.detail) : undefined,
    })),
    ...stripeEvents.map((e) => ({ at: e.receivedAt, what: `Stripe ${e.type}`, source: `webhook · ${e.status}`, detail: `${e.id}${e.lastError ? ` · ${e.lastError}` : ''}` })),
    ...audit.map((a) => ({ at: a.createdAt, what: `Admin: ${a.action}`, source: a.actor, detail: a.detail ? JSON.stringify(a.detail) : undefined })),
  ].sort((a, b) => a.at.getTime() - b.at.getTime());
  const reasons = (Array.isArray(order.riskReasons) ? order.riskReasons : []) as unknown as RiskReason[];

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

      <Section title="Actions" id="actions-heading">
        <div className="grid gap-4 lg:grid-cols-3">
          <div className="rounded-lg border border-stone-200 bg-white p-4">
            <h3 className="font-semibold">Refund</h3>
            {plan.refundable <= 0 ? (
              <p className="mt-2 text-sm text-stone-600">Nothing left to refund.</p>
            ) : confirmingRefund ? (
              <form action={refundAction} className="mt-2 space-y-3" aria-labelledby="refund-confirm-text">
                <p id="refund-confirm-text" className="text-sm" data-testid="refund-confirm-text">
                  Refund <strong>{formatMoney(refundAmount!, cur)}</strong> of {formatMoney(plan.refundable, cur)} remaining to the customer&apos;s card? This is refund #{plan.nextRefundNumber}
                  {refundAmount === plan.refundable ? ' (full refund of what remains)' : ''}.
                </p>
                <input type="hidden" name="orderId" value={order.id} />
                <input type="hidden" name="amount" value={majorString(refundAmount!)} />
                <input type="hidden" name="refundNumber" value={plan.nextRefundNumber} />
                <div className="flex gap-2">
                  <SubmitButton className={buttonDanger} pendingText="Refunding…" testId="confirm-refund">
                    Confirm refund
                  </SubmitButton>
                  <Link href={`/admin/orders/${order.id}`} className={buttonSecondary}>
                    Cancel
                  </Link>
                </div>
              </form>
            ) : (
              <form method="get" action={`/admin/orders/${order.id}`} className="mt-2 space-y-2">
                <label htmlFor="refund" className={label}>
                  Amount ({cur.toUpperCase()})
                </label>
                <input
                  id="refund"
                  name="refund"
                  inputMode="decimal"
                  defaultValue={refundInput ?? majorString(plan.refundable)}
                  className={input}
                  aria-invalid={Boolean(refundError)}
                  aria-describedby={refundError ? 'refund-error' : 'refund-help'}
                />
                {refundError ? (
                  <p id="refund-error" role="alert" className="text-xs text-red-800">
                    {refundError}
                  </p>
                ) : (
                  <p id="refund-help" className="text-xs text-stone-600">
                    Up to {formatMoney(plan.refundable, cur)}. You confirm on the next step.
                  </p>
                )}
                <button type="submit" className={button}>
                  Review refund
                </button>
              </form>
            )}
          </div>
          <div className="rounded-lg border border-stone-200 bg-white p-4">
            <h3 className="font-semibold">Cancel order</h3>
            {!cancelable ? (
              <p className="mt-2 text-sm text-stone-600">Only unpaid orders can be canceled.</p>
            ) : confirmingCancel ? (
              <form action={cancelOrderAction} className="mt-2 space-y-3">
                <p className="text-sm">Cancel this unpaid order? Its payment is canceled at Stripe so it can no longer be paid.</p>
                <input type="hidden" name="orderId" value={order.id} />
                <div className="flex gap-2">
                  <SubmitButton className={buttonDanger} pendingText="Canceling…">
                    Confirm cancel
                  </SubmitButton>
                  <Link href={`/admin/orders/${order.id}`} className={buttonSecondary}>
                    Keep order
                  </Link>
                </div>
              </form>
            ) : (
              <Link href={`/admin/orders/${order.id}?confirm=cancel`} className={`mt-2 inline-block ${buttonSecondary}`}>
                Cancel order…
              </Link>
            )}
          </div>
          <div className="rounded-lg border border-stone-200 bg-white p-4">
            <h3 className="font-semibold">Receipt</h3>
            {order.amountPaid > 0 ? (
              <form action={resendReceiptAction} className="mt-2">
                <input type="hidden" name="orderId" value={order.id} />
                <SubmitButton className={buttonSecondary} pendingText="Queuing…">
                  Resend receipt to {order.email}
                </SubmitButton>
              </form>
            ) : (
              <p className="mt-2 text-sm text-stone-600">No receipt before payment.</p>
            )}
          </div>
        </div>
      </Section>

      <div className="grid gap-x-6 lg:grid-cols-2">
        <Section title="Lines" id="lines-heading">
          <TableWrap label="Order lines">
            <table className="min-w-full">
              <thead>
                <tr>
                  <th scope="col" className={th}>Item</th>
                  <th scope="col" className={`${th} text-right`}>Qty</th>
                  <th scope="col" className={`${th} text-right`}>Unit</th>
                  <th scope="col" className={`${th} text-right`}>Amount</th>
                </tr>
              </thead>
              <tbody>
                {order.items.map((i) => (
                  <tr key={i.id}>
                    <td className={td}>{i.name}</td>
                    <td className={`${td} text-right`}>{i.quantity}</td>
                    <td className={`${td} text-right`}><Money amount={i.unitPrice} currency={cur} /></td>
                    <td className={`${td} text-right`}><Money amount={i.unitPrice * i.quantity} currency={cur} /></td>
                  </tr>
                ))}
                <tr>
                  <th scope="row" colSpan={3} className={`${td} text-right font-semibold`}>Total</th>
                  <td className={`${td} text-right font-semibold`}><Money amount={order.total} currency={cur} /></td>
                </tr>
              </tbody>
            </table>
          </TableWrap>
        </Section>
        <Section title="Customer" id="customer-heading">
          <address className="rounded-lg border border-stone-200 bg-white p-4 text-sm not-italic">
            <strong>{order.name}</strong>
            <br />
            <a href={`mailto:${order.email}`} className="text-amber-800 underline">{order.email}</a>
            <br />
            {order.addressLine1}
            {order.addressLine2 ? `, ${order.addressLine2}` : ''}
            <br />
            {order.postalCode} {order.city}, {order.country}
          </address>
          <p className="mt-2 text-sm text-stone-600">
            Created {formatDateTime(order.createdAt)} · Paid {formatDateTime(order.paidAt)} · Fulfillment: {order.fulfillment?.status ?? '—'}
            {order.oversold ? ' · oversold' : ''}
          </p>
        </Section>
      </div>

      <Section title="Payment attempts" id="attempts-heading">
        <TableWrap label="Payment attempts">
          <table className="min-w-full">
            <thead>
              <tr>
                <th scope="col" className={th}>#</th>
                <th scope="col" className={th}>PaymentIntent</th>
                <th scope="col" className={th}>Status</th>
                <th scope="col" className={th}>Card</th>
                <th scope="col" className={th}>Stripe risk</th>
                <th scope="col" className={th}>Decline</th>
                <th scope="col" className={th}>Created</th>
              </tr>
            </thead>
            <tbody>
              {order.attempts.map((a) => (
                <tr key={a.id}>
                  <td className={td}>{a.attemptNumber}</td>
                  <td className={`${td} font-mono text-xs`}>{a.paymentIntentId}</td>
                  <td className={td}>{a.status}</td>
                  <td className={td}>{a.cardBrand ? `${a.cardBrand} •••• ${a.cardLast4}` : '—'}</td>
                  <td className={td}><RiskLabel level={a.riskLevel} score={a.riskScore} /></td>
                  <td className={td}>{a.declineCode ?? a.failureCode ?? '—'}{a.failureMessage ? ` · ${a.failureMessage}` : ''}</td>
                  <td className={`${td} whitespace-nowrap`}>{formatDateTime(a.createdAt)}</td>
                </tr>
              ))}
              {order.attempts.length === 0 && (
                <tr><td colSpan={7} className={td}>No payment attempts.</td></tr>
              )}
            </tbody>
          </table>
        </TableWrap>
      </Section>

      <Section title="Risk" id="risk-heading">
        <div className="rounded-lg border border-stone-200 bg-white p-4 text-sm">
          <p>
            Score: <strong>{order.riskScore ?? '—'}</strong> · Level: <RiskLabel level={order.riskLevel} />
          </p>
          {reasons.length > 0 ? (
            <ul className="mt-2 list-disc pl-5">
              {reasons.map((r) => (
                <li key={r.code}>
                  {r.detail} (+{r.points})
                </li>
              ))}
            </ul>
          ) : (
            <p className="mt-2 text-stone-600">{order.riskReasons ? 'No risk signals.' : 'Not assessed yet.'}</p>
          )}
        </div>
      </Section>

      {order.refunds.length > 0 && (
        <Section title="Refunds" id="refunds-heading">
          <TableWrap label="Refunds">
            <table className="min-w-full" data-testid="refunds-table">
              <thead>
                <tr>
                  <th scope="col" className={th}>#</th>
                  <th scope="col" className={`${th} text-right`}>Amount</th>
                  <th scope="col" className={th}>Status</th>
                  <th scope="col" className={th}>Stripe refund</th>
                  <th scope="col" className={th}>By</th>
                  <th scope="col" className={th}>When</th>
                </tr>
              </thead>
              <tbody>
                {order.refunds.map((r) => (
                  <tr key={r.id}>
                    <td className={td}>{r.refundNumber}</td>
                    <td className={`${td} text-right`}><Money amount={r.amount} currency={r.currency} /></td>
                    <td className={td}>{r.status}</td>
                    <td className={`${td} font-mono text-xs`}>{r.stripeRefundId ?? '—'}</td>
                    <td className={td}>{r.requestedBy ?? 'Stripe'}</td>
                    <td className={`${td} whitespace-nowrap`}>{formatDateTime(r.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        </Section>
      )}

      <Section title="Timeline" id="timeline-heading">
        <ol className="space-y-2 rounded-lg border border-stone-200 bg-white p-4 text-sm" data-testid="timeline">
          {timeline.map((t, i) => (
            <li key={i} className="flex flex-col gap-0.5 border-l-2 border-amber-700 pl-3 sm:flex-row sm:gap-3">
              <time dateTime={t.at.toISOString()} className="whitespace-nowrap text-stone-500">{formatDateTime(t.at)}</time>
              <span className="font-medium">{t.what}</span>
              <span className="text-stone-600">{t.source}</span>
              {t.detail && <span className="break-all font-mono text-xs text-stone-500">{t.detail.slice(0, 300)}</span>}
            </li>
          ))}
          {timeline.length === 0 && <li>Nothing yet.</li>}
        </ol>
      </Section>

      <div className="grid gap-x-6 lg:grid-cols-2">
        <Section title="Emails" id="emails-heading">
          <ul className="space-y-2 rounded-lg border border-stone-200 bg-white p-4 text-sm">
            {order.emails.map((e) => (
              <li key={e.id}>
                <strong>{e.subject}</strong> → {e.to} · {e.kind} · {e.status} · {formatDateTime(e.createdAt)}
              </li>
            ))}
            {order.emails.length === 0 && <li className="text-stone-600">No emails.</li>}
          </ul>
        </Section>
        <Section title="Ledger" id="ledger-heading">
          <TableWrap label="Ledger entries">
            <table className="min-w-full">
              <thead>
                <tr>
                  <th scope="col" className={th}>Transaction</th>
                  <th scope="col" className={th}>Account</th>
                  <th scope="col" className={`${th} text-right`}>Amount</th>
                </tr>
              </thead>
              <tbody>
                {order.ledgerEntries.map((l) => (
                  <tr key={l.id}>
                    <td className={`${td} font-mono text-xs`}>{l.txKey}</td>
                    <td className={td}>{l.account}</td>
                    <td className={`${td} text-right`}><Money amount={l.amount} currency={l.currency} /></td>
                  </tr>
                ))}
                {order.ledgerEntries.length === 0 && (
                  <tr><td colSpan={3} className={td}>No ledger entries.</td></tr>
                )}
              </tbody>
            </table>
          </TableWrap>
        </Section>
      </div>
    </>
  );
}
