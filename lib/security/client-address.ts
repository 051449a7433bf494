// Who is on the other end of a request. The address is the TCP peer's unless a proxy we trust
// (TRUSTED_PROXIES) vouches for another one in X-Forwarded-For; trusting none is the default,
// so a client can never choose its own address by sending a header.
//
// Next.js does not hand the peer's address to route handlers or server actions, so Brisk's own
// HTTP server (scripts/serve.ts) works it out per request from the socket and passes it on in
// an internal header that it always overwrites. Everything that needs the client's address
// reads it here, through clientAddressFrom(). No imports from '@/…': the server loads this file
// before Next.js.
import { BlockList, isIP } from 'node:net';

/** Set by our server on every request, whatever the client sent under that name. */
export const CLIENT_ADDRESS_HEADER = 'x-brisk-client-ip';
/** '1' when the request came straight from this machine: a loopback peer and no proxy headers. */
export const CLIENT_LOCAL_HEADER = 'x-brisk-client-local';
/** Both internal headers: our server deletes any copy a client sent before setting its own. */
export const INTERNAL_HEADERS = [CLIENT_ADDRESS_HEADER, CLIENT_LOCAL_HEADER] as const;

export type TrustedProxies =
  | { kind: 'none' }
  /** This many proxies stand in front of us, each appending the address it saw. */
  | { kind: 'hops'; hops: number }
  /** Proxies at these addresses; their X-Forwarded-For entries are believed, right to left. */
  | { kind: 'list'; list: BlockList; text: string };

export class TrustedProxiesError extends Error {}

const KEYWORDS: Record<string, [string, number, 'ipv4' | 'ipv6'][]> = {
  loopback: [
    ['127.0.0.0', 8, 'ipv4'],
    ['::1', 128, 'ipv6'],
  ],
  private: [
    ['10.0.0.0', 8, 'ipv4'],
    ['172.16.0.0', 12, 'ipv4'],
    ['192.168.0.0', 16, 'ipv4'],
    ['fc00::', 7, 'ipv6'],
  ],
};

/**
 * TRUSTED_PROXIES: unset, '' , '0' or 'none' trusts nobody; a number 1–10 is a hop count; else a
 * comma-separated list of addresses, CIDR ranges and the words 'loopback' and 'private'.
 * Throws TrustedProxiesError naming the part it could not read.
 */
export function parseTrustedProxies(value: string | undefined | null): TrustedProxies {
  const text = (value ?? '').trim();
  if (text === '' || text === '0' || text.toLowerCase() === 'none') return { kind: 'none' };
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > 10) throw new TrustedProxiesError(`a hop count must be 0–10, got ${text}`);
    return { kind: 'hops', hops };
  }
  const list = new BlockList();
  for (const raw of text.split(',')) {
    const part = raw.trim().toLowerCase();
    if (!part) continue;
    const keyword = KEYWORDS[part];
    if (keyword) {
      for (const [net, prefix, type] of keyword) list.addSubnet(net, prefix, type);
      continue;
    }
    const [addr, prefixText, extra] = part.split('/');
    const address = normalizeAddress(addr);
    const type = address && isIP(address) === 6 ? 'ipv6' : 'ipv4';
    const max = type === 'ipv6' ? 128 : 32;
    const prefix = prefixText === undefined ? max : /^\d+$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!address || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
      throw new TrustedProxiesError(`"${raw.trim()}" is not an address, a CIDR range, 'loopback' or 'private'`);
    }
    list.addSubnet(address, prefix, type);
  }
  return { kind: 'list', list, text };
}

/**
 * A bare IP address in canonical text, or null: IPv4-mapped IPv6 becomes IPv4, IPv6 is
 * lower-cased, a port or brackets some proxies add ("[2001:db8::1]:443", "1.2.3.4:80") go.
 */
export function normalizeAddress(value: string | null | undefined): string | null {
  if (!value) return null;
  let s = value.trim();
  if (s.length > 64) return null;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracketed) s = bracketed[1];
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(s)) s = s.slice(0, s.lastIndexOf(':'));
  s = s.toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(\.\d{1,3}){3})$/.exec(s);
  if (mapped) s = mapped[1];
  // No zone ids ("fe80::1%eth0"): they are never a client's identity.
  return !s.includes('%') && isIP(s) ? s : null;
}

