// Who may read operational detail: /api/metrics (business volume, Stripe health) and the full
// /api/health report. Anyone presenting METRICS_TOKEN as a Bearer token; without the token,
// only a client on this machine talking to us directly — the TCP peer is loopback (as our
// server determined it) and no proxy forwarded the request. The public gets ready/not ready.
import 'server-only';
import { timingSafeEqual, createHash } from 'node:crypto';
import { isDirectLocalRequest } from '@/lib/security/client-address';

interface HeaderReader {
  get(name: string): string | null;
}

function sameSecret(a: string, b: string): boolean {
  // Hashing first gives equal lengths, so the comparison takes the same time whatever was sent.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function hasMetricsToken(headers: HeaderReader, token: string | undefined): boolean {
  if (!token) return false;
  const m = /^Bearer\s+(\S+)$/i.exec(headers.get('authorization') ?? '');
  return m !== null && sameSecret(m[1], token);
}

/** A direct request from this machine: a loopback peer, with no proxy's forwarding headers. */
export function isLocalRequest(headers: HeaderReader): boolean {
  return isDirectLocalRequest(headers);
}

export type Access = 'allowed' | 'needs_token' | 'local_only';

/** /api/metrics: the token when one is set; without one, local requests only. */
export function metricsAccess(headers: HeaderReader, token: string | undefined): Access {
  if (token) return hasMetricsToken(headers, token) ? 'allowed' : 'needs_token';
  return isLocalRequest(headers) ? 'allowed' : 'local_only';
}

/** /api/health's details: the token, or a local request. */
export function healthDetailsAllowed(headers: HeaderReader, token: string | undefined): boolean {
  return hasMetricsToken(headers, token) || isLocalRequest(headers);
}
