import { describe, expect, it } from 'vitest';
import { CLIENT_ADDRESS_HEADER, CLIENT_LOCAL_HEADER, clientAddressFrom, internalHeadersFor, isDirectLocalRequest, isLoopbackAddress, normalizeAddress, parseTrustedProxies, resolveClientAddress, TrustedProxiesError } from './client-address';
import { parseConfig, ConfigError } from '@/lib/config';

const none = parseTrustedProxies(undefined);

describe('TRUSTED_PROXIES', () => {
  it('trusts nobody unless told', () => {
    for (const v of [undefined, '', '  ', '0', 'none', 'NONE']) expect(parseTrustedProxies(v).kind).toBe('none');
  });

  it('reads a hop count and a list of addresses, ranges and keywords', () => {
    expect(parseTrustedProxies('2')).toEqual({ kind: 'hops', hops: 2 });
    const list = parseTrustedProxies('10.0.0.0/8, 192.0.2.7, 2001:db8::/32, loopback');
    expect(list.kind).toBe('list');
  });

  it('refuses what it cannot read, naming it', () => {
    for (const bad of ['11', 'abc', '10.0.0.0/33', '10.0.0.1/8/2', '300.1.1.1', '10.0.0.0/x', '::1/129', 'everyone']) {
      expect(() => parseTrustedProxies(bad), bad).toThrow(TrustedProxiesError);
    }
    expect(() => parseConfig({ TRUSTED_PROXIES: '10.0.0.0/99' })).toThrow(ConfigError);
    expect(() => parseConfig({ TRUSTED_PROXIES: '10.0.0.0/99' })).toThrow(/TRUSTED_PROXIES/);
    expect(parseConfig({ TRUSTED_PROXIES: 'loopback,10.0.0.0/8' }).TRUSTED_PROXIES).toBe('loopback,10.0.0.0/8');
  });
});

describe('normalizeAddress', () => {
  it('keeps bare addresses and drops ports, brackets and the IPv4-mapped prefix', () => {
    expect(normalizeAddress('203.0.113.9')).toBe('203.0.113.9');
    expect(normalizeAddress(' 203.0.113.9:4711 ')).toBe('203.0.113.9');
    expect(normalizeAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddress('[2001:DB8::1]:443')).toBe('2001:db8::1');
    expect(normalizeAddress('2001:db8::1')).toBe('2001:db8::1');
  });

  it('is null for anything that is not an address', () => {
    for (const bad of [undefined, null, '', 'unknown', 'localhost', '1.2.3', '1.2.3.4.5', '<script>', 'fe80::1%eth0', '1.2.3.4, 5.6.7.8', 'x'.repeat(100)]) {
      expect(normalizeAddress(bad), String(bad)).toBeNull();
    }
  });
});

describe('resolveClientAddress', () => {
  it('without trusted proxies is the peer, whatever X-Forwarded-For says', () => {
    expect(resolveClientAddress('198.51.100.4', '127.0.0.1', none)).toBe('198.51.100.4');
    expect(resolveClientAddress('::ffff:198.51.100.4', '203.0.113.1, 10.0.0.1', none)).toBe('198.51.100.4');
    expect(resolveClientAddress('127.0.0.1', '203.0.113.77', none)).toBe('127.0.0.1');
    expect(resolveClientAddress(undefined, '203.0.113.77', none)).toBeNull();
  });

  it('with a hop count takes the entry that many places from the right', () => {
    const one = parseTrustedProxies('1');
    // The client forged the first entry; our one proxy appended the address it saw.
    expect(resolveClientAddress('10.0.0.2', '6.6.6.6, 203.0.113.5', one)).toBe('203.0.113.5');
    expect(resolveClientAddress('10.0.0.2', '203.0.113.5', one)).toBe('203.0.113.5');
    const two = parseTrustedProxies('2');
    expect(resolveClientAddress('10.0.0.2', '6.6.6.6, 203.0.113.5, 10.0.0.9', two)).toBe('203.0.113.5');
    // A proxy that sent no header: the peer itself.
    expect(resolveClientAddress('10.0.0.2', undefined, one)).toBe('10.0.0.2');
    // Several header lines are one list.
    expect(resolveClientAddress('10.0.0.2', ['6.6.6.6', '203.0.113.5'], one)).toBe('203.0.113.5');
  });

  it('with a list walks left only while the address at hand is a trusted proxy', () => {
    const lb = parseTrustedProxies('10.0.0.0/8, loopback');
    expect(resolveClientAddress('10.1.2.3', '6.6.6.6, 203.0.113.5', lb)).toBe('203.0.113.5');
    expect(resolveClientAddress('10.1.2.3', '6.6.6.6, 203.0.113.5, 10.9.9.9', lb)).toBe('203.0.113.5');
    // Not from a trusted proxy: the header is ignored.
    expect(resolveClientAddress('198.51.100.4', '203.0.113.5', lb)).toBe('198.51.100.4');
    expect(resolveClientAddress('::1', '203.0.113.5', lb)).toBe('203.0.113.5');
    const v6 = parseTrustedProxies('2001:db8::/32');
    expect(resolveClientAddress('2001:db8::7', '[2001:db9::1]:9', v6)).toBe('2001:db9::1');
  });

  it('stops at the last vouched-for address when an entry is garbage', () => {
    const lb = parseTrustedProxies('10.0.0.0/8');
    expect(resolveClientAddress('10.1.2.3', '203.0.113.5, not-an-ip', lb)).toBe('10.1.2.3');
    expect(resolveClientAddress('10.1.2.3', 'unknown', parseTrustedProxies('1'))).toBe('10.1.2.3');
  });
});

