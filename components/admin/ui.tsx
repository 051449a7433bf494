// Small presentational pieces shared by the admin pages (server components).
import Link from 'next/link';
import { formatMoney } from '@/lib/money';

const STATUS: Record<string, { text: string; tone: string }> = {
  pending: { text: 'Awaiting payment', tone: 'bg-stone-100 text-stone-800' },
  processing: { text: 'Processing', tone: 'bg-sky-100 text-sky-900' },
  paid: { text: 'Paid', tone: 'bg-green-100 text-green-900' },
  partially_refunded: { text: 'Partially refunded', tone: 'bg-amber-100 text-amber-900' },
  refunded: { text: 'Refunded', tone: 'bg-amber-100 text-amber-900' },
  canceled: { text: 'Canceled', tone: 'bg-red-100 text-red-900' },
};

export function statusText(status: string): string {
  return STATUS[status]?.text ?? status;
}

export function StatusBadge({ status, testId }: { status: string; testId?: string }) {
  const s = STATUS[status] ?? { text: status, tone: 'bg-stone-100 text-stone-800' };
  return (
    <span className={`inline-block whitespace-nowrap rounded-full px-2.5 py-0.5 text-xs font-semibold ${s.tone}`} data-testid={testId}>
      {s.text}
    </span>
  );
}

const RISK_TONE: Record<string, string> = { normal: 'text-stone-600', elevated: 'text-amber-800 font-semibold', highest: 'text-red-800 font-semibold' };
export function RiskLabel({ level, score }: { level: string | null; score?: number | null }) {
  if (!level) return <span className="text-stone-400">—</span>;
  return (
    <span className={RISK_TONE[level] ?? ''}>
      {level}
      {score !== null && score !== undefined ? ` (${score})` : ''}
    </span>
  );
}

export function Money({ amount, currency }: { amount: number; currency: string }) {
  return <span className="tabular-nums">{formatMoney(amount, currency)}</span>;
}

/** An order's short id, linking to its admin page. */
export function OrderIdLink({ id }: { id: string }) {
  return (
    <Link href={`/admin/orders/${id}`} className="font-mono text-amber-800 underline">
      {id.slice(0, 8)}
    </Link>
  );
}

export function formatDateTime(d: Date | null | undefined): string {
  if (!d) return '—';
  return d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

export function Notice({ notice, tone }: { notice?: string; tone?: string }) {
  if (!notice) return null;
  const error = tone === 'error';
  return (
    <p role={error ? 'alert' : 'status'} className={`mb-4 rounded-md p-3 text-sm ${error ? 'bg-red-50 text-red-900' : 'bg-green-50 text-green-900'}`} data-testid="admin-notice">
      {notice}
    </p>
  );
}

export function Section({ title, children, id }: { title: string; children: React.ReactNode; id?: string }) {
  return (
    <section aria-labelledby={id} className="mt-8">
      <h2 id={id} className="mb-3 text-lg font-semibold">
        {title}
      </h2>
      {children}
    </section>
  );
}

/** A table that scrolls sideways on small screens instead of breaking the page. */
export function TableWrap({ children, label }: { children: React.ReactNode; label: string }) {
  return (
    <div className="overflow-x-auto rounded-lg border border-stone-200 bg-white" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

export const th = 'border-b border-stone-200 bg-stone-50 px-3 py-2 text-left text-xs font-semibold uppercase tracking-wide text-stone-600';
export const td = 'border-b border-stone-100 px-3 py-2 align-top text-sm';
export const button = 'rounded-md bg-amber-800 px-4 py-2 text-sm font-semibold text-white hover:bg-amber-900 disabled:opacity-50';
export const buttonSecondary = 'rounded-md border border-stone-300 bg-white px-4 py-2 text-sm font-semibold text-stone-800 hover:bg-stone-100 disabled:opacity-50';
export const buttonDanger = 'rounded-md bg-red-700 px-4 py-2 text-sm font-semibold text-white hover:bg-red-800 disabled:opacity-50';
export const input = 'mt-1 block w-full rounded-md border border-stone-300 px-3 py-2 text-sm';
export const label = 'block text-sm font-medium text-stone-700';
