// The arithmetic every amount in Brisk comes from (priceLines, cartFromRows) and the cart
// cookie's checks, without a database: written from the mutants Stryker left alive (bench/RESULTS.md).
import { beforeAll, describe, expect, it } from 'vitest';
import { cartFromRows, priceLines, type CartLine, type CartRow } from './cart';
import { CART_COOKIE, CART_COOKIE_MAX_AGE, cartCookieValue, cartIdFromCookieHeader, cartIdFromCookieValue, cartSetCookieHeader, isSecure } from './cookie';

const line = (over: Partial<CartRow> = {}): CartRow => ({
  cartId: 'cart-1',
  productId: 'p1',
  slug: 'mug',
  name: 'Mug',
  image: '/products/mug.svg',
  unitPrice: 1250,
  currency: 'usd',
  quantity: 2,
  stock: 10,
  active: true,
  ...over,
});

/** A line as priceLines takes it. */
const priceable = (over: Partial<Omit<CartLine, 'lineTotal'>> = {}): Omit<CartLine, 'lineTotal'> => ({
  productId: 'p1', slug: 'mug', name: 'Mug', image: '/products/mug.svg', unitPrice: 1250, currency: 'usd', quantity: 2, stock: 10, ...over,
});

describe('priceLines', () => {
  it('multiplies each line and adds them up, in minor units, counting items not lines', () => {
    const r = priceLines([priceable({ unitPrice: 1250, quantity: 3 }), priceable({ productId: 'p2', unitPrice: 199, quantity: 1 })]);
    expect(r.lines.map((l) => l.lineTotal)).toEqual([3750, 199]);
    expect(r.subtotal).toBe(3949);
    expect(r.count).toBe(4);
    expect(r.currency).toBe('usd');
  });

  it('keeps the lines\' currency and defaults an empty cart to usd', () => {
    expect(priceLines([priceable({ currency: 'eur' })]).currency).toBe('eur');
    expect(priceLines([])).toEqual({ lines: [], subtotal: 0, currency: 'usd', count: 0 });
  });

  it('refuses to add up two currencies', () => {
    expect(() => priceLines([priceable({ currency: 'usd' }), priceable({ productId: 'p2', currency: 'eur' })])).toThrow(/mix currencies/);
  });
});

describe('cartFromRows', () => {
  it('no rows is no cart; a cart row without lines is an empty cart with its id', () => {
    expect(cartFromRows([])).toEqual({ id: null, lines: [], count: 0, subtotal: 0, currency: 'usd' });
    expect(cartFromRows([line({ productId: null })])).toEqual({ id: 'cart-1', lines: [], count: 0, subtotal: 0, currency: 'usd' });
  });

  it('leaves out lines of products taken off sale, so they are neither shown nor charged', () => {
    const cart = cartFromRows([line({ quantity: 1 }), line({ productId: 'p2', active: false, unitPrice: 9999 })]);
    expect(cart.lines.map((l) => l.productId)).toEqual(['p1']);
    expect(cart.subtotal).toBe(1250);
    expect(cart.lines[0]).toEqual({ productId: 'p1', slug: 'mug', name: 'Mug', image: '/products/mug.svg', unitPrice: 1250, currency: 'usd', quantity: 1, stock: 10, lineTotal: 1250 });
  });
});

describe('the cart cookie', () => {
  const id = '0b7c2a4e-5f7d-4c1b-9a61-3f1a2b3c4d5e';
  beforeAll(() => {
    process.env.APP_SECRET ??= 'x'.repeat(40);
  });

  it('round-trips a cart id and refuses a tampered or non-id value', () => {
    expect(cartIdFromCookieValue(cartCookieValue(id))).toBe(id);
    expect(cartIdFromCookieValue(cartCookieValue(id).replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')))).toBeNull();
    expect(cartIdFromCookieValue(cartCookieValue('not-a-cart-id'))).toBeNull();
    expect(cartIdFromCookieValue(cartCookieValue(`${id}0`))).toBeNull();
    expect(cartIdFromCookieValue(cartCookieValue(`x${id}`))).toBeNull();
    expect(cartIdFromCookieValue(undefined)).toBeNull();
  });

  it('finds its own cookie among others in a Cookie header', () => {
    const value = encodeURIComponent(cartCookieValue(id));
    expect(cartIdFromCookieHeader(`theme=dark; ${CART_COOKIE}=${value}; other=1`)).toBe(id);
    expect(cartIdFromCookieHeader(`${CART_COOKIE}x=${value}`)).toBeNull();
    expect(cartIdFromCookieHeader(`x${CART_COOKIE}=${value}; flag`)).toBeNull();
    expect(cartIdFromCookieHeader(`flag; ${CART_COOKIE}=${value}`)).toBe(id);
    expect(cartIdFromCookieHeader(`${CART_COOKIE}x; ${CART_COOKIE}=${value} ; other=1`)).toBe(id);
    expect(cartIdFromCookieHeader(`${CART_COOKIE}=%E0%A4%A`)).toBeNull();
    expect(cartIdFromCookieHeader(undefined)).toBeNull();
  });

  it('is HttpOnly, Lax, site-wide, 30 days, and Secure only over https', () => {
    const header = cartSetCookieHeader(id, false);
    expect(header).toBe(`${CART_COOKIE}=${encodeURIComponent(cartCookieValue(id))}; Path=/; Max-Age=${30 * 24 * 3600}; HttpOnly; SameSite=Lax`);
    expect(CART_COOKIE_MAX_AGE).toBe(2_592_000);
    expect(cartSetCookieHeader(id, true)).toBe(`${header}; Secure`);
    expect(isSecure('https', 'http://shop.test')).toBe(true);
    expect(isSecure('http', 'http://shop.test')).toBe(false);
    expect(isSecure(undefined, 'http://shop.test')).toBe(false);
    expect(isSecure(undefined, undefined)).toBe(false);
    expect(isSecure('http', 'https://shop.test')).toBe(true);
  });
});
