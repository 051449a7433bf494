import { describe, expect, it } from 'vitest';
import { markClientAddressServer } from '@/lib/security/client-address';
import { hasMetricsToken, healthDetailsAllowed, metricsAccess } from './access';

const TOKEN = 'a-metrics-token-of-some-length';
const local = { 'x-brisk-client-ip': '127.0.0.1', 'x-brisk-client-local': '1' };
const remote = { 'x-brisk-client-ip': '203.0.113.9' };
const h = (v: Record<string, string>) => new Headers(v);

describe('who may read metrics and health details', () => {
  markClientAddressServer();

  it('with a token: only the bearer of it, from anywhere', () => {
    expect(metricsAccess(h({ ...remote, authorization: `Bearer ${TOKEN}` }), TOKEN)).toBe('allowed');
    expect(metricsAccess(h({ ...local }), TOKEN)).toBe('needs_token');
    expect(metricsAccess(h({ ...remote, authorization: 'Bearer nope' }), TOKEN)).toBe('needs_token');
    expect(metricsAccess(h({ ...remote, authorization: TOKEN }), TOKEN)).toBe('needs_token');
    expect(hasMetricsToken(h({ authorization: `bearer ${TOKEN}` }), TOKEN)).toBe(true);
    expect(hasMetricsToken(h({ authorization: `Bearer ${TOKEN}` }), undefined)).toBe(false);
  });

  it('without a token: only a direct request from this machine', () => {
    expect(metricsAccess(h(local), undefined)).toBe('allowed');
    expect(metricsAccess(h(remote), undefined)).toBe('local_only');
    // Loopback peer that a proxy forwarded (our server then leaves out the local mark).
    expect(metricsAccess(h({ 'x-brisk-client-ip': '127.0.0.1' }), undefined)).toBe('local_only');
  });

  it('health details: the token or a local request; everyone else gets ready/not ready', () => {
    expect(healthDetailsAllowed(h(local), TOKEN)).toBe(true);
    expect(healthDetailsAllowed(h({ ...remote, authorization: `Bearer ${TOKEN}` }), TOKEN)).toBe(true);
    expect(healthDetailsAllowed(h(remote), TOKEN)).toBe(false);
    expect(healthDetailsAllowed(h(remote), undefined)).toBe(false);
  });
});
