// Operations page: the card-testing picture — checkout keys cooling down or collecting declines,
// and bursts of declines from one client address (many cards, small amounts) in the last hour.
import { DataTable } from '@/components/admin/DataTable';
import { Section } from '@/components/admin/ui';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { SMALL_AMOUNT, cardTestingOverview } from '@/lib/security/throttle';

const SCOPE_LABEL = { cart: 'Cart', email: 'Email', ip: 'Address' } as const;

export async function CardTestingSection({ prisma }: { prisma: PrismaClient }) {
  const { keys, bursts } = await cardTestingOverview(prisma);
  return (
    <Section title="Card testing" id="card-testing-heading">
      <p className="mb-2 text-sm text-stone-700">Checkout limits per cart, email and address; a key cools down after repeated declines.</p>
      <DataTable
        label="Throttled checkout keys"
        testId="throttled-keys"
        rows={keys}
        rowKey={(k) => `${k.scope}:${k.subject}`}
        empty="No checkout key is cooling down or collecting declines."
        columns={[
          { header: 'Scope', cell: (k) => SCOPE_LABEL[k.scope] ?? k.scope },
          { header: 'Key', className: 'break-all font-mono text-xs', cell: (k) => k.subject },
          { header: 'Attempts', align: 'right', cell: (k) => k.attempts },
          { header: 'Declines', align: 'right', className: (k) => (k.declines >= 3 ? 'font-semibold text-red-800' : ''), cell: (k) => k.declines },
          { header: 'Blocked until', date: (k) => k.blockedUntil },
          { header: 'Last seen', date: (k) => k.updatedAt },
        ]}
      />
      <h3 className="mt-4 text-sm font-semibold">Decline bursts, last hour (3 or more declines from one address)</h3>
      <DataTable
        label="Decline bursts"
        testId="decline-bursts"
        rows={bursts}
        rowKey={(b) => b.clientIp ?? 'unknown'}
        empty="No decline bursts in the last hour."
        columns={[
          { header: 'Address', className: 'font-mono text-xs', cell: (b) => b.clientIp ?? 'unknown' },
          { header: 'Attempts', align: 'right', cell: (b) => b.attempts },
          { header: 'Declines', align: 'right', className: 'font-semibold text-red-800', cell: (b) => b.declines },
          { header: 'Cards', align: 'right', cell: (b) => b.distinctCards },
          { header: 'Emails', align: 'right', cell: (b) => b.distinctEmails },
          { header: `Small (≤ ${SMALL_AMOUNT / 100})`, align: 'right', cell: (b) => b.smallAmountAttempts },
          { header: 'Last attempt', date: (b) => b.lastAt },
        ]}
      />
    </Section>
  );
}
