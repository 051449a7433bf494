// Stock and per-line limits at their exact boundaries, and the refusals of changing or removing
// a line: written from the mutants Stryker left alive in lib/cart (bench/RESULTS.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { seedCatalog } from '@/lib/db/seed';
import { addToCart, cartCount, getCart, removeFromCart, setCartQuantity } from './cart';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let products: { id: string; price: number; stock: number; name: string }[];
beforeAll(async () => {
  database = await createTestDatabase();
  await seedCatalog(database.prisma);
  products = await database.prisma.product.findMany({ orderBy: { slug: 'asc' } });
});
afterAll(() => database?.drop());

async function cartWith(productId: string, quantity: number): Promise<string> {
  const r = await addToCart(database.prisma, null, { productId, quantity });
  if (!r.ok) throw new Error(r.error);
  return r.cartId;
}
const setStock = (id: string, stock: number) => database.prisma.product.update({ where: { id }, data: { stock } });
const quantities = async (cartId: string) => (await getCart(database.prisma, cartId)).lines.map((l) => l.quantity);

describe(`cart limits (${testDbKind})`, () => {
  it('a line may take exactly the stock; one more says how many are already in the cart', async () => {
    const p = products[0];
    await setStock(p.id, 5);
    const cartId = await cartWith(p.id, 2);
    expect(await addToCart(database.prisma, cartId, { productId: p.id, quantity: 3 })).toEqual({ ok: true, cartId });
    expect(await quantities(cartId)).toEqual([5]);
    expect(await addToCart(database.prisma, cartId, { productId: p.id, quantity: 1 })).toEqual({ ok: false, error: `You already have all 5 in your cart.` });
    await setStock(p.id, 6);
    expect(await addToCart(database.prisma, cartId, { productId: p.id, quantity: 2 })).toEqual({ ok: false, error: `Only 1 more ${p.name} available.` });
    expect(await quantities(cartId)).toEqual([5]);
    await setStock(p.id, p.stock);
  });

  it('over the per-line limit of 99 says so, even when that is also exactly the stock', async () => {
    const p = products[1];
    await setStock(p.id, 100);
    const cartId = await cartWith(p.id, 60);
    expect(await addToCart(database.prisma, cartId, { productId: p.id, quantity: 40 })).toEqual({ ok: false, error: 'Quantity can be at most 99.' });
    expect(await quantities(cartId)).toEqual([60]);
    await setStock(p.id, p.stock);
  });

  it('setting a quantity: exactly the stock is fine, one more is refused; each change touches the cart', async () => {
    const p = products[2];
    await setStock(p.id, 4);
    const cartId = await cartWith(p.id, 1);
    const touched = async () => (await database.prisma.cart.findUniqueOrThrow({ where: { id: cartId } })).updatedAt.getTime();
    const before = await touched();
    await new Promise((r) => setTimeout(r, 5));
    expect(await setCartQuantity(database.prisma, cartId, { productId: p.id, quantity: 4 })).toEqual({ ok: true, cartId });
    expect(await quantities(cartId)).toEqual([4]);
    expect(await touched()).toBeGreaterThan(before);
    expect(await setCartQuantity(database.prisma, cartId, { productId: p.id, quantity: 5 })).toEqual({ ok: false, error: `Only 4 ${p.name} available.` });
    expect(await quantities(cartId)).toEqual([4]);
    await setStock(p.id, p.stock);
  });

  it('refuses to change or remove lines of no cart, of lines not in it, or with bad input, changing nothing', async () => {
    const [a, b] = products;
    const cartId = await cartWith(a.id, 1);
    expect(await setCartQuantity(database.prisma, null, { productId: a.id, quantity: 1 })).toEqual({ ok: false, error: 'Your cart is empty.' });
    expect(await setCartQuantity(database.prisma, cartId, { productId: b.id, quantity: 1 })).toEqual({ ok: false, error: 'That item is not in your cart.' });
    expect(await setCartQuantity(database.prisma, cartId, { productId: a.id, quantity: -1 })).toEqual({ ok: false, error: 'Quantity cannot be negative.' });
    expect(await setCartQuantity(database.prisma, cartId, { productId: 'nope', quantity: 1 })).toEqual({ ok: false, error: 'Unknown product.' });
    expect(await removeFromCart(database.prisma, null, { productId: a.id })).toEqual({ ok: false, error: 'Your cart is empty.' });
    expect(await removeFromCart(database.prisma, cartId, { productId: 'nope' })).toEqual({ ok: false, error: 'Unknown product.' });
    expect(await removeFromCart(database.prisma, cartId, {})).toEqual({ ok: false, error: 'Unknown product.' });
    expect(await quantities(cartId)).toEqual([1]);
  });

  it('refuses a blank quantity instead of reading it as 0 (which would empty the line), on set and on add', async () => {
    const [a] = products;
    const cartId = await cartWith(a.id, 2);
    for (const blank of ['', ' ', '\t']) {
      expect(await setCartQuantity(database.prisma, cartId, { productId: a.id, quantity: blank })).toEqual({ ok: false, error: 'Quantity must be a number.' });
      expect(await addToCart(database.prisma, cartId, { productId: a.id, quantity: blank })).toEqual({ ok: false, error: 'Quantity must be a number.' });
    }
    expect(await quantities(cartId)).toEqual([2]);
    // A written 0 still removes the line, as the cart page's quantity field means it.
    expect(await setCartQuantity(database.prisma, cartId, { productId: a.id, quantity: '0' })).toEqual({ ok: true, cartId });
    expect(await quantities(cartId)).toEqual([]);
  });

  it('counts the items of this cart only', async () => {
    const [a, b] = products;
    const mine = await cartWith(a.id, 2);
    await addToCart(database.prisma, mine, { productId: b.id, quantity: 1 });
    await cartWith(b.id, 7);
    expect(await cartCount(database.prisma, mine)).toBe(3);
    expect(await cartCount(database.prisma, null)).toBe(0);
  });
});
