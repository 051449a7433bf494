// The admin's order page, in parts (app/admin/(panel)/orders/[id]/page.tsx puts them together).
// Each part shows one side of the order as lib/admin/views.ts read it; none reads the database.
import Link from 'next/link';
import { SubmitButton } from '@/components/admin/SubmitButton';
import { DataTable } from '@/components/admin/DataTable';
import { AddressLines } from '@/components/PostalAddress';
import { Money, RiskLabel, Section, button, buttonDanger, buttonSecondary, formatDateTime, input, label, td } from '@/components/admin/ui';
import type { OrderDetail, TimelineItem } from '@/lib/admin/views';
import { formatMoney } from '@/lib/money';
import type { RiskReason } from '@/lib/risk/score';
import { cancelOrderAction, refundAction, resendReceiptAction } from '@/app/admin/(panel)/actions';

type Order = OrderDetail['order'];

function majorString(minor: number): string {
  return `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`;
}

export interface RefundForm {
  refundable: number;
  nextRefundNumber: number;
  /** What the admin typed, before confirming. */
  input: string | undefined;
  /** Parsed and valid: the confirm step. */
  amount: number | null;
  error: string | null;
}

/** Refund (in two steps: amount, then confirm), cancel (unpaid orders, confirmed), resend receipt. */
export function OrderActions({ order, refund, confirmingCancel, cancelable }: { order: Order; refund: RefundForm; confirmingCancel: boolean; cancelable: boolean }) {
  const cur = order.currency;
  const plan = refund;
  const refundInput = refund.input;
  const refundAmount = refund.amount;
  const refundError = refund.error;
  const confirmingRefund = refundInput !== undefined && !refundError && refundAmount !== null;
  return (
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
  );
}

/** What was bought, and by whom, to where. */
export function OrderLinesAndCustomer({ order }: { order: Order }) {
  const cur = order.currency;
  return (
    <div className="grid gap-x-6 lg:grid-cols-2">
      <Section title="Lines" id="lines-heading">
        <DataTable
          label="Order lines"
          rows={order.items}
          columns={[
            { header: 'Item', cell: (i) => i.name },
            { header: 'Qty', align: 'right', cell: (i) => i.quantity },
            { header: 'Unit', money: (i) => ({ amount: i.unitPrice, currency: cur }) },
            { header: 'Amount', money: (i) => ({ amount: i.unitPrice * i.quantity, currency: cur }) },
          ]}
          trailingRows={
            <tr>
              <th scope="row" colSpan={3} className={`${td} text-right font-semibold`}>Total</th>
              <td className={`${td} text-right font-semibold`}><Money amount={order.total} currency={cur} /></td>
            </tr>
          }
        />
      </Section>
      <Section title="Customer" id="customer-heading">
        <address className="rounded-lg border border-stone-200 bg-white p-4 text-sm not-italic">
          <strong>{order.name}</strong>
          <br />
          <a href={`mailto:${order.email}`} className="text-amber-800 underline">{order.email}</a>
          <br />
          <AddressLines address={order} />
        </address>
        <p className="mt-2 text-sm text-stone-600">
          Created {formatDateTime(order.createdAt)} · Paid {formatDateTime(order.paidAt)} · Fulfillment: {order.fulfillment?.status ?? '—'}
          {order.oversold ? ' · oversold' : ''}
        </p>
      </Section>
    </div>
  );
}

export function PaymentAttempts({ order }: { order: Order }) {
  return (
    <Section title="Payment attempts" id="attempts-heading">
      <DataTable
        label="Payment attempts"
        rows={order.attempts}
        empty="No payment attempts."
        columns={[
          { header: '#', cell: (a) => a.attemptNumber },
          { header: 'PaymentIntent', className: 'font-mono text-xs', cell: (a) => a.paymentIntentId },
          { header: 'Status', cell: (a) => a.status },
          { header: 'Card', cell: (a) => (a.cardBrand ? `${a.cardBrand} •••• ${a.cardLast4}` : '—') },
          { header: 'Stripe risk', cell: (a) => <RiskLabel level={a.riskLevel} score={a.riskScore} /> },
          { header: 'Decline', cell: (a) => `${a.declineCode ?? a.failureCode ?? '—'}${a.failureMessage ? ` · ${a.failureMessage}` : ''}` },
          { header: 'Created', date: (a) => a.createdAt },
        ]}
      />
    </Section>
  );
}

/** The risk score and the reasons behind it. */
export function OrderRisk({ order }: { order: Order }) {
  const reasons = (Array.isArray(order.riskReasons) ? order.riskReasons : []) as unknown as RiskReason[];
  return (
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
  );
}

export function OrderRefunds({ order }: { order: Order }) {
  if (order.refunds.length === 0) return null;
  return (
    <Section title="Refunds" id="refunds-heading">
      <DataTable
        label="Refunds"
        testId="refunds-table"
        rows={order.refunds}
        columns={[
          { header: '#', cell: (r) => r.refundNumber },
          { header: 'Amount', money: (r) => r },
          { header: 'Status', cell: (r) => r.status },
          { header: 'Stripe refund', className: 'font-mono text-xs', cell: (r) => r.stripeRefundId ?? '—' },
          { header: 'By', cell: (r) => r.requestedBy ?? 'Stripe' },
          { header: 'When', date: (r) => r.createdAt },
        ]}
      />
    </Section>
  );
}

/** The order's own events, its Stripe events and the admins' actions, in time order. */
export function OrderTimeline({ timeline }: { timeline: TimelineItem[] }) {
  return (
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
  );
}

export function OrderEmailsAndLedger({ order }: { order: Order }) {
  return (
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
        <DataTable
          label="Ledger entries"
          rows={order.ledgerEntries}
          empty="No ledger entries."
          columns={[
            { header: 'Transaction', className: 'font-mono text-xs', cell: (l) => l.txKey },
            { header: 'Account', cell: (l) => l.account },
            { header: 'Amount', money: (l) => l },
          ]}
        />
      </Section>
    </div>
  );
}