describe('clientAddressFrom', () => {
  const h = (v: Record<string, string>) => new Headers(v);

  it('reads the header our server set, and only when our server set it', () => {
    expect(clientAddressFrom(h({ [CLIENT_ADDRESS_HEADER]: '203.0.113.5' }), true)).toBe('203.0.113.5');
    // Not served by scripts/serve.ts (`next dev`, `next start` by hand): a client could have sent it.
    expect(clientAddressFrom(h({ [CLIENT_ADDRESS_HEADER]: '203.0.113.5' }), false)).toBeNull();
    expect(clientAddressFrom(h({ [CLIENT_ADDRESS_HEADER]: 'garbage' }), true)).toBeNull();
  });

  it('never reads X-Forwarded-For or X-Real-IP', () => {
    expect(clientAddressFrom(h({ 'x-forwarded-for': '203.0.113.5', 'x-real-ip': '203.0.113.6' }), true)).toBeNull();
  });

  it('knows loopback', () => {
    expect(isLoopbackAddress('127.0.0.1')).toBe(true);
    expect(isLoopbackAddress('::ffff:127.0.0.2')).toBe(true);
    expect(isLoopbackAddress('::1')).toBe(true);
    expect(isLoopbackAddress('10.0.0.1')).toBe(false);
    expect(isLoopbackAddress(null)).toBe(false);
  });
});

describe('internalHeadersFor (what our server hands to Next)', () => {
  it('is the peer and local only for a loopback peer that sent no forwarding header', () => {
    expect(internalHeadersFor('::ffff:127.0.0.1', {}, none)).toEqual({ address: '127.0.0.1', local: true });
    expect(internalHeadersFor('127.0.0.1', { 'x-forwarded-for': '127.0.0.1' }, none)).toEqual({ address: '127.0.0.1', local: false });
    expect(internalHeadersFor('127.0.0.1', { forwarded: 'for=1.2.3.4' }, none)).toEqual({ address: '127.0.0.1', local: false });
    expect(internalHeadersFor('127.0.0.1', { 'x-real-ip': '1.2.3.4' }, none)).toEqual({ address: '127.0.0.1', local: false });
    expect(internalHeadersFor('198.51.100.1', {}, none)).toEqual({ address: '198.51.100.1', local: false });
    // A local proxy in front (trusted): the client is the forwarded address, and not local.
    expect(internalHeadersFor('127.0.0.1', { 'x-forwarded-for': '203.0.113.5' }, parseTrustedProxies('loopback'))).toEqual({ address: '203.0.113.5', local: false });
  });

  it('is read back only from a process our server runs', () => {
    const h = new Headers({ [CLIENT_LOCAL_HEADER]: '1' });
    expect(isDirectLocalRequest(h, true)).toBe(true);
    expect(isDirectLocalRequest(h, false)).toBe(false);
    expect(isDirectLocalRequest(new Headers(), true)).toBe(false);
  });
});
