'use client';
// Replaces the root layout when it fails itself: its own <html>, no message, no stack.
import './globals.css';

export default function GlobalError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <html lang="en">
      <body className="min-h-screen bg-stone-50 text-stone-900 antialiased">
        <main className="mx-auto max-w-xl px-4 py-24 text-center" data-testid="error-page">
          <h1 className="text-3xl font-bold">Something went wrong</h1>
          <p className="mt-2 text-stone-600">Brisk is having trouble right now. Your cart is saved — please try again in a moment.</p>
          {error.digest && <p className="mt-2 text-xs text-stone-500">Reference: {error.digest}</p>}
          <button type="button" onClick={() => reset()} className="mt-6 rounded-md bg-amber-700 px-5 py-2.5 font-semibold text-white">
            Try again
          </button>
        </main>
      </body>
    </html>
  );
}
