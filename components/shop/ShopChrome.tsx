// The shop's header (home link, cart link with its count), main column and footer. Shared by the
// App Router's (shop) layout (cart, checkout, orders) and the script-free Pages Router pages
// (catalog, product), so the two render the same markup.
import Link from 'next/link';
import { TestModeBanner } from '@/components/TestModeBanner';

/** `testMode`: the payments are not real (lib/stripe/test-mode.ts), decided on the server per request. */
export function ShopChrome({ count, testMode, children }: { count: number; testMode: boolean; children: React.ReactNode }) {
  return (
    <>
      <TestModeBanner show={testMode} />
      <header className="border-b border-stone-200 bg-white">
        <nav aria-label="Main" className="mx-auto flex max-w-6xl items-center justify-between px-4 py-4">
          <Link href="/" className="text-2xl font-bold tracking-tight text-amber-800">
            Brisk
          </Link>
          <Link href="/cart" className="rounded-full border border-stone-300 px-4 py-2 text-sm font-medium hover:bg-stone-100" data-testid="cart-link">
            Cart <span aria-label={`${count} items in cart`} data-testid="cart-count" className="ml-1 rounded-full bg-amber-700 px-2 py-0.5 text-white">{count}</span>
          </Link>
        </nav>
      </header>
      <main className="mx-auto max-w-6xl px-4 py-8">{children}</main>
      <footer className="mx-auto max-w-6xl px-4 py-8 text-sm text-stone-500">Brisk — payments by Stripe. Card details never touch our servers.</footer>
    </>
  );
}
