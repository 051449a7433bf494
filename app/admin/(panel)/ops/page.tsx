import type { Metadata } from 'next';
import Link from 'next/link';
import { CardTestingSection } from '@/components/admin/CardTestingSection';
import { SubmitButton } from '@/components/admin/SubmitButton';
import { DataTable } from '@/components/admin/DataTable';
import { Notice, Section, buttonSecondary } from '@/components/admin/ui';
import { requireAdmin } from '@/lib/admin/session';
import { loadOpsData } from '@/lib/admin/views';
import { prisma, gatewayState } from '@/lib/services';
import { jobsRunning, queueDepths, type QueueDepth } from '@/lib/jobs';
import { webhookLagSeconds } from '@/lib/orders/stripe-events';
import { replayEventAction, revokeSessionAction } from '../actions';

export const metadata: Metadata = { title: 'Operations' };

function Stat({ label, value, tone }: { label: string; value: React.ReactNode; tone?: 'bad' | 'warn' }) {
  return (
    <div className="rounded-lg border border-stone-200 bg-white p-3">
      <dt className="text-xs uppercase text-stone-600">{label}</dt>
      <dd className={`text-lg font-semibold ${tone === 'bad' ? 'text-red-800' : tone === 'warn' ? 'text-amber-800' : ''}`}>{value}</dd>
    </div>
  );
}

/** One button that posts a row's id to a server action (replay an event, revoke a session). */
function RowAction({ action, name, value, text, pendingText }: { action: (form: FormData) => Promise<void>; name: string; value: string; text: string; pendingText: string }) {
  return (
    <form action={action}>
      <input type="hidden" name={name} value={value} />
      <SubmitButton className={buttonSecondary} pendingText={pendingText}>{text}</SubmitButton>
    </form>
  );
}

export default async function OpsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const admin = await requireAdmin();
  const sp = await searchParams;
  const db = await prisma();
  const [data, lag] = await Promise.all([loadOpsData(db), webhookLagSeconds(db)]);
  let depths: Record<string, QueueDepth> | null = null;
  try {
    depths = jobsRunning().started ? await queueDepths() : null;
  } catch {
    depths = null;
  }
  const gw = gatewayState();
  return (
    <>
      <h1 className="text-2xl font-bold">Operations</h1>
      <div className="mt-4">
        <Notice notice={typeof sp.notice === 'string' ? sp.notice : undefined} tone={typeof sp.tone === 'string' ? sp.tone : undefined} />
      </div>

      <Section title="Stripe gateway" id="gateway-heading">
        <dl className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6">
          <Stat label="Alert" value={gw.alert} tone={gw.alert === 'ok' ? undefined : 'bad'} />
          <Stat label="Breaker" value={gw.breaker.replace('_', ' ')} tone={gw.breaker === 'closed' ? undefined : 'bad'} />
          <Stat label="Concurrency limit" value={`${gw.limit} (${gw.concurrency})`} />
          <Stat label="In flight / queued" value={`${gw.inFlight} / ${gw.queued}`} />
          <Stat label="Latency recent / baseline" value={`${Math.round(gw.latency.recentMs)} / ${Math.round(gw.latency.baselineMs)} ms`} />
          <Stat label="Error rate" value={`${(gw.errorRate.recent * 100).toFixed(1)}%`} tone={gw.errorRate.recent > 0.1 ? 'warn' : undefined} />
        </dl>
        {gw.alertReasons.length > 0 && (
          <ul className="mt-2 list-disc pl-5 text-sm text-stone-700">
            {gw.alertReasons.map((r) => <li key={r}>{r}</li>)}
          </ul>
        )}
        <h3 className="mt-4 text-sm font-semibold">Stripe calls, last 15 minutes (all instances)</h3>
        <DataTable
          label="Stripe calls"
          rows={data.calls}
          rowKey={(c) => `${c.operation}-${c.outcome}`}
          empty="No calls recorded."
          columns={[
            { header: 'Operation', cell: (c) => c.operation },
            { header: 'Outcome', cell: (c) => c.outcome },
            { header: 'Calls', align: 'right', cell: (c) => c.count },
            { header: 'Avg ms', align: 'right', cell: (c) => c.avgMs },
            { header: 'Max ms', align: 'right', cell: (c) => c.maxMs },
          ]}
        />
      </Section>

      <Section title="Webhooks and queues" id="queues-heading">
        <dl className="grid grid-cols-2 gap-3 sm:grid-cols-4">
          <Stat label="Webhook lag" value={`${Math.round(lag)} s`} tone={lag > 300 ? 'bad' : lag > 60 ? 'warn' : undefined} />
          {(['received', 'processed', 'failed', 'dead'] as const).map((s) => (
            <Stat key={s} label={`Events ${s}`} value={data.eventCounts[s] ?? 0} tone={s === 'dead' && data.eventCounts[s] ? 'bad' : undefined} />
          ))}
        </dl>
        {depths ? (
          <dl className="mt-3 grid grid-cols-2 gap-3 sm:grid-cols-5">
            {Object.entries(depths).map(([name, d]) => <Stat key={name} label={`Queue ${name}`} value={`${d.queued} waiting · ${d.active} running`} />)}
          </dl>
        ) : (
          <p className="mt-3 text-sm text-stone-600">The job system is not running in this process; queue depths are unavailable here.</p>
        )}
      </Section>

      <Section title="Dead-lettered Stripe events" id="dead-heading">
        <DataTable
          label="Dead-lettered events"
          testId="dead-events"
          rows={data.dead}
          empty="No dead or failed events."
          columns={[
            { header: 'Event', className: 'font-mono text-xs', cell: (e) => e.id },
            { header: 'Type', cell: (e) => e.type },
            { header: 'Object', className: 'font-mono text-xs', cell: (e) => e.objectId ?? '—' },
            { header: 'Status', cell: (e) => e.status },
            { header: 'Attempts', cell: (e) => e.attempts },
            { header: 'Last error', className: 'break-all text-xs', cell: (e) => e.lastError?.slice(0, 200) ?? '—' },
            { header: 'Received', date: (e) => e.receivedAt },
            {
              header: <span className="sr-only">Replay</span>,
              cell: (e) => <RowAction action={replayEventAction} name="eventId" value={e.id} text="Replay" pendingText="Queuing…" />,
            },
          ]}
        />
      </Section>

      <Section title="Email outbox" id="outbox-heading">
        <p className="text-sm text-stone-700">
          {Object.entries(data.emailCounts).map(([s, n]) => `${n} ${s}`).join(' · ') || 'No emails.'} · <Link href="/admin/emails" className="text-amber-800 underline">Open the outbox</Link>
        </p>
      </Section>

      <CardTestingSection prisma={db} />

      <Section title="Admin sessions" id="sessions-heading">
        <DataTable
          label="Active admin sessions"
          rows={data.sessions}
          columns={[
            { header: 'Admin', cell: (s) => `${s.user.email}${s.id === admin.sessionId ? ' (this session)' : ''}` },
            { header: 'Signed in', date: (s) => s.createdAt },
            { header: 'Last seen', date: (s) => s.lastSeenAt },
            { header: 'Address', cell: (s) => s.ip ?? '—' },
            { header: 'Expires', date: (s) => s.expiresAt },
            {
              header: <span className="sr-only">Revoke</span>,
              cell: (s) => <RowAction action={revokeSessionAction} name="sessionId" value={s.id} text="Revoke" pendingText="Revoking…" />,
            },
          ]}
        />
      </Section>
    </>
  );
}
