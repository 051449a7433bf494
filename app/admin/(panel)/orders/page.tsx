import type { Metadata } from 'next';
import Link from 'next/link';
import { Money, RiskLabel, StatusBadge, TableWrap, button, buttonSecondary, formatDateTime, input, label, td, th } from '@/components/admin/ui';
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
        <TableWrap label="Orders">
          <table className="min-w-full" data-testid="orders-table">
            <caption className="sr-only">Orders matching the filters, {SORT_LABELS[parsed.filters.sort].toLowerCase()}</caption>
            <thead>
              <tr>
                <th scope="col" className={th}>Order</th>
                <th scope="col" className={th}>Created</th>
                <th scope="col" className={th}>Customer</th>
                <th scope="col" className={th}>Status</th>
                <th scope="col" className={`${th} text-right`}>Total</th>
                <th scope="col" className={`${th} text-right`}>Refunded</th>
                <th scope="col" className={th}>Risk</th>
              </tr>
            </thead>
            <tbody>
              {page.rows.map((o) => (
                <tr key={o.id} data-testid="order-row" data-order-id={o.id}>
                  <td className={td}>
                    <Link href={`/admin/orders/${o.id}`} className="font-mono text-amber-800 underline">
                      {o.id.slice(0, 8)}
                    </Link>
                  </td>
                  <td className={`${td} whitespace-nowrap`}>{formatDateTime(o.createdAt)}</td>
                  <td className={td}>{o.email}</td>
                  <td className={td}>
                    <StatusBadge status={o.status} />
                    {o.reviewStatus === 'pending_review' && <span className="ml-1 text-xs font-semibold text-red-800">review</span>}
                  </td>
                  <td className={`${td} text-right`}>
                    <Money amount={o.total} currency={o.currency} />
                  </td>
                  <td className={`${td} text-right`}>{o.amountRefunded > 0 ? <Money amount={o.amountRefunded} currency={o.currency} /> : '—'}</td>
                  <td className={td}>
                    <RiskLabel level={o.riskLevel} score={o.riskScore} />
                  </td>
                </tr>
              ))}
              {page.rows.length === 0 && (
                <tr>
                  <td colSpan={7} className={`${td} py-8 text-center text-stone-600`}>
                    No orders match these filters.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </TableWrap>
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
