import type { Metadata } from 'next';
import Link from 'next/link';
import { CardTestingSection } from '@/components/admin/CardTestingSection';
import { SubmitButton } from '@/components/admin/SubmitButton';
import { Notice, Section, TableWrap, buttonSecondary, formatDateTime, td, th } from '@/components/admin/ui';
import { requireAdmin } from '@/lib/admin/session';
import { loadOpsData } from '@/lib/admin/views';
import { prisma, gatewayState } from '@/lib/services';
import { jobsRunning, queueDepths, webhookLagSeconds, type QueueDepth } from '@/lib/jobs';
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
        <TableWrap label="Stripe calls">
          <table className="min-w-full">
            <thead>
              <tr>
                <th scope="col" className={th}>Operation</th>
                <th scope="col" className={th}>Outcome</th>
                <th scope="col" className={`${th} text-right`}>Calls</th>
                <th scope="col" className={`${th} text-right`}>Avg ms</th>
                <th scope="col" className={`${th} text-right`}>Max ms</th>
              </tr>
            </thead>
            <tbody>
              {data.calls.map((c) => (
                <tr key={`${c.operation}-${c.outcome}`}>
                  <td className={td}>{c.operation}</td>
                  <td className={td}>{c.outcome}</td>
                  <td className={`${td} text-right`}>{c.count}</td>
                  <td className={`${td} text-right`}>{c.avgMs}</td>
                  <td className={`${td} text-right`}>{c.maxMs}</td>
                </tr>
              ))}
              {data.calls.length === 0 && <tr><td colSpan={5} className={td}>No calls recorded.</td></tr>}
            </tbody>
          </table>
        </TableWrap>
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
        <TableWrap label="Dead-lettered events">
          <table className="min-w-full" data-testid="dead-events">
            <thead>
              <tr>
                <th scope="col" className={th}>Event</th>
                <th scope="col" className={th}>Type</th>
                <th scope="col" className={th}>Object</th>
                <th scope="col" className={th}>Status</th>
                <th scope="col" className={th}>Attempts</th>
                <th scope="col" className={th}>Last error</th>
                <th scope="col" className={th}>Received</th>
                <th scope="col" className={th}><span className="sr-only">Replay</span></th>
              </tr>
            </thead>
            <tbody>
              {data.dead.map((e) => (
                <tr key={e.id}>
                  <td className={`${td} font-mono text-xs`}>{e.id}</td>
                  <td className={td}>{e.type}</td>
                  <td className={`${td} font-mono text-xs`}>{e.objectId ?? '—'}</td>
                  <td className={td}>{e.status}</td>
                  <td className={td}>{e.attempts}</td>
                  <td className={`${td} break-all text-xs`}>{e.lastError?.slice(0, 200) ?? '—'}</td>
                  <td className={`${td} whitespace-nowrap`}>{formatDateTime(e.receivedAt)}</td>
                  <td className={td}>
                    <form action={replayEventAction}>
                      <input type="hidden" name="eventId" value={e.id} />
                      <SubmitButton className={buttonSecondary} pendingText="Queuing…">Replay</SubmitButton>
                    </form>
                  </td>
                </tr>
              ))}
              {data.dead.length === 0 && <tr><td colSpan={8} className={td}>No dead or failed events.</td></tr>}
            </tbody>
          </table>
        </TableWrap>
      </Section>

      <Section title="Email outbox" id="outbox-heading">
        <p className="text-sm text-stone-700">
          {Object.entries(data.emailCounts).map(([s, n]) => `${n} ${s}`).join(' · ') || 'No emails.'} · <Link href="/admin/emails" className="text-amber-800 underline">Open the outbox</Link>
        </p>
      </Section>

      <CardTestingSection prisma={db} />

      <Section title="Admin sessions" id="sessions-heading">
        <TableWrap label="Active admin sessions">
          <table className="min-w-full">
            <thead>
              <tr>
                <th scope="col" className={th}>Admin</th>
                <th scope="col" className={th}>Signed in</th>
                <th scope="col" className={th}>Last seen</th>
                <th scope="col" className={th}>Address</th>
                <th scope="col" className={th}>Expires</th>
                <th scope="col" className={th}><span className="sr-only">Revoke</span></th>
              </tr>
            </thead>
            <tbody>
              {data.sessions.map((s) => (
                <tr key={s.id}>
                  <td className={td}>{s.user.email}{s.id === admin.sessionId ? ' (this session)' : ''}</td>
                  <td className={`${td} whitespace-nowrap`}>{formatDateTime(s.createdAt)}</td>
                  <td className={`${td} whitespace-nowrap`}>{formatDateTime(s.lastSeenAt)}</td>
                  <td className={td}>{s.ip ?? '—'}</td>
                  <td className={`${td} whitespace-nowrap`}>{formatDateTime(s.expiresAt)}</td>
                  <td className={td}>
                    <form action={revokeSessionAction}>
                      <input type="hidden" name="sessionId" value={s.id} />
                      <SubmitButton className={buttonSecondary} pendingText="Revoking…">Revoke</SubmitButton>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </Section>
    </>
  );
}
