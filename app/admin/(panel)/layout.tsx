import type { Metadata } from 'next';
import Link from 'next/link';
import { SubmitButton } from '@/components/admin/SubmitButton';
import { TestModeBanner } from '@/components/TestModeBanner';
import { config } from '@/lib/config';
import { prisma } from '@/lib/services';
import { paymentsAreTest } from '@/lib/stripe/test-mode';
import { requireAdmin } from '@/lib/admin/session';
import { signOutAction } from './actions';

export const metadata: Metadata = { title: { default: 'Admin', template: '%s · Brisk admin' }, robots: { index: false, follow: false } };

const NAV = [
  { href: '/admin', label: 'Dashboard' },
  { href: '/admin/orders', label: 'Orders' },
  { href: '/admin/review', label: 'Review' },
  { href: '/admin/reconciliation', label: 'Reconciliation' },
  { href: '/admin/ops', label: 'Operations' },
  { href: '/admin/emails', label: 'Emails' },
  { href: '/admin/account', label: 'Account' },
];

// The one session check for every admin page; actions and route handlers check again.
export default async function AdminPanelLayout({ children }: { children: React.ReactNode }) {
  const admin = await requireAdmin();
  const pendingReview = await (await prisma()).order.count({ where: { reviewStatus: 'pending_review' } });
  return (
    <div className="min-h-screen bg-stone-50">
      <TestModeBanner show={paymentsAreTest(config())} />
      <a href="#admin-main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:rounded focus:bg-white focus:p-2">
        Skip to content
      </a>
      <header className="border-b border-stone-200 bg-white">
        <div className="mx-auto flex max-w-7xl flex-wrap items-center justify-between gap-3 px-4 py-3">
          <Link href="/admin" className="text-xl font-bold text-amber-800">
            Brisk admin
          </Link>
          <nav aria-label="Admin">
            <ul className="flex flex-wrap gap-1 text-sm">
              {NAV.map((n) => (
                <li key={n.href}>
                  <Link href={n.href} className="rounded-md px-3 py-2 hover:bg-stone-100">
                    {n.label}
                    {n.href === '/admin/review' && pendingReview > 0 && (
                      <span className="ml-1 rounded-full bg-red-700 px-1.5 text-xs text-white" aria-label={`${pendingReview} waiting`}>
                        {pendingReview}
                      </span>
                    )}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
          <form action={signOutAction} className="flex items-center gap-2 text-sm">
            <span className="text-stone-600" data-testid="admin-email">
              {admin.email}
            </span>
            <SubmitButton className="rounded-md border border-stone-300 px-3 py-1.5 hover:bg-stone-100" pendingText="Signing out…">
              Sign out
            </SubmitButton>
          </form>
        </div>
      </header>
      <main id="admin-main" className="mx-auto max-w-7xl px-4 py-6">
        {children}
      </main>
    </div>
  );
}
