import type { Metadata } from 'next';
import Link from 'next/link';
import { TableWrap, formatDateTime, td, th } from '@/components/admin/ui';
import { requireAdmin } from '@/lib/admin/session';
import { prisma } from '@/lib/services';

export const metadata: Metadata = { title: 'Emails' };

export default async function EmailsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  await requireAdmin();
  const sp = await searchParams;
  const status = typeof sp.status === 'string' && ['queued', 'sent', 'stored', 'failed'].includes(sp.status) ? sp.status : undefined;
  const db = await prisma();
  const [emails, counts] = await Promise.all([
    db.email.findMany({ where: status ? { status } : {}, orderBy: { createdAt: 'desc' }, take: 100 }),
    db.email.groupBy({ by: ['status'], _count: true }),
  ]);
  return (
    <>
      <h1 className="text-2xl font-bold">Email outbox</h1>
      <nav aria-label="Email status" className="mt-3 flex flex-wrap gap-2 text-sm">
        <Link href="/admin/emails" className="underline" aria-current={!status ? 'page' : undefined}>All</Link>
        {counts.map((c) => (
          <Link key={c.status} href={`/admin/emails?status=${c.status}`} className="underline" aria-current={status === c.status ? 'page' : undefined}>
            {c.status} ({c._count})
          </Link>
        ))}
      </nav>
      <div className="mt-4">
        <TableWrap label="Emails">
          <table className="min-w-full">
            <thead>
              <tr>
                <th scope="col" className={th}>Created</th>
                <th scope="col" className={th}>To</th>
                <th scope="col" className={th}>Subject</th>
                <th scope="col" className={th}>Kind</th>
                <th scope="col" className={th}>Status</th>
                <th scope="col" className={th}>Order</th>
              </tr>
            </thead>
            <tbody>
              {emails.map((e) => (
                <tr key={e.id}>
                  <td className={`${td} whitespace-nowrap`}>{formatDateTime(e.createdAt)}</td>
                  <td className={td}>{e.to}</td>
                  <td className={td}>
                    <details>
                      <summary className="cursor-pointer">{e.subject}</summary>
                      <pre className="mt-2 whitespace-pre-wrap text-xs">{e.text}</pre>
                    </details>
                  </td>
                  <td className={td}>{e.kind}</td>
                  <td className={td}>{e.status}{e.error ? ` · ${e.error}` : ''}</td>
                  <td className={td}>{e.orderId ? <Link href={`/admin/orders/${e.orderId}`} className="font-mono text-amber-800 underline">{e.orderId.slice(0, 8)}</Link> : '—'}</td>
                </tr>
              ))}
              {emails.length === 0 && <tr><td colSpan={6} className={td}>No emails.</td></tr>}
            </tbody>
          </table>
        </TableWrap>
      </div>
    </>
  );
}
