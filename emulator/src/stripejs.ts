// Serves the browser half of the emulator: Stripe.js (at /v3/ and /<release train>/stripe.js,
// mirroring js.stripe.com), the Payment Element's card iframe and the 3-D Secure challenge
// page. The sources in emulator/browser/ are bundled with esbuild on first use and cached.
// Contract with server.ts: return true when the request was handled.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StripeJsContext {
  /** Public base URL of the emulator, e.g. http://127.0.0.1:12111 */
  origin: string;
}

const BROWSER_DIR = fileURLToPath(new URL('../browser/', import.meta.url));
const FALLBACK_RELEASE_TRAIN = 'endive';

/**
 * The release train @stripe/stripe-js expects (it warns when `Stripe.version` differs),
 * read from the installed package so an upgrade cannot silently drift.
 */
export const RELEASE_TRAIN = readReleaseTrain();

function readReleaseTrain(): string {
  try {
    const require = createRequire(import.meta.url);
    const packageDir = dirname(require.resolve('@stripe/stripe-js/package.json'));
    const source = readFileSync(join(packageDir, 'dist', 'index.js'), 'utf8');
    const match = /RELEASE_TRAIN\s*=\s*['"]([a-z0-9]+)['"]/.exec(source);
    if (match) return match[1];
  } catch {
    // Not installed where we can see it: fall back to the train this emulator was built against.
  }
  return FALLBACK_RELEASE_TRAIN;
}

export const PAYMENT_FRAME_PATH = '/v3/elements-inner-payment.html';

interface Page {
  html: string;
  /** CSP hash of the page's one inline script. */
  scriptHash: string;
}

interface Assets {
  stripeJs: string;
  paymentFrame: Page;
  challenge: Page;
}

let assets: Promise<Assets> | null = null;

/** Bundles the browser sources (once per process); call at start-up to avoid first-request latency. */
export function prepareStripeJs(): Promise<void> {
  return loadAssets().then(() => undefined);
}

function loadAssets(): Promise<Assets> {
  assets ??= buildAssets().catch((error: unknown) => {
    assets = null;
    throw error;
  });
  return assets;
}

async function buildAssets(): Promise<Assets> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: {
      stripe: join(BROWSER_DIR, 'stripe.ts'),
      'payment-frame': join(BROWSER_DIR, 'payment-frame.ts'),
      challenge: join(BROWSER_DIR, 'challenge.ts'),
    },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    outdir: 'out',
    charset: 'utf8',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const output = (name: string): string => {
    const file = result.outputFiles.find((f) => f.path.endsWith(`/${name}.js`));
    if (!file) throw new Error(`esbuild produced no ${name}.js`);
    return file.text;
  };
  return {
    stripeJs: output('stripe'),
    paymentFrame: page('payment-frame.html', output('payment-frame')),
    challenge: page('challenge.html', output('challenge')),
  };
}

function page(template: string, script: string): Page {
  const safe = script.replace(/<\/script/gi, '<\\/script').replace(/<!--/g, '<\\!--');
  const html = readFileSync(join(BROWSER_DIR, template), 'utf8').replace('/*__SCRIPT__*/', () => safe);
  return { html, scriptHash: createHash('sha256').update(safe).digest('base64') };
}

const STRIPE_JS_PATHS = new Set(['/v3', '/v3/', `/${RELEASE_TRAIN}/stripe.js`, `/${RELEASE_TRAIN}/stripe.js/`]);
const CHALLENGE_PATH = /^\/3ds\/(pi_[A-Za-z0-9]+)\/?$/;

type Route = 'stripe.js' | 'payment-frame' | 'challenge';

function route(url: URL): Route | null {
  if (STRIPE_JS_PATHS.has(url.pathname)) return 'stripe.js';
  if (url.pathname === PAYMENT_FRAME_PATH) return 'payment-frame';
  if (CHALLENGE_PATH.test(url.pathname)) return 'challenge';
  return null;
}

export function handleStripeJsRequest(req: IncomingMessage, res: ServerResponse, url: URL, ctx: StripeJsContext): boolean {
  const which = route(url);
  if (!which || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  loadAssets().then(
    (built) => respond(req, res, url, ctx, which, built),
    (error: unknown) => {
      console.error('[emulator] could not bundle Stripe.js:', error);
      send(req, res, 500, { 'Content-Type': 'text/plain; charset=utf-8' }, 'The Stripe emulator could not build Stripe.js; see the emulator log.');
    },
  );
  return true;
}

function respond(req: IncomingMessage, res: ServerResponse, url: URL, ctx: StripeJsContext, which: Route, built: Assets): void {
  switch (which) {
    case 'stripe.js': {
      const prelude = `var __STRIPE_EMULATOR__ = ${JSON.stringify({ origin: ctx.origin, train: RELEASE_TRAIN })};\n`;
      send(
        req,
        res,
        200,
        {
          'Content-Type': 'text/javascript; charset=utf-8',
          'Access-Control-Allow-Origin': '*',
          'Cross-Origin-Resource-Policy': 'cross-origin',
          'Cache-Control': 'no-cache',
        },
        prelude + built.stripeJs,
      );
      return;
    }
    case 'payment-frame':
      send(req, res, 200, framePageHeaders(built.paymentFrame), built.paymentFrame.html);
      return;
    case 'challenge':
      if (!url.searchParams.get('client_secret')) {
        send(req, res, 400, { 'Content-Type': 'text/plain; charset=utf-8' }, 'Missing client_secret.');
        return;
      }
      send(req, res, 200, framePageHeaders(built.challenge), built.challenge.html);
      return;
  }
}

// The frames run only their own inline script and talk only to the emulator itself.
function framePageHeaders(page: Page): Record<string, string> {
  return {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': [
      "default-src 'none'",
      `script-src 'sha256-${page.scriptHash}'`,
      "style-src 'unsafe-inline'",
      "connect-src 'self'",
      "img-src 'self' data:",
      "base-uri 'none'",
      "form-action 'none'",
      'frame-ancestors *',
    ].join('; '),
  };
}

function send(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.headersSent || res.writableEnded) return;
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { ...headers, 'Content-Length': String(bytes.length) });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}
