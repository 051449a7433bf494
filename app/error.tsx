'use client';
// A calm page for any error below the root layout. In production Next replaces a server error's
// message with a digest; we show neither message nor stack, only the digest as a reference.
import Link from 'next/link';

export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <main className="mx-auto max-w-xl px-4 py-24 text-center" data-testid="error-page">
      <h1 className="text-3xl font-bold">Something went wrong</h1>
      <p className="mt-2 text-stone-600">We could not show this page. Your cart is saved — please try again in a moment.</p>
      {error.digest && <p className="mt-2 text-xs text-stone-500">Reference: {error.digest}</p>}
      <div className="mt-6 flex justify-center gap-3">
        <button type="button" onClick={() => reset()} className="rounded-md bg-amber-700 px-5 py-2.5 font-semibold text-white">
          Try again
        </button>
        <Link href="/" className="rounded-md border border-stone-300 px-5 py-2.5 font-semibold">
          Back to the shop
        </Link>
      </div>
    </main>
  );
}
