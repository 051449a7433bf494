// Card-testing defence against a real database (PGlite, and PostgreSQL in the second pass) and
// the Stripe emulator: attempt limits, the decline cool-down, sharing through the database,
// and what startPayment tells a shopper who hits it.
import { beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { testDbKind } from '@/tests/helpers/db';
import { setUpTestShop, type TestShop } from '@/tests/helpers/shop';
import { addToCart, getCart } from '@/lib/cart/cart';
import { startPayment, type StartPaymentResult } from '@/lib/checkout/start-payment';
import { cardToken } from '@/tests/helpers/payments';
import type { StripeGateway } from '@/lib/stripe/gateway';
import { CHECKOUT_THROTTLE, cardTestingOverview, consumeAttempt, cooldownMs, declineSignals, recordDecline, throttleKeys } from './throttle';

let database: TestShop['database'];
let stripe: Stripe;
let gateway: StripeGateway;
let productId: string;

const shop = setUpTestShop();
beforeAll(async () => {
  ({ database, stripe, gateway } = shop);
  productId = (await database.prisma.product.findFirstOrThrow({ where: { stock: { gt: 50 } } })).id;
});

const T0 = new Date('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
let n = 0;
const fresh = () => ({ cartId: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, email: `tester${n}@example.com`, ip: `203.0.113.${n % 250}` });

describe(`card-testing throttle (${testDbKind})`, () => {
  it('keys a checkout by cart, email and address, loopback included (no address is exempt)', () => {
    expect(throttleKeys({ cartId: 'c1', email: ' Ada@Example.COM ', ip: '198.51.100.7' }).map((k) => k.key)).toEqual(['checkout:cart:c1', 'checkout:email:ada@example.com', 'checkout:ip:198.51.100.7']);
    expect(throttleKeys({ cartId: null, email: '', ip: '127.0.0.1' }).map((k) => k.key)).toEqual(['checkout:ip:127.0.0.1']);
    expect(throttleKeys({ ip: '::1' }).map((k) => k.key)).toEqual(['checkout:ip:::1']);
    expect(throttleKeys({ cartId: null, email: null, ip: null })).toEqual([]);
  });

  it('a decline never shortens a cool-down already running: the longer one stands', async () => {
    const s = { email: fresh().email };
    const [{ key }] = throttleKeys(s);
    const longUntil = at(2 * 60 * 60_000);
    // Blocked for two hours (say, by another instance's decline), with fewer declines on record
    // than such a block needs: the next decline computes a shorter cool-down.
    await database.prisma.throttleCounter.create({ data: { key, count: 0, declines: CHECKOUT_THROTTLE.limits.email.freeDeclines, windowEnd: at(3 * 60 * 60_000), blockedUntil: longUntil, updatedAt: T0 } });
    await recordDecline(database.prisma, s, T0);
    const row = await database.prisma.throttleCounter.findUniqueOrThrow({ where: { key } });
    expect(cooldownMs(row.declines, CHECKOUT_THROTTLE.limits.email.freeDeclines)).toBeLessThan(longUntil.getTime() - T0.getTime());
    expect(row.blockedUntil).toEqual(longUntil);
  });

  it('counts attempts from 127.0.0.1 like any address: fresh carts and emails stop at the per-address limit', async () => {
    const now = new Date('2031-06-01T00:00:00Z');
    const limit = CHECKOUT_THROTTLE.limits.ip.attempts;
    const decisions = [];
    for (let i = 0; i <= limit; i++) decisions.push(await consumeAttempt(database.prisma, { cartId: `loop-cart-${i}`, email: `loop${i}@example.com`, ip: '127.0.0.1' }, now));
    expect(decisions.slice(0, limit).every((d) => d.ok)).toBe(true);
    expect(decisions[limit]).toMatchObject({ ok: false, scope: 'ip', reason: 'too_many_attempts' });
  });

  it('cools down only after the free declines, doubling up to an hour', () => {
    expect([0, 1, 2].map((d) => cooldownMs(d, 2))).toEqual([0, 0, 0]);
    expect([3, 4, 5].map((d) => cooldownMs(d, 2))).toEqual([60_000, 120_000, 240_000]);
    expect(cooldownMs(50, 2)).toBe(CHECKOUT_THROTTLE.maxCooldownMs);
  });

  it('allows the attempt limit per cart in a window, refuses the next, and forgets after the window', async () => {
    const s = fresh();
    const limit = CHECKOUT_THROTTLE.limits.cart.attempts;
    for (let i = 0; i < limit; i++) expect(await consumeAttempt(database.prisma, { cartId: s.cartId }, at(i * 1000))).toEqual({ ok: true });
    const refused = await consumeAttempt(database.prisma, { cartId: s.cartId }, at(limit * 1000));
    expect(refused).toMatchObject({ ok: false, scope: 'cart', reason: 'too_many_attempts' });
    expect(refused.ok === false && refused.retryAfterSeconds).toBeLessThanOrEqual(CHECKOUT_THROTTLE.windowMs / 1000);
    // Another cart is untouched; the same cart is free again once the window has passed.
    expect(await consumeAttempt(database.prisma, { cartId: fresh().cartId }, at(limit * 1000))).toEqual({ ok: true });
    expect(await consumeAttempt(database.prisma, { cartId: s.cartId }, at(CHECKOUT_THROTTLE.windowMs + 60_000))).toEqual({ ok: true });
  });

  it('counts concurrent attempts exactly once each (atomic upserts, shared by every instance)', async () => {
    const s = { email: fresh().email };
    const results = await Promise.all(Array.from({ length: 25 }, () => consumeAttempt(database.prisma, s, at(0))));
    expect(results.filter((r) => r.ok)).toHaveLength(CHECKOUT_THROTTLE.limits.email.attempts);
    const row = await database.prisma.throttleCounter.findUniqueOrThrow({ where: { key: `checkout:email:${s.email}` } });
    expect(row.count).toBe(25);
  });

  it('starts a growing cool-down after declines, on the cart first and the address much later', async () => {
    const s = fresh();
    const free = CHECKOUT_THROTTLE.limits.cart.freeDeclines;
    for (let i = 0; i < free; i++) await recordDecline(database.prisma, s, at(0));
    expect(await consumeAttempt(database.prisma, s, at(1000))).toEqual({ ok: true });
    await recordDecline(database.prisma, s, at(2000));
    const blocked = await consumeAttempt(database.prisma, s, at(3000));
    expect(blocked).toMatchObject({ ok: false, scope: 'cart', reason: 'cooldown', retryAfterSeconds: 59 });
    // A refused attempt is not counted against any of the subject's keys.
    const counts = await database.prisma.throttleCounter.findMany({ where: { key: { startsWith: 'checkout:' }, OR: [{ key: { endsWith: s.cartId } }, { key: { endsWith: s.ip } }] } });
    expect(counts.map((c) => c.count)).toEqual([1, 1]);
    // A fresh cart from the same address is not blocked: the address has more free declines.
    expect(await consumeAttempt(database.prisma, { cartId: fresh().cartId, ip: s.ip }, at(3000))).toEqual({ ok: true });
    await recordDecline(database.prisma, s, at(4000));
    const longer = await consumeAttempt(database.prisma, { cartId: s.cartId }, at(5000));
    expect(longer).toMatchObject({ ok: false, reason: 'cooldown', retryAfterSeconds: 119 });
    // Once the cool-down is over the cart may try again.
    expect(await consumeAttempt(database.prisma, { cartId: s.cartId }, at(4000 + 120_000 + 1))).toEqual({ ok: true });
  });

  it('tells a card tester to wait, with a calm message, while a real shopper still gets a PaymentIntent', async () => {
    const cart = await addToCart(database.prisma, null, { productId, quantity: 1 });
    if (!cart.ok) throw new Error(cart.error);
    const deps = { prisma: database.prisma, gateway, clientIp: '198.51.100.77' };
    const amount = (await getCart(database.prisma, cart.cartId)).subtotal;
    const start = async (email: string, cartId = cart.cartId, card = 'pm_card_chargeDeclined') =>
      startPayment(deps, cartId, { email, name: 'Card Tester', addressLine1: '1 Main St', city: 'Town', postalCode: '12345', country: 'US', expectedAmount: amount, confirmationToken: await cardToken(stripe, card) });
    const seen: StartPaymentResult[] = [];
    // Each round: a new attempt, declined in the same call that made it (and applied at once).
    for (let i = 0; i < 4; i++) {
      const r = await start(`tester+${i}@example.com`);
      seen.push(r);
      if (r.kind !== 'declined') break;
    }
    expect(seen.slice(0, 3).map((r) => r.kind)).toEqual(['declined', 'declined', 'declined']);
    const last = seen[3];
    expect(last).toMatchObject({ kind: 'throttled', retryAfterSeconds: expect.any(Number) });
    if (last.kind !== 'throttled') throw new Error('expected throttled');
    expect(last.retryAfterSeconds).toBeGreaterThan(0);
    expect(last.message).toMatch(/^For your security/);
    expect(last.message).not.toMatch(/error|exception|throttl|stack/i);
    // Refused before any order work: still three attempts, three PaymentIntents.
    const order = await database.prisma.order.findFirstOrThrow({ where: { cartId: cart.cartId }, include: { attempts: true } });
    expect(order.attempts).toHaveLength(3);
    expect(order.attempts.filter((a) => a.declineCode || a.failureCode)).toHaveLength(3);

    const shopper = await addToCart(database.prisma, null, { productId, quantity: 1 });
    if (!shopper.ok) throw new Error(shopper.error);
    expect((await start('real.shopper@example.com', shopper.cartId, 'pm_card_visa')).kind).toBe('submitted');

    // The pattern shows on the operations page and feeds the risk score.
    const overview = await cardTestingOverview(database.prisma);
    expect(overview.keys.find((k) => k.scope === 'cart' && k.subject === cart.cartId)).toMatchObject({ declines: 3, blockedUntil: expect.any(Date) });
    expect(overview.bursts.find((b) => b.clientIp === '198.51.100.77')).toMatchObject({ attempts: 4, declines: 3 });
    const signals = await declineSignals(database.prisma, { email: 'tester+1@example.com', ip: '198.51.100.77', since: new Date(Date.now() - 3_600_000) });
    expect(signals.ip).toMatchObject({ attempts: 4, declines: 3 });
    expect(signals.email).toBeTruthy();
  });
});

describe(`card testing in the risk score (${testDbKind})`, () => {
  it('scores many declines on many cards from the paying client address', async () => {
    const { scoreRisk } = await import('@/lib/risk/score');
    const calm = { stripeRiskLevel: 'normal', stripeRiskScore: 10, emailAttempts: 1, emailDeclines: 0, addressDeclines: 0, amount: 1200, usualAmount: null };
    expect(scoreRisk(calm).reasons).toEqual([]);
    expect(scoreRisk({ ...calm, clientDeclines: 5, clientDistinctCards: 1 }).reasons).toEqual([]);
    expect(scoreRisk({ ...calm, clientDeclines: 4, clientDistinctCards: 4 }).reasons).toEqual([{ code: 'client_card_testing', points: 25, detail: '4 declines on 4 cards from this client address in 24 h' }]);
    expect(scoreRisk({ ...calm, clientDeclines: 8, clientDistinctCards: 6, emailDeclines: 6 }).review).toBe(true);
  });
});
