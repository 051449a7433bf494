import type { Metadata } from 'next';
import { TestModeBanner } from '@/components/TestModeBanner';
import { config } from '@/lib/config';
import { paymentsAreTest } from '@/lib/stripe/test-mode';

export const metadata: Metadata = { title: { default: 'Admin', template: '%s · Brisk admin' }, robots: { index: false, follow: false } };

// Outside the session check: the sign-in page must be reachable signed out.
export default function AdminAuthLayout({ children }: { children: React.ReactNode }) {
  return (
    <>
      <TestModeBanner show={paymentsAreTest(config())} />
      <main className="mx-auto flex min-h-screen max-w-md flex-col justify-center px-4 py-12">{children}</main>
    </>
  );
}
