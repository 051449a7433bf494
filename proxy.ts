// Next 16's request proxy (formerly middleware): a fresh CSP nonce and the security headers on
// every page and server action. Next reads the nonce from the request's CSP header and puts it
// on its own scripts; the root layout hands it to the Stripe.js loader via <meta name="csp-nonce">.
import { NextResponse, type NextRequest } from 'next/server';
import { bodyTooLarge, createNonce, isHttpsRequest, securityHeaders } from '@/lib/security/headers';

export function proxy(request: NextRequest) {
  // Server actions post to page paths: refuse a declared oversize body before anyone buffers it.
  if (request.method !== 'GET' && request.method !== 'HEAD' && bodyTooLarge(request.headers.get('content-length'))) {
    return new NextResponse('Request body too large', { status: 413, headers: { 'content-type': 'text/plain; charset=utf-8' } });
  }
  const nonce = createNonce();
  const headers = securityHeaders({
    nonce,
    env: process.env.NODE_ENV,
    stripeJsUrl: process.env.STRIPE_JS_URL,
    stripeApiBase: process.env.STRIPE_API_BASE,
    https: isHttpsRequest(process.env.APP_URL, request.headers.get('x-forwarded-proto'), request.url),
  });
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set('x-nonce', nonce);
  requestHeaders.set('Content-Security-Policy', headers['Content-Security-Policy']);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}

export const config = {
  matcher: [
    {
      // Pages and server actions; not API routes (JSON, no scripts), built assets or images.
      source: '/((?!api/|_next/static|_next/image|favicon\\.ico|.*\\.(?:svg|png|jpg|jpeg|gif|webp|ico)$).*)',
      missing: [
        { type: 'header', key: 'next-router-prefetch' },
        { type: 'header', key: 'purpose', value: 'prefetch' },
      ],
    },
  ],
};
