import type { Metadata } from 'next';
import Link from 'next/link';
import { DataTable } from '@/components/admin/DataTable';
import { OrderIdLink } from '@/components/admin/ui';
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
        <DataTable
          label="Emails"
          rows={emails}
          empty="No emails."
          columns={[
            { header: 'Created', date: (e) => e.createdAt },
            { header: 'To', cell: (e) => e.to },
            {
              header: 'Subject',
              cell: (e) => (
                <details>
                  <summary className="cursor-pointer">{e.subject}</summary>
                  <pre className="mt-2 whitespace-pre-wrap text-xs">{e.text}</pre>
                </details>
              ),
            },
            { header: 'Kind', cell: (e) => e.kind },
            { header: 'Status', cell: (e) => `${e.status}${e.error ? ` · ${e.error}` : ''}` },
            { header: 'Order', cell: (e) => (e.orderId ? <OrderIdLink id={e.orderId} /> : '—') },
          ]}
        />
      </div>
    </>
  );
}
