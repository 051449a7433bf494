import type { Metadata } from 'next';
import Link from 'next/link';
import { SubmitButton } from '@/components/admin/SubmitButton';
import { Money, Notice, RiskLabel, TableWrap, button, buttonDanger, buttonSecondary, formatDateTime, td, th } from '@/components/admin/ui';
import { requireAdmin } from '@/lib/admin/session';
import { loadReviewQueue } from '@/lib/admin/views';
import { prisma } from '@/lib/services';
import type { RiskReason } from '@/lib/risk/score';
import { reviewAction } from '../actions';

export const metadata: Metadata = { title: 'Risk review' };

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
      <TableWrap label="Orders waiting for review">
        <table className="min-w-full">
          <thead>
            <tr>
              <th scope="col" className={th}>Order</th>
              <th scope="col" className={th}>Created</th>
              <th scope="col" className={th}>Customer</th>
              <th scope="col" className={`${th} text-right`}>Total</th>
              <th scope="col" className={th}>Risk</th>
              <th scope="col" className={th}>Reasons</th>
              <th scope="col" className={th}>Decision</th>
            </tr>
          </thead>
          <tbody>
            {queue.map((o) => {
              const reasons = (Array.isArray(o.riskReasons) ? o.riskReasons : []) as unknown as RiskReason[];
              const nextRefund = o.refunds.reduce((m, r) => Math.max(m, r.refundNumber), 0) + 1;
              return (
                <tr key={o.id}>
                  <td className={td}>
                    <Link href={`/admin/orders/${o.id}`} className="font-mono text-amber-800 underline">{o.id.slice(0, 8)}</Link>
                  </td>
                  <td className={`${td} whitespace-nowrap`}>{formatDateTime(o.createdAt)}</td>
                  <td className={td}>{o.email}</td>
                  <td className={`${td} text-right`}><Money amount={o.total} currency={o.currency} /></td>
                  <td className={td}><RiskLabel level={o.riskLevel} score={o.riskScore} /></td>
                  <td className={td}>
                    <ul className="list-disc pl-4">
                      {reasons.map((r) => <li key={r.code}>{r.detail}</li>)}
                    </ul>
                  </td>
                  <td className={td}>
                    <div className="flex flex-wrap gap-2">
                      <form action={reviewAction}>
                        <input type="hidden" name="orderId" value={o.id} />
                        <input type="hidden" name="decision" value="approve" />
                        <SubmitButton className={button} pendingText="Approving…">Approve</SubmitButton>
                      </form>
                      {rejecting === o.id ? (
                        <form action={reviewAction} className="flex flex-wrap items-center gap-2">
                          <span className="text-xs">Refund what remains and stop fulfillment?</span>
                          <input type="hidden" name="orderId" value={o.id} />
                          <input type="hidden" name="decision" value="reject" />
                          <input type="hidden" name="refundNumber" value={nextRefund} />
                          <SubmitButton className={buttonDanger} pendingText="Refunding…">Confirm reject and refund</SubmitButton>
                          <Link href="/admin/review" className={buttonSecondary}>Back</Link>
                        </form>
                      ) : (
                        <Link href={`/admin/review?reject=${o.id}`} className={buttonSecondary}>Reject and refund…</Link>
                      )}
                    </div>
                  </td>
                </tr>
              );
            })}
            {queue.length === 0 && (
              <tr><td colSpan={7} className={`${td} py-8 text-center text-stone-600`}>Nothing waits for review.</td></tr>
            )}
          </tbody>
        </table>
      </TableWrap>
    </>
  );
}
