import type { Metadata } from 'next';
import { LatencyChart, PaymentsChart, RevenueChart, TimeToPaidChart } from '@/components/admin/Charts';
import { Money } from '@/components/admin/ui';
import { loadDashboard } from '@/lib/admin/dashboard';
import { requireAdmin } from '@/lib/admin/session';
import { prisma } from '@/lib/services';

export const metadata: Metadata = { title: 'Dashboard' };

function Kpi({ label, children, testId }: { label: string; children: React.ReactNode; testId?: string }) {
  return (
    <div className="rounded-lg border border-stone-200 bg-white p-4">
      <dt className="text-xs font-semibold uppercase tracking-wide text-stone-600">{label}</dt>
      <dd className="mt-1 text-2xl font-bold" data-testid={testId}>
        {children}
      </dd>
    </div>
  );
}

export default async function DashboardPage() {
  await requireAdmin();
  const d = await loadDashboard(await prisma());
  return (
    <>
      <h1 className="text-2xl font-bold">Dashboard</h1>
      <section aria-labelledby="revenue-heading" className="mt-6">
        <h2 id="revenue-heading" className="sr-only">
          Key figures
        </h2>
        <dl className="grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-3">
          {d.revenue.map((r) => (
            <Kpi key={r.label} label={`Net revenue · ${r.label}`}>
              <Money amount={r.net} currency={d.currency} />
              <span className="mt-1 block text-xs font-normal text-stone-600">
                {r.paidOrders} paid · <Money amount={r.refunded} currency={d.currency} /> refunded
              </span>
            </Kpi>
          ))}
          <Kpi label="Orders · last 30 days">{d.orders30d}</Kpi>
          <Kpi label="Payment success rate · 30 days">{d.successRate30d === null ? '—' : `${(d.successRate30d * 100).toFixed(1)}%`}</Kpi>
          <Kpi label="Average order value · 30 days">{d.averageOrderValue30d === null ? '—' : <Money amount={d.averageOrderValue30d} currency={d.currency} />}</Kpi>
        </dl>
      </section>
      <section aria-labelledby="charts-heading" className="mt-8">
        <h2 id="charts-heading" className="mb-3 text-lg font-semibold">
          Trends
        </h2>
        <div className="grid grid-cols-1 gap-4 lg:grid-cols-2">
          <RevenueChart data={d.revenuePerDay} />
          <PaymentsChart data={d.paymentsPerDay} />
          <TimeToPaidChart data={d.timeToPaidPerDay} />
          <LatencyChart data={d.gatewayLatency} />
        </div>
      </section>
    </>
  );
}
