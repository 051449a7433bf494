// The Pages Router serves the catalog (/) and product (/products/[slug]) pages as plain HTML with
// no JavaScript at all (see their `config`); everything else is the App Router.
import type { AppProps } from 'next/app';
import '@/app/globals.css';

export default function BriskApp({ Component, pageProps }: AppProps) {
  return <Component {...pageProps} />;
}
