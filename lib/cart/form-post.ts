// A plain HTML form POST to a Pages Router page (the product page's "Add to cart"), read from the
// raw request: same-origin only (as Next checks its server actions), urlencoded, size-capped.
import type { IncomingMessage } from 'node:http';

const MAX_FORM_BYTES = 16 * 1024;

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** False when the browser says the form came from another origin. A POST without Origin (no
 * current browser sends one) passes, as with Next's server actions; the cart cookie is SameSite=Lax. */
export function isSameOriginPost(req: IncomingMessage): boolean {
  const origin = first(req.headers.origin);
  if (!origin) return true;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return false;
  }
  const host = first(req.headers['x-forwarded-host'])?.split(',')[0].trim() || first(req.headers.host);
  return !!host && originHost === host;
}

/** The posted fields, or null when the body is not a small urlencoded form. */
export async function readPostedForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  const type = (first(req.headers['content-type']) ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return null;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return null;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
