'use client';
// Dashboard charts (recharts). Data arrives as plain numbers from the server component.
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

function ChartFrame({ title, description, children, empty }: { title: string; description: string; children: React.ReactElement; empty: boolean }) {
  return (
    <figure className="rounded-lg border border-stone-200 bg-white p-4">
      <figcaption className="mb-2">
        <h3 className="text-base font-semibold">{title}</h3>
        <p className="text-xs text-stone-600">{description}</p>
      </figcaption>
      {empty ? (
        <p className="py-12 text-center text-sm text-stone-500">No data yet.</p>
      ) : (
        <div className="h-56 w-full" role="img" aria-label={`${title} chart`}>
          <ResponsiveContainer width="100%" height="100%">
            {children}
          </ResponsiveContainer>
        </div>
      )}
    </figure>
  );
}

const money = (minor: number) => (minor / 100).toLocaleString('en-US', { maximumFractionDigits: 0 });

export function RevenueChart({ data }: { data: { day: string; net: number; refunded: number }[] }) {
  return (
    <ChartFrame title="Revenue per day" description="Payments minus refunds, last 30 days" empty={data.every((d) => d.net === 0 && d.refunded === 0)}>
      <BarChart data={data}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="day" tickFormatter={(d: string) => d.slice(5)} fontSize={11} />
        <YAxis tickFormatter={money} fontSize={11} />
        <Tooltip formatter={(v) => money(Number(v))} />
        <Legend />
        <Bar dataKey="net" name="Net revenue" fill="#92400e" />
        <Bar dataKey="refunded" name="Refunded" fill="#d6d3d1" />
      </BarChart>
    </ChartFrame>
  );
}

export function PaymentsChart({ data }: { data: { day: string; succeeded: number; failed: number }[] }) {
  return (
    <ChartFrame title="Payments succeeded vs failed" description="Payment attempts per day" empty={data.every((d) => d.succeeded === 0 && d.failed === 0)}>
      <BarChart data={data}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="day" tickFormatter={(d: string) => d.slice(5)} fontSize={11} />
        <YAxis allowDecimals={false} fontSize={11} />
        <Tooltip />
        <Legend />
        <Bar dataKey="succeeded" name="Succeeded" stackId="a" fill="#15803d" />
        <Bar dataKey="failed" name="Failed" stackId="a" fill="#b91c1c" />
      </BarChart>
    </ChartFrame>
  );
}

export function TimeToPaidChart({ data }: { data: { day: string; avgSeconds: number; p95Seconds: number }[] }) {
  return (
    <ChartFrame title="Time from payment to Paid" description="Seconds from the attempt to the order becoming paid" empty={data.length === 0}>
      <LineChart data={data}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="day" tickFormatter={(d: string) => d.slice(5)} fontSize={11} />
        <YAxis fontSize={11} />
        <Tooltip />
        <Legend />
        <Line type="monotone" dataKey="avgSeconds" name="Average (s)" stroke="#92400e" />
        <Line type="monotone" dataKey="p95Seconds" name="p95 (s)" stroke="#0369a1" />
      </LineChart>
    </ChartFrame>
  );
}

export function LatencyChart({ data }: { data: { time: string; avgMs: number; maxMs: number; calls: number; errors: number }[] }) {
  return (
    <ChartFrame title="Stripe call latency" description="Per 15 minutes, last 24 hours (UTC)" empty={data.length === 0}>
      <LineChart data={data}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="time" fontSize={11} />
        <YAxis fontSize={11} />
        <Tooltip />
        <Legend />
        <Line type="monotone" dataKey="avgMs" name="Average (ms)" stroke="#92400e" />
        <Line type="monotone" dataKey="maxMs" name="Max (ms)" stroke="#b91c1c" />
      </LineChart>
    </ChartFrame>
  );
}
