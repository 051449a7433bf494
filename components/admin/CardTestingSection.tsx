// Operations page: the card-testing picture — checkout keys cooling down or collecting declines,
// and bursts of declines from one client address (many cards, small amounts) in the last hour.
import { Section, TableWrap, formatDateTime, td, th } from '@/components/admin/ui';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { SMALL_AMOUNT, cardTestingOverview } from '@/lib/security/throttle';

const SCOPE_LABEL = { cart: 'Cart', email: 'Email', ip: 'Address' } as const;

export async function CardTestingSection({ prisma }: { prisma: PrismaClient }) {
  const { keys, bursts } = await cardTestingOverview(prisma);
  return (
    <Section title="Card testing" id="card-testing-heading">
      <p className="mb-2 text-sm text-stone-700">Checkout limits per cart, email and address; a key cools down after repeated declines.</p>
      <TableWrap label="Throttled checkout keys">
        <table className="min-w-full" data-testid="throttled-keys">
          <thead>
            <tr>
              <th scope="col" className={th}>Scope</th>
              <th scope="col" className={th}>Key</th>
              <th scope="col" className={`${th} text-right`}>Attempts</th>
              <th scope="col" className={`${th} text-right`}>Declines</th>
              <th scope="col" className={th}>Blocked until</th>
              <th scope="col" className={th}>Last seen</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={`${k.scope}:${k.subject}`}>
                <td className={td}>{SCOPE_LABEL[k.scope] ?? k.scope}</td>
                <td className={`${td} break-all font-mono text-xs`}>{k.subject}</td>
                <td className={`${td} text-right`}>{k.attempts}</td>
                <td className={`${td} text-right ${k.declines >= 3 ? 'font-semibold text-red-800' : ''}`}>{k.declines}</td>
                <td className={`${td} whitespace-nowrap`}>{k.blockedUntil ? formatDateTime(k.blockedUntil) : '—'}</td>
                <td className={`${td} whitespace-nowrap`}>{formatDateTime(k.updatedAt)}</td>
              </tr>
            ))}
            {keys.length === 0 && <tr><td colSpan={6} className={td}>No checkout key is cooling down or collecting declines.</td></tr>}
          </tbody>
        </table>
      </TableWrap>
      <h3 className="mt-4 text-sm font-semibold">Decline bursts, last hour (3 or more declines from one address)</h3>
      <TableWrap label="Decline bursts">
        <table className="min-w-full" data-testid="decline-bursts">
          <thead>
            <tr>
              <th scope="col" className={th}>Address</th>
              <th scope="col" className={`${th} text-right`}>Attempts</th>
              <th scope="col" className={`${th} text-right`}>Declines</th>
              <th scope="col" className={`${th} text-right`}>Cards</th>
              <th scope="col" className={`${th} text-right`}>Emails</th>
              <th scope="col" className={`${th} text-right`}>Small (≤ {SMALL_AMOUNT / 100})</th>
              <th scope="col" className={th}>Last attempt</th>
            </tr>
          </thead>
          <tbody>
            {bursts.map((b) => (
              <tr key={b.clientIp ?? 'unknown'}>
                <td className={`${td} font-mono text-xs`}>{b.clientIp ?? 'unknown'}</td>
                <td className={`${td} text-right`}>{b.attempts}</td>
                <td className={`${td} text-right font-semibold text-red-800`}>{b.declines}</td>
                <td className={`${td} text-right`}>{b.distinctCards}</td>
                <td className={`${td} text-right`}>{b.distinctEmails}</td>
                <td className={`${td} text-right`}>{b.smallAmountAttempts}</td>
                <td className={`${td} whitespace-nowrap`}>{formatDateTime(b.lastAt)}</td>
              </tr>
            ))}
            {bursts.length === 0 && <tr><td colSpan={7} className={td}>No decline bursts in the last hour.</td></tr>}
          </tbody>
        </table>
      </TableWrap>
    </Section>
  );
}
