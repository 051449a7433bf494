import type { Metadata } from 'next';
import Link from 'next/link';
import { DataTable } from '@/components/admin/DataTable';
import { Money, OrderIdLink, RiskLabel, StatusBadge, button, buttonSecondary, input, label } from '@/components/admin/ui';
import { listOrders, ORDER_SORTS, parseOrderFilters } from '@/lib/admin/orders-query';
import { requireAdmin } from '@/lib/admin/session';
import { prisma } from '@/lib/services';
import { ORDER_STATUSES } from '@/lib/orders/state-machine';
import { statusText } from '@/components/admin/ui';

export const metadata: Metadata = { title: 'Orders' };

const SORT_LABELS: Record<(typeof ORDER_SORTS)[number], string> = {
  created_desc: 'Newest first',
  created_asc: 'Oldest first',
  total_desc: 'Amount, high to low',
  total_asc: 'Amount, low to high',
};
const FILTER_KEYS = ['q', 'status', 'from', 'to', 'min', 'max', 'sort', 'review'] as const;

export default async function OrdersPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  await requireAdmin();
  const sp = await searchParams;
  const parsed = parseOrderFilters(sp);
  const cursor = typeof sp.cursor === 'string' ? sp.cursor : null;
  const page = await listOrders(await prisma(), parsed.filters, { cursor, limit: 50 });
  const raw = (k: string) => (typeof sp[k] === 'string' ? (sp[k] as string) : '');
  const keep = new URLSearchParams();
  for (const k of FILTER_KEYS) if (raw(k) && !(parsed.ok === false && k in parsed.errors)) keep.set(k, raw(k));
  const nextHref = page.nextCursor ? `/admin/orders?${new URLSearchParams([...keep, ['cursor', page.nextCursor]])}` : null;
  const errors = parsed.ok ? {} : parsed.errors;

  return (
    <>
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-bold">Orders</h1>
        <a href={`/admin/orders/export?${keep}`} className={buttonSecondary} data-testid="export-csv" download>
          Export CSV
        </a>
      </div>
      <form method="get" action="/admin/orders" className="mt-4 grid grid-cols-1 gap-3 rounded-lg border border-stone-200 bg-white p-4 sm:grid-cols-2 lg:grid-cols-4" aria-label="Filter orders">
        <div className="sm:col-span-2">
          <label htmlFor="q" className={label}>
            Search
          </label>
          <input id="q" name="q" type="search" defaultValue={raw('q')} placeholder="Email, order id or pi_…" className={input} />
        </div>
        <div>
          <label htmlFor="status" className={label}>
            Status
          </label>
          <select id="status" name="status" defaultValue={parsed.filters.status ?? ''} className={input}>
            <option value="">Any status</option>
            {ORDER_STATUSES.map((s) => (
              <option key={s} value={s}>
                {statusText(s)}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="sort" className={label}>
            Sort
          </label>
          <select id="sort" name="sort" defaultValue={parsed.filters.sort} className={input}>
            {ORDER_SORTS.map((s) => (
              <option key={s} value={s}>
                {SORT_LABELS[s]}
              </option>
            ))}
          </select>
        </div>
        {(
          [
            ['from', 'From date', 'date'],
            ['to', 'To date', 'date'],
            ['min', 'Min amount', 'text'],
            ['max', 'Max amount', 'text'],
          ] as const
        ).map(([name, text, type]) => (
          <div key={name}>
            <label htmlFor={name} className={label}>
              {text}
            </label>
            <input
              id={name}
              name={name}
              type={type}
              inputMode={type === 'text' ? 'decimal' : undefined}
              defaultValue={raw(name)}
              className={input}
              aria-invalid={name in errors}
              aria-describedby={name in errors ? `${name}-error` : undefined}
            />
            {name in errors && (
              <p id={`${name}-error`} className="mt-1 text-xs text-red-800">
                {errors[name]}
              </p>
            )}
          </div>
        ))}
        <div className="flex items-end gap-2 sm:col-span-2 lg:col-span-4">
          <button type="submit" className={button}>
            Apply filters
          </button>
          <Link href="/admin/orders" className={buttonSecondary}>
            Reset
          </Link>
        </div>
      </form>

      <div className="mt-4">
        <DataTable
          label="Orders"
          testId="orders-table"
          caption={<caption className="sr-only">Orders matching the filters, {SORT_LABELS[parsed.filters.sort].toLowerCase()}</caption>}
          rows={page.rows}
          rowAttributes={(o) => ({ 'data-testid': 'order-row', 'data-order-id': o.id })}
          empty="No orders match these filters."
          emptyClassName="py-8 text-center text-stone-600"
          columns={[
            { header: 'Order', cell: (o) => <OrderIdLink id={o.id} /> },
            { header: 'Created', date: (o) => o.createdAt },
            { header: 'Customer', cell: (o) => o.email },
            {
              header: 'Status',
              cell: (o) => (
                <>
                  <StatusBadge status={o.status} />
                  {o.reviewStatus === 'pending_review' && <span className="ml-1 text-xs font-semibold text-red-800">review</span>}
                </>
              ),
            },
            { header: 'Total', money: (o) => ({ amount: o.total, currency: o.currency }) },
            { header: 'Refunded', align: 'right', cell: (o) => (o.amountRefunded > 0 ? <Money amount={o.amountRefunded} currency={o.currency} /> : '—') },
            { header: 'Risk', cell: (o) => <RiskLabel level={o.riskLevel} score={o.riskScore} /> },
          ]}
        />
      </div>
      <nav aria-label="Pages" className="mt-4 flex gap-3">
        {cursor && (
          <Link href={`/admin/orders?${keep}`} className={buttonSecondary}>
            ← First page
          </Link>
        )}
        {nextHref && (
          <Link href={nextHref} className={buttonSecondary} rel="next">
            Next page →
          </Link>
        )}
      </nav>
    </>
  );
}
