import type { Metadata } from 'next';
import Link from 'next/link';
import { SubmitButton } from '@/components/admin/SubmitButton';
import { DataTable } from '@/components/admin/DataTable';
import { Notice, OrderIdLink, RiskLabel, button, buttonDanger, buttonSecondary } from '@/components/admin/ui';
import { requireAdmin } from '@/lib/admin/session';
import { loadReviewQueue } from '@/lib/admin/views';
import { prisma } from '@/lib/services';
import type { RiskReason } from '@/lib/risk/score';
import { reviewAction } from '../actions';

export const metadata: Metadata = { title: 'Risk review' };

/** Approve, or reject and refund what remains (confirmed on a second step). */
function Decision({ orderId, nextRefund, rejecting }: { orderId: string; nextRefund: number; rejecting: boolean }) {
  return (
    <div className="flex flex-wrap gap-2">
      <form action={reviewAction}>
        <input type="hidden" name="orderId" value={orderId} />
        <input type="hidden" name="decision" value="approve" />
        <SubmitButton className={button} pendingText="Approving…">Approve</SubmitButton>
      </form>
      {rejecting ? (
        <form action={reviewAction} className="flex flex-wrap items-center gap-2">
          <span className="text-xs">Refund what remains and stop fulfillment?</span>
          <input type="hidden" name="orderId" value={orderId} />
          <input type="hidden" name="decision" value="reject" />
          <input type="hidden" name="refundNumber" value={nextRefund} />
          <SubmitButton className={buttonDanger} pendingText="Refunding…">Confirm reject and refund</SubmitButton>
          <Link href="/admin/review" className={buttonSecondary}>Back</Link>
        </form>
      ) : (
        <Link href={`/admin/review?reject=${orderId}`} className={buttonSecondary}>Reject and refund…</Link>
      )}
    </div>
  );
}

export default async function ReviewPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  await requireAdmin();
  const sp = await searchParams;
  const queue = await loadReviewQueue(await prisma());
  const rejecting = typeof sp.reject === 'string' ? sp.reject : null;
  return (
    <>
      <h1 className="text-2xl font-bold">Risk review</h1>
      <p className="mt-1 text-sm text-stone-600">Paid orders whose risk score reached the review threshold. Their fulfillment waits until you decide.</p>
      <div className="mt-4">
        <Notice notice={typeof sp.notice === 'string' ? sp.notice : undefined} tone={typeof sp.tone === 'string' ? sp.tone : undefined} />
      </div>
      <DataTable
        label="Orders waiting for review"
        rows={queue}
        empty="Nothing waits for review."
        emptyClassName="py-8 text-center text-stone-600"
        columns={[
          { header: 'Order', cell: (o) => <OrderIdLink id={o.id} /> },
          { header: 'Created', date: (o) => o.createdAt },
          { header: 'Customer', cell: (o) => o.email },
          { header: 'Total', money: (o) => ({ amount: o.total, currency: o.currency }) },
          { header: 'Risk', cell: (o) => <RiskLabel level={o.riskLevel} score={o.riskScore} /> },
          {
            header: 'Reasons',
            cell: (o) => (
              <ul className="list-disc pl-4">
                {((Array.isArray(o.riskReasons) ? o.riskReasons : []) as unknown as RiskReason[]).map((r) => <li key={r.code}>{r.detail}</li>)}
              </ul>
            ),
          },
          { header: 'Decision', cell: (o) => <Decision orderId={o.id} nextRefund={o.refunds.reduce((m, r) => Math.max(m, r.refundNumber), 0) + 1} rejecting={rejecting === o.id} /> },
        ]}
      />
    </>
  );
}
