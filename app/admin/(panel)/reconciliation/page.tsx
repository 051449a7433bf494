import type { Metadata } from 'next';
import { SubmitButton } from '@/components/admin/SubmitButton';
import { DataTable } from '@/components/admin/DataTable';
import { Notice, OrderIdLink, button, formatDateTime } from '@/components/admin/ui';
import { requireAdmin } from '@/lib/admin/session';
import { loadReconciliationRuns } from '@/lib/admin/views';
import { prisma } from '@/lib/services';
import { runReconciliationAction } from '../actions';

export const metadata: Metadata = { title: 'Reconciliation' };

const KIND_TEXT: Record<string, string> = {
  missed_payment_update: 'Payment update applied',
  missed_refund: 'Refund applied',
  payment_without_order: 'Payment at Stripe with no order',
  refund_without_order: 'Refund at Stripe with no order',
  amount_mismatch: 'Amount differs from the order',
  refund_amount_mismatch: 'Refunded amount differs',
  paid_here_not_at_stripe: 'Paid here, not at Stripe',
  unexpected_payment: 'Extra payment to refund',
  refund_not_sent: 'Refund reserved but never sent',
};

export default async function ReconciliationPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  await requireAdmin();
  const sp = await searchParams;
  const runs = await loadReconciliationRuns(await prisma());
  return (
    <>
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-bold">Reconciliation</h1>
        <form action={runReconciliationAction}>
          <SubmitButton className={button} pendingText="Reconciling…" testId="run-reconciliation">
            Run now (last 24 hours)
          </SubmitButton>
        </form>
      </div>
      <p className="mt-1 text-sm text-stone-600">Every 15 minutes Stripe&apos;s PaymentIntents and refunds of the last 24 hours are compared with our orders. Missed updates are healed; the rest is listed for review.</p>
      <div className="mt-4">
        <Notice notice={typeof sp.notice === 'string' ? sp.notice : undefined} tone={typeof sp.tone === 'string' ? sp.tone : undefined} />
      </div>
      <ol className="space-y-4" data-testid="reconciliation-runs">
        {runs.map((run) => (
          <li key={run.id} className="rounded-lg border border-stone-200 bg-white p-4" data-testid="reconciliation-run">
            <h2 className="text-base font-semibold">
              {formatDateTime(run.startedAt)} · {run.trigger} · <span className={run.status === 'failed' ? 'text-red-800' : ''}>{run.status}</span>
            </h2>
            <p className="text-sm text-stone-600">
              Window {formatDateTime(run.windowStart)} – {formatDateTime(run.windowEnd)} · checked {run.checked} · healed {run.healed} · to review {run.unresolved}
              {run.error ? ` · ${run.error}` : ''}
            </p>
            {run.findings.length > 0 && (
              <details className="mt-2" open={run === runs[0]}>
                <summary className="cursor-pointer text-sm font-medium">{run.findings.length} findings</summary>
                <DataTable
                  label="Findings"
                  rows={run.findings}
                  rowAttributes={(f) => ({ 'data-testid': 'finding', 'data-kind': f.kind })}
                  columns={[
                    { header: 'Finding', cell: (f) => KIND_TEXT[f.kind] ?? f.kind },
                    { header: 'Healed', cell: (f) => (f.healed ? 'Healed' : 'Needs review') },
                    { header: 'Order', cell: (f) => (f.orderId ? <OrderIdLink id={f.orderId} /> : '—') },
                    { header: 'Stripe object', className: 'font-mono text-xs', cell: (f) => f.refundId ?? f.paymentIntentId ?? '—' },
                    { header: 'Detail', className: 'break-all font-mono text-xs', cell: (f) => (f.detail ? JSON.stringify(f.detail).slice(0, 300) : '') },
                  ]}
                />
              </details>
            )}
          </li>
        ))}
        {runs.length === 0 && <li className="text-stone-600">No runs yet.</li>}
      </ol>
    </>
  );
}
