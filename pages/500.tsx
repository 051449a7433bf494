// A calm page when the catalog or product page fails (the App Router's is app/error.tsx): no
// message, no stack. Static and script-free, like those pages.
import type { PageConfig } from 'next';
import Link from 'next/link';
import { PageHead } from '@/components/shop/PageHead';

export const config: PageConfig = { unstable_runtimeJS: false };

export default function ServerErrorPage() {
  return (
    <>
      <PageHead />
      <main className="mx-auto max-w-xl px-4 py-24 text-center" data-testid="error-page">
        <h1 className="text-3xl font-bold">Something went wrong</h1>
        <p className="mt-2 text-stone-600">We could not show this page. Your cart is saved — please try again in a moment.</p>
        <div className="mt-6 flex justify-center gap-3">
          <Link href="/" className="rounded-md border border-stone-300 px-5 py-2.5 font-semibold">
            Back to the shop
          </Link>
        </div>
      </main>
    </>
  );
}
