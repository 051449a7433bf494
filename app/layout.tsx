import type { Metadata } from 'next';
import { headers } from 'next/headers';
import './globals.css';

export const metadata: Metadata = {
  title: { default: 'Brisk', template: '%s · Brisk' },
  description: 'Coffee, tea and the gear to brew them.',
};

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  // proxy.ts makes a nonce per request; the Stripe.js loader puts it on the script it injects.
  const nonce = (await headers()).get('x-nonce') ?? undefined;
  return (
    <html lang="en">
      <head>{nonce && <meta name="csp-nonce" content={nonce} />}</head>
      <body className="min-h-screen bg-stone-50 text-stone-900 antialiased">{children}</body>
    </html>
  );
}
