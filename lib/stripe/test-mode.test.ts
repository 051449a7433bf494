// The start-up decision (real Stripe, the emulator, or a refusal) and when pages say "Test mode".
import { describe, expect, it } from 'vitest';
import { parseConfig } from '@/lib/config';
import { chooseStripe, isLoopbackHost, paymentsAreTest, productionReason } from './test-mode';

describe('isLoopbackHost', () => {
  it.each(['localhost', 'LOCALHOST', 'shop.localhost', 'localhost.', '127.0.0.1', '127.1.2.3', '127.255.255.255', '::1', '[::1]', '::ffff:127.0.0.1'])('%s only reaches this machine', (h) => {
    expect(isLoopbackHost(h)).toBe(true);
  });
  it.each(['shop.example.com', 'localhost.example.com', '0.0.0.0', '10.0.0.5', '192.168.1.10', '128.0.0.1', '127.0.0.256', '127.0.0', '::', '[2001:db8::1]', '127.0.0.1.nip.io'])('%s is public', (h) => {
    expect(isLoopbackHost(h)).toBe(false);
  });
});

describe('productionReason', () => {
  it('APP_URL on https is production, whatever NODE_ENV says', () => {
    expect(productionReason({ appUrl: 'https://shop.example.com' })).toMatch(/https/);
    expect(productionReason({ appUrl: 'https://localhost:3000', nodeEnv: 'development' })).toMatch(/https/);
  });
  it('NODE_ENV=production with APP_URL on a public host is production', () => {
    expect(productionReason({ appUrl: 'http://shop.example.com', nodeEnv: 'production' })).toMatch(/public host/);
    expect(productionReason({ appUrl: 'http://10.1.2.3:3000', nodeEnv: 'production' })).toMatch(/public host/);
  });
  it('a laptop is not: no APP_URL, loopback hosts, or NODE_ENV other than production', () => {
    expect(productionReason({})).toBeNull();
    expect(productionReason({ nodeEnv: 'production' })).toBeNull();
    expect(productionReason({ appUrl: 'http://localhost:3000', nodeEnv: 'production' })).toBeNull();
    expect(productionReason({ appUrl: 'http://127.0.0.1:3000', nodeEnv: 'production' })).toBeNull();
    expect(productionReason({ appUrl: 'http://shop.example.com', nodeEnv: 'development' })).toBeNull();
    expect(productionReason({ appUrl: 'http://shop.example.com' })).toBeNull();
  });
});

describe('chooseStripe', () => {
  const prod = { appUrl: 'https://shop.example.com', nodeEnv: 'production' };
  it('with a Stripe key: real Stripe, in production or not', () => {
    expect(chooseStripe({ ...prod, hasStripeKey: true, demoMode: false })).toEqual({ use: 'stripe' });
    expect(chooseStripe({ hasStripeKey: true, demoMode: false })).toEqual({ use: 'stripe' });
  });
  it('without keys on a laptop: the emulator, as before', () => {
    expect(chooseStripe({ hasStripeKey: false, demoMode: false })).toEqual({ use: 'emulator', demo: false, production: false });
    expect(chooseStripe({ appUrl: 'http://localhost:3000', nodeEnv: 'production', hasStripeKey: false, demoMode: false }).use).toBe('emulator');
  });
  it('without keys in production: refuses, naming the reason and both ways out', () => {
    const choice = chooseStripe({ ...prod, hasStripeKey: false, demoMode: false });
    expect(choice.use).toBe('refuse');
    if (choice.use !== 'refuse') return;
    expect(choice.message).toContain('APP_URL=https://shop.example.com');
    expect(choice.message).toContain('STRIPE_SECRET_KEY');
    expect(choice.message).toContain('BRISK_DEMO_MODE=1');
    const plain = chooseStripe({ appUrl: 'http://shop.example.com', nodeEnv: 'production', hasStripeKey: false, demoMode: false });
    expect(plain.use).toBe('refuse');
  });
  it('without keys in production with BRISK_DEMO_MODE=1: the emulator as a declared demo', () => {
    expect(chooseStripe({ ...prod, hasStripeKey: false, demoMode: true })).toEqual({ use: 'emulator', demo: true, production: true });
  });
});

describe('BRISK_DEMO_MODE in the configuration', () => {
  it('is off unless set to 1 or true', () => {
    expect(parseConfig({}).BRISK_DEMO_MODE).toBe(false);
    expect(parseConfig({ BRISK_DEMO_MODE: '' }).BRISK_DEMO_MODE).toBe(false);
    expect(parseConfig({ BRISK_DEMO_MODE: '0' }).BRISK_DEMO_MODE).toBe(false);
    expect(parseConfig({ BRISK_DEMO_MODE: 'false' }).BRISK_DEMO_MODE).toBe(false);
    expect(parseConfig({ BRISK_DEMO_MODE: '1' }).BRISK_DEMO_MODE).toBe(true);
    expect(parseConfig({ BRISK_DEMO_MODE: 'true' }).BRISK_DEMO_MODE).toBe(true);
  });
  it('refuses anything else, naming the variable', () => {
    expect(() => parseConfig({ BRISK_DEMO_MODE: 'yes please' })).toThrow(/BRISK_DEMO_MODE must be 1/);
  });
  it('cannot be combined with live Stripe keys (the banner would say "no real payments" while real ones are taken)', () => {
    const live = { STRIPE_SECRET_KEY: 'sk_live_abc', NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: 'pk_live_abc', STRIPE_WEBHOOK_SECRET: 'whsec_abc' };
    expect(() => parseConfig({ ...live, BRISK_DEMO_MODE: '1' })).toThrow(/BRISK_DEMO_MODE runs the shop on the Stripe emulator/);
    expect(parseConfig({ ...live, BRISK_DEMO_MODE: '0' }).BRISK_DEMO_MODE).toBe(false);
  });
});

describe('paymentsAreTest (the "Test mode: no real payments" banner)', () => {
  it('shows for demo mode, the emulator, no key and Stripe test keys', () => {
    expect(paymentsAreTest({ BRISK_DEMO_MODE: true })).toBe(true);
    expect(paymentsAreTest({ STRIPE_SECRET_KEY: 'sk_live_x', STRIPE_API_BASE: 'http://127.0.0.1:12111' })).toBe(true);
    expect(paymentsAreTest({})).toBe(true);
    expect(paymentsAreTest({ STRIPE_SECRET_KEY: 'sk_test_abc' })).toBe(true);
    expect(paymentsAreTest({ STRIPE_SECRET_KEY: 'rk_test_abc' })).toBe(true);
  });
  it('does not show for live keys on Stripe itself', () => {
    expect(paymentsAreTest({ STRIPE_SECRET_KEY: 'sk_live_abc' })).toBe(false);
    expect(paymentsAreTest({ STRIPE_SECRET_KEY: 'rk_live_abc', STRIPE_API_BASE: 'https://api.stripe.com' })).toBe(false);
    // Never "no real payments" while a live key moves real money, whatever the flag says.
    expect(paymentsAreTest({ BRISK_DEMO_MODE: true, STRIPE_SECRET_KEY: 'sk_live_abc' })).toBe(false);
  });
});