function isTrusted(list: BlockList, address: string): boolean {
  return list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/** X-Forwarded-For entries, left (the first proxy's client) to right (what the last proxy saw). */
function forwardedEntries(header: string | string[] | undefined | null): string[] {
  if (!header) return [];
  const joined = Array.isArray(header) ? header.join(',') : header;
  // A real chain is a handful of hops; a huge header is someone's noise.
  return joined.slice(0, 2048).split(',').map((e) => e.trim()).filter(Boolean).slice(-32);
}

/**
 * The client's address for a request that arrived from `peer` (the socket's remoteAddress)
 * carrying `forwardedFor` (X-Forwarded-For). Without trusted proxies that is the peer. With a
 * hop count N, the entry N places from the right; with a list, walking from the peer leftwards
 * while the address at hand is a trusted proxy. An entry that is not an address stops the walk
 * at the last address a trusted hop vouched for.
 */
export function resolveClientAddress(peer: string | undefined | null, forwardedFor: string | string[] | undefined | null, trusted: TrustedProxies): string | null {
  const peerAddress = normalizeAddress(peer);
  if (!peerAddress || trusted.kind === 'none') return peerAddress;
  const entries = forwardedEntries(forwardedFor);
  let address = peerAddress;
  if (trusted.kind === 'hops') {
    for (let i = 0; i < trusted.hops && entries.length; i++) {
      const next = normalizeAddress(entries.pop());
      if (!next) break;
      address = next;
    }
    return address;
  }
  while (entries.length && isTrusted(trusted.list, address)) {
    const next = normalizeAddress(entries.pop());
    if (!next) break;
    address = next;
  }
  return address;
}

interface HeaderReader {
  get(name: string): string | null;
}

// Our server marks the process it runs Next.js in. Without the mark (`next dev`, or `next start`
// run by hand) nobody overwrote the header, so a client could have sent it: it is ignored. A
// global symbol: scripts/serve.ts (outside Next.js) sets it, the bundles' copies read it.
const SERVED_MARK = Symbol.for('brisk.clientAddressServer');

/** Called once by scripts/serve.ts, in the process that also runs Next.js. */
export function markClientAddressServer(): void {
  (globalThis as Record<symbol, unknown>)[SERVED_MARK] = true;
}

export function clientAddressServerRunning(): boolean {
  return (globalThis as Record<symbol, unknown>)[SERVED_MARK] === true;
}

/**
 * The client's address as our server determined it, or null (not served by our server, or no
 * usable peer address). The one way route handlers, server actions and pages get it.
 */
export function clientAddressFrom(headers: HeaderReader, served = clientAddressServerRunning()): string | null {
  if (!served) return null;
  return normalizeAddress(headers.get(CLIENT_ADDRESS_HEADER));
}

/**
 * True for a request straight from this machine (a loopback TCP peer that sent no forwarding
 * header), as our server saw it. Next.js itself fills X-Forwarded-For in from the socket, so
 * only the server, before Next, can tell.
 */
export function isDirectLocalRequest(headers: HeaderReader, served = clientAddressServerRunning()): boolean {
  return served && headers.get(CLIENT_LOCAL_HEADER) === '1';
}

/** What our server sets for a request from `peer` with these incoming headers. */
export function internalHeadersFor(peer: string | undefined | null, incoming: { 'x-forwarded-for'?: string | string[]; forwarded?: string | string[]; 'x-real-ip'?: string | string[] }, trusted: TrustedProxies): { address: string | null; local: boolean } {
  const address = resolveClientAddress(peer, incoming['x-forwarded-for'], trusted);
  const forwarded = incoming['x-forwarded-for'] !== undefined || incoming.forwarded !== undefined || incoming['x-real-ip'] !== undefined;
  return { address, local: !forwarded && isLoopbackAddress(normalizeAddress(peer)) };
}

/** Loopback (127.0.0.0/8, ::1): this machine. */
export function isLoopbackAddress(address: string | null | undefined): boolean {
  const a = normalizeAddress(address);
  return a !== null && (a === '::1' || /^127\./.test(a));
}
