import { describe, expect, it } from 'vitest';
import { bodyTooLarge, contentSecurityPolicy, createNonce, isHttpsRequest, securityHeaders, stripeOrigins } from './headers';

const directives = (csp: string) => Object.fromEntries(csp.split('; ').map((d) => { const [name, ...values] = d.split(' '); return [name, values]; }));

describe('security headers', () => {
  it('allows exactly Stripe.js, its API and its frames, and nothing else, with a per-request nonce', () => {
    const d = directives(contentSecurityPolicy({ nonce: 'abc123', env: 'production', https: false }));
    expect(d['default-src']).toEqual(["'self'"]);
    expect(d['script-src']).toEqual(["'self'", "'nonce-abc123'", "'strict-dynamic'", 'https://js.stripe.com', 'https://*.js.stripe.com']);
    expect(d['connect-src']).toEqual(["'self'", 'https://api.stripe.com']);
    expect(d['frame-src']).toEqual(['https://js.stripe.com', 'https://*.js.stripe.com', 'https://hooks.stripe.com', 'https://m.stripe.network']);
    expect(d['style-src']).toEqual(["'self'", "'nonce-abc123'"]);
    for (const [name, value] of [['frame-ancestors', "'none'"], ['object-src', "'none'"], ['base-uri', "'self'"], ['form-action', "'self'"]]) expect(d[name]).toEqual([value]);
    expect(JSON.stringify(d)).not.toContain('unsafe-eval');
    expect(d['script-src']).not.toContain("'unsafe-inline'");
    expect(d['upgrade-insecure-requests']).toBeUndefined();
  });

  it("puts the emulator's origin in place of Stripe's when it stands in", () => {
    const opts = { stripeJsUrl: 'http://127.0.0.1:12111/v3/', stripeApiBase: 'http://127.0.0.1:12111' };
    expect(stripeOrigins(opts)).toEqual({ script: ['http://127.0.0.1:12111'], frame: ['http://127.0.0.1:12111'], connect: ['http://127.0.0.1:12111'], paymentFrame: 'http://127.0.0.1:12111' });
    const csp = contentSecurityPolicy({ nonce: 'n', env: 'production', https: false, ...opts });
    expect(csp).not.toContain('stripe.com');
    expect(securityHeaders({ nonce: 'n', env: 'production', https: false, ...opts })['Permissions-Policy']).toMatch(/^payment=\(self "http:\/\/127\.0\.0\.1:12111"\)/);
    // A malformed URL falls back to Stripe's own origins rather than opening anything.
    expect(stripeOrigins({ stripeJsUrl: 'javascript:alert(1)' }).script).toEqual(['https://js.stripe.com', 'https://*.js.stripe.com']);
  });

  it("adds 'unsafe-eval' only in development", () => {
    expect(contentSecurityPolicy({ nonce: 'n', env: 'development', https: false })).toContain("'unsafe-eval'");
    for (const env of ['production', 'test', undefined]) expect(contentSecurityPolicy({ nonce: 'n', env, https: false })).not.toContain('unsafe-eval');
  });

  it('sends HSTS only in production over https, with the hardening headers always', () => {
    expect(securityHeaders({ nonce: 'n', env: 'production', https: true })['Strict-Transport-Security']).toMatch(/^max-age=\d{8}/);
    expect(securityHeaders({ nonce: 'n', env: 'production', https: false })['Strict-Transport-Security']).toBeUndefined();
    expect(securityHeaders({ nonce: 'n', env: 'development', https: true })['Strict-Transport-Security']).toBeUndefined();
    const h = securityHeaders({ nonce: 'n', env: 'production', https: true });
    expect(h).toMatchObject({ 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'strict-origin-when-cross-origin', 'X-Frame-Options': 'DENY' });
    expect(h['Permissions-Policy']).toMatch(/^payment=\(self "https:\/\/js\.stripe\.com"\)/);
    expect(h['Content-Security-Policy']).toContain('upgrade-insecure-requests');
  });

  it('knows https from APP_URL, the load balancer or the URL', () => {
    expect(isHttpsRequest('https://shop.example', null, 'http://10.0.0.1/')).toBe(true);
    expect(isHttpsRequest(undefined, 'https', 'http://10.0.0.1/')).toBe(true);
    expect(isHttpsRequest(undefined, 'https, http', 'http://10.0.0.1/')).toBe(true);
    expect(isHttpsRequest(undefined, 'http', 'http://10.0.0.1/')).toBe(false);
    expect(isHttpsRequest(undefined, null, 'http://localhost:3000/')).toBe(false);
  });

  it('makes a different unguessable nonce every time', () => {
    const nonces = new Set(Array.from({ length: 200 }, createNonce));
    expect(nonces.size).toBe(200);
    for (const n of nonces) expect(n).toMatch(/^[A-Za-z0-9+/]{22}==$/);
  });

  it('refuses declared bodies over 128 KB, and nonsense lengths', () => {
    expect(bodyTooLarge(null)).toBe(false);
    expect(bodyTooLarge('1000')).toBe(false);
    expect(bodyTooLarge(String(128 * 1024 + 1))).toBe(true);
    expect(bodyTooLarge('-1')).toBe(true);
    expect(bodyTooLarge('abc')).toBe(true);
  });
});
