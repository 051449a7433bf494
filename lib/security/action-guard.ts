// Posts to pages (server actions, the no-JavaScript sign-in form, the product page's form) are
// judged by our server before Next.js sees them. Next answers a cross-origin action, a body it
// cannot decode and a body over its limit with a 500, a digest and an error log; these are the
// client's mistakes (or an attack), so they get a 4xx and a warning instead. Pure: the server
// (scripts/serve.ts) passes the request's method, path, headers and, for actions, its body.

/** Server-action bodies: the same cap as next.config's serverActions.bodySizeLimit (100 kb). */
export const MAX_ACTION_BODY_BYTES = 100 * 1024;
// Next's server-reference ids: 42 hex digits.
const ACTION_ID = /^[0-9a-f]{42}$/;

export interface PostHeaders {
  origin?: string;
  host?: string;
  'x-forwarded-host'?: string;
  'content-type'?: string;
  'content-length'?: string;
  'transfer-encoding'?: string;
  'next-action'?: string;
}

export type GuardKind = 'cross_origin' | 'too_large' | 'length_required' | 'malformed';
export type GuardDecision = { ok: true; readBody: boolean } | { ok: false; status: 400 | 403 | 411 | 413; kind: GuardKind; reason: string };

const refuse = (status: 400 | 403 | 411 | 413, kind: GuardKind, reason: string): GuardDecision => ({ ok: false, status, kind, reason });

/** POSTs that reach page routes, not route handlers (/api/…) or Next's own files. */
export function isPagePost(method: string | undefined, path: string): boolean {
  return method === 'POST' && !path.startsWith('/api/') && !path.startsWith('/_next/');
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

/** A server action: Next's fetch protocol (Next-Action header) or a form posted as multipart. */
export function isActionPost(h: PostHeaders): boolean {
  return h['next-action'] !== undefined || mediaType(h['content-type']) === 'multipart/form-data';
}

/**
 * True when the browser says the post comes from our own origin, or says nothing (not a
 * browser: it holds no shopper's cookies). Compared like Next does, with the forwarded host,
 * and also accepting APP_URL's host.
 */
export function isSameOrigin(h: PostHeaders, appUrl?: string): boolean {
  const origin = h.origin;
  if (origin === undefined) return true;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return false; // 'null' (sandboxed frames, privacy redirects) and garbage
  }
  const host = h['x-forwarded-host']?.split(',')[0].trim() || h.host;
  if (host && originHost === host.toLowerCase()) return true;
  if (appUrl) {
    try {
      return new URL(appUrl).host === originHost;
    } catch {
      return false;
    }
  }
  return false;
}

/** Judges a page POST from its headers; `readBody` asks for the body to be checked by checkActionBody. */
export function checkPagePost(h: PostHeaders, appUrl?: string): GuardDecision {
  if (!isSameOrigin(h, appUrl)) return refuse(403, 'cross_origin', 'the Origin header is not this shop');
  if (!isActionPost(h)) return { ok: true, readBody: false };
  const action = h['next-action'];
  if (action !== undefined && !ACTION_ID.test(action)) return refuse(400, 'malformed', 'the Next-Action header is not an action id');
  const length = h['content-length'];
  if (length === undefined) {
    // Browsers always say how long an action's body is; a stream of unknown length would have to
    // be read in full before it could be judged.
    return h['transfer-encoding'] ? refuse(411, 'length_required', 'an action body needs a Content-Length') : { ok: true, readBody: false };
  }
  if (!/^\d{1,12}$/.test(length)) return refuse(400, 'malformed', 'the Content-Length is not a number');
  if (Number(length) > MAX_ACTION_BODY_BYTES) return refuse(413, 'too_large', `the body is over ${MAX_ACTION_BODY_BYTES} bytes`);
  return { ok: true, readBody: true };
}

/**
 * Whether an action body can be decoded at all: a fetch action's text body is the JSON that
 * React's encodeReply writes; a multipart body must parse as form data with its boundary.
 */
export async function checkActionBody(h: PostHeaders, body: Buffer): Promise<GuardDecision> {
  const type = mediaType(h['content-type']);
  if (type === 'multipart/form-data') {
    if (!/boundary=/i.test(h['content-type'] ?? '')) return refuse(400, 'malformed', 'a multipart body without a boundary');
    try {
      await new Response(new Uint8Array(body), { headers: { 'content-type': h['content-type']! } }).formData();
    } catch {
      return refuse(400, 'malformed', 'the multipart body does not parse');
    }
    return { ok: true, readBody: true };
  }
  if (h['next-action'] === undefined) return { ok: true, readBody: true };
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    return refuse(400, 'malformed', 'the action body is not the JSON an action sends');
  }
  if (!Array.isArray(value)) return refuse(400, 'malformed', 'the action arguments are not a list');
  if (!onlyInlineValues(value)) return refuse(400, 'malformed', 'the action body refers to parts it does not have');
  return { ok: true, readBody: true };
}

// React's reply format marks special values with a leading '$'. A text body is one row: React
// sends form data whenever a value needs another row (maps, sets, promises, blobs, server
// references), so in a text body only the self-contained markers can appear. Anything else
// would make React's decoder throw inside Next (a 500).
const INLINE_MARKER = /^\$(\$|u$|NaN$|Infinity$|-Infinity$|-0$|D|n-?\d|T)/;

function onlyInlineValues(value: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (typeof value === 'string') return !value.startsWith('$') || INLINE_MARKER.test(value);
  if (Array.isArray(value)) return value.every((v) => onlyInlineValues(v, depth + 1));
  if (value && typeof value === 'object') return Object.values(value).every((v) => onlyInlineValues(v, depth + 1));
  return true;
}
