// The Pages Router's document: the same <html>/<body> as app/layout.tsx, and the request's CSP
// nonce (made by proxy.ts) on Next's tags and in <meta name="csp-nonce">, as on App Router pages.
import Document, { Head, Html, Main, NextScript, type DocumentContext, type DocumentInitialProps } from 'next/document';

type Props = DocumentInitialProps & { nonce?: string };

export default class BriskDocument extends Document<Props> {
  static async getInitialProps(ctx: DocumentContext): Promise<Props> {
    const initial = await Document.getInitialProps(ctx);
    const nonce = ctx.req?.headers['x-nonce'];
    return { ...initial, nonce: typeof nonce === 'string' ? nonce : undefined };
  }

  render() {
    const { nonce } = this.props;
    return (
      <Html lang="en">
        <Head nonce={nonce}>{nonce && <meta name="csp-nonce" content={nonce} />}</Head>
        <body className="min-h-screen bg-stone-50 text-stone-900 antialiased">
          <Main />
          <NextScript nonce={nonce} />
        </body>
      </Html>
    );
  }
}
