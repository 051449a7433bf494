import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { seedCatalog } from '@/lib/db/seed';
import { addToCart, getCart, removeFromCart, setCartQuantity, cartCount } from './cart';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let products: { id: string; price: number; stock: number; name: string }[];
beforeAll(async () => {
  database = await createTestDatabase();
  await seedCatalog(database.prisma);
  products = await database.prisma.product.findMany({ orderBy: { slug: 'asc' } });
});
afterAll(() => database?.drop());

describe(`cart (${testDbKind})`, () => {
  it('adds, changes and removes lines, pricing from the database', async () => {
    const [a, b] = products;
    const r1 = await addToCart(database.prisma, null, { productId: a.id, quantity: '2' });
    expect(r1.ok).toBe(true);
    const cartId = r1.ok ? r1.cartId : '';
    await addToCart(database.prisma, cartId, { productId: b.id, quantity: 1 });
    await addToCart(database.prisma, cartId, { productId: a.id, quantity: 1 });
    let cart = await getCart(database.prisma, cartId);
    expect(cart.lines.map((l) => [l.productId, l.quantity])).toEqual([
      [a.id, 3],
      [b.id, 1],
    ]);
    expect(cart.subtotal).toBe(a.price * 3 + b.price);
    expect(await cartCount(database.prisma, cartId)).toBe(4);

    // A price change in the catalog is what the cart charges; nothing stored in the cart is trusted.
    await database.prisma.product.update({ where: { id: b.id }, data: { price: b.price + 100 } });
    cart = await getCart(database.prisma, cartId);
    expect(cart.subtotal).toBe(a.price * 3 + b.price + 100);

    expect((await setCartQuantity(database.prisma, cartId, { productId: a.id, quantity: 1 })).ok).toBe(true);
    expect((await removeFromCart(database.prisma, cartId, { productId: b.id })).ok).toBe(true);
    cart = await getCart(database.prisma, cartId);
    expect(cart.lines.map((l) => [l.productId, l.quantity])).toEqual([[a.id, 1]]);
    expect((await setCartQuantity(database.prisma, cartId, { productId: a.id, quantity: 0 })).ok).toBe(true);
    expect((await getCart(database.prisma, cartId)).lines).toEqual([]);
  });

  it('rejects bad input with a clear error and changes nothing', async () => {
    const [a] = products;
    const r = await addToCart(database.prisma, null, { productId: a.id, quantity: 1 });
    if (!r.ok) throw new Error(r.error);
    const snapshot = async () => JSON.stringify(await getCart(database.prisma, r.cartId));
    const before = await snapshot();
    const bad: [unknown, RegExp][] = [
      [{ productId: a.id, quantity: -1 }, /at least 1/],
      [{ productId: a.id, quantity: 0 }, /at least 1/],
      [{ productId: a.id, quantity: 1.5 }, /whole number/],
      [{ productId: a.id, quantity: 1e12 }, /at most/],
      [{ productId: a.id, quantity: 'lots' }, /number/],
      [{ productId: '00000000-0000-4000-8000-000000000000', quantity: 1 }, /Unknown product/],
      [{ productId: "'; drop table", quantity: 1 }, /Unknown product/],
      [{ productId: a.id, quantity: a.stock }, /available|stock|all/],
      [null, /./],
    ];
    for (const [input, message] of bad) {
      const res = await addToCart(database.prisma, r.cartId, input);
      expect(res.ok, JSON.stringify(input)).toBe(false);
      if (!res.ok) expect(res.error).toMatch(message);
    }
    const q = await setCartQuantity(database.prisma, r.cartId, { productId: a.id, quantity: a.stock + 1 });
    expect(q.ok).toBe(false);
    expect(await snapshot()).toBe(before);
  });

  it('adds to the same line, keeps a line within stock and 99, and starts a new cart for a stale id', async () => {
    const roomy = products.find((p) => p.stock >= 120) ?? products[0];
    await database.prisma.product.update({ where: { id: roomy.id }, data: { stock: 150 } });
    const first = await addToCart(database.prisma, null, { productId: roomy.id, quantity: 60 });
    if (!first.ok) throw new Error(first.error);
    const again = await addToCart(database.prisma, first.cartId, { productId: roomy.id, quantity: 39 });
    expect(again).toEqual({ ok: true, cartId: first.cartId });
    expect((await getCart(database.prisma, first.cartId)).lines.map((l) => l.quantity)).toEqual([99]);
    // The line is at 99 (the per-line limit), though stock has 150.
    expect(await addToCart(database.prisma, first.cartId, { productId: roomy.id, quantity: 1 })).toEqual({ ok: false, error: 'Quantity can be at most 99.' });
    await database.prisma.product.update({ where: { id: roomy.id }, data: { stock: 100 } });
    expect(await addToCart(database.prisma, first.cartId, { productId: roomy.id, quantity: 5 })).toEqual({ ok: false, error: `Only 1 more ${roomy.name} available.` });
    await database.prisma.product.update({ where: { id: roomy.id }, data: { stock: 0 } });
    expect(await addToCart(database.prisma, null, { productId: roomy.id, quantity: 1 })).toEqual({ ok: false, error: `${roomy.name} is out of stock.` });
    expect((await getCart(database.prisma, first.cartId)).lines.map((l) => l.quantity)).toEqual([99]);
    await database.prisma.product.update({ where: { id: roomy.id }, data: { stock: roomy.stock } });

    // A cart id from an old cookie whose cart is gone: a new cart, not a line on nothing.
    const stale = '11111111-1111-4111-8111-111111111111';
    const fresh = await addToCart(database.prisma, stale, { productId: products[1].id, quantity: 2 });
    if (!fresh.ok) throw new Error(fresh.error);
    expect(fresh.cartId).not.toBe(stale);
    expect((await getCart(database.prisma, fresh.cartId)).lines.map((l) => [l.productId, l.quantity])).toEqual([[products[1].id, 2]]);
    expect(await database.prisma.cart.count({ where: { id: stale } })).toBe(0);
  });

  it('treats an unknown cart id as a fresh empty cart', async () => {
    const cart = await getCart(database.prisma, '00000000-0000-4000-8000-000000000000');
    expect(cart).toMatchObject({ id: null, lines: [], subtotal: 0, count: 0 });
  });
});
