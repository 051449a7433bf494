// <head> of the script-free Pages Router pages: what the App Router's metadata gives the others.
import Head from 'next/head';
import { SITE_DESCRIPTION, SITE_NAME } from '@/lib/site';

export function PageHead({ title }: { title?: string }) {
  return (
    <Head>
      <title>{title ? `${title} · ${SITE_NAME}` : SITE_NAME}</title>
      <meta name="description" content={SITE_DESCRIPTION} />
      <meta name="viewport" content="width=device-width, initial-scale=1" key="viewport" />
      <link rel="icon" href="/icon.svg" type="image/svg+xml" sizes="any" />
    </Head>
  );
}
