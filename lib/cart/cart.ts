// The cart lives in the database; prices are always read from the catalog, never from input.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { parseUntrusted } from '@/lib/validation';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { sql, type Selectable } from 'kysely';
import { sqlOf, type Sql } from '@/lib/db/sql';
import { statement } from '@/lib/db/statement';
import type { DB } from '@/lib/generated/kysely/types';

export const MAX_LINE_QUANTITY = 99;

// Scripts send anything: every refusal, even of a missing field or a non-object, reads plainly.
const NOT_A_FORM = { error: 'Please check the form and try again.' };

// A blank quantity is no quantity: z.coerce.number() reads '' and '  ' as 0, which would set a
// line to 0 (remove it) from an empty field. Blank becomes missing, refused as "must be a number".
const blankIsMissing = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

export const AddToCartInput = z.object({
  productId: z.string({ error: 'Unknown product.' }).uuid('Unknown product.'),
  quantity: z.preprocess(
    blankIsMissing,
    z.coerce
      .number({ error: 'Quantity must be a number.' })
      .int('Quantity must be a whole number.')
      .min(1, 'Quantity must be at least 1.')
      .max(MAX_LINE_QUANTITY, `Quantity can be at most ${MAX_LINE_QUANTITY}.`),
  ),
}, NOT_A_FORM);

export const SetQuantityInput = z.object({
  productId: z.string({ error: 'Unknown product.' }).uuid('Unknown product.'),
  quantity: z.preprocess(
    blankIsMissing,
    z.coerce
      .number({ error: 'Quantity must be a number.' })
      .int('Quantity must be a whole number.')
      .min(0, 'Quantity cannot be negative.')
      .max(MAX_LINE_QUANTITY, `Quantity can be at most ${MAX_LINE_QUANTITY}.`),
  ),
}, NOT_A_FORM);

export const RemoveInput = z.object({ productId: z.string({ error: 'Unknown product.' }).uuid('Unknown product.') }, NOT_A_FORM);

export interface CartLine {
  productId: string;
  slug: string;
  name: string;
  image: string;
  unitPrice: number;
  currency: string;
  quantity: number;
  stock: number;
  lineTotal: number;
}

export interface PricedCart {
  id: string | null;
  lines: CartLine[];
  count: number;
  subtotal: number;
  currency: string;
}

export type CartResult = { ok: true; cartId: string } | { ok: false; error: string };

const EMPTY = (id: string | null): PricedCart => ({ id, lines: [], count: 0, subtotal: 0, currency: 'usd' });

/** Prices lines from their products; the single source of an amount anywhere in Brisk. */
export function priceLines(lines: Omit<CartLine, 'lineTotal'>[]): { lines: CartLine[]; subtotal: number; currency: string; count: number } {
  const currencies = new Set(lines.map((l) => l.currency));
  if (currencies.size > 1) throw new Error('A cart cannot mix currencies');
  const priced = lines.map((l) => ({ ...l, lineTotal: l.unitPrice * l.quantity }));
  return {
    lines: priced,
    subtotal: priced.reduce((s, l) => s + l.lineTotal, 0),
    currency: lines[0]?.currency ?? 'usd',
    count: priced.reduce((s, l) => s + l.quantity, 0),
  };
}

type LineColumns = Omit<CartLine, 'lineTotal'> & { active: boolean };
/**
 * A row of the cart with its lines and their products (getCart; CART_COLUMNS FROM
 * CART_WITH_LINES): one per line, or one with only the cart's id when it has no lines.
 */
export type CartRow = { cartId: string } & { [K in keyof LineColumns]: LineColumns[K] | null };

/**
 * The same columns, joins and order as getCart's statement, as pieces of Kysely's `sql`, for
 * lib/orders/checkout.ts, which selects the cart in its own statement.
 */
export const CART_COLUMNS = sql`c.id AS "cartId", i."productId", p.slug, p.name, p.image, p.price AS "unitPrice", p.currency, i.quantity, p.stock, p.active`;
export const CART_WITH_LINES = sql`"Cart" c LEFT JOIN "CartItem" i ON i."cartId" = c.id LEFT JOIN "Product" p ON p.id = i."productId"`;
export const CART_LINE_ORDER = sql`i."createdAt" ASC, i.id ASC`;

/** The priced cart from its rows (none: no such cart); lines of inactive products are left out. */
export function cartFromRows(rows: CartRow[]): PricedCart {
  if (rows.length === 0) return EMPTY(null);
  const lines = rows
    // A line's product columns are there whenever the line is (a foreign key).
    .filter((r): r is CartRow & LineColumns => r.productId !== null && r.active === true)
    .map((r) => ({ productId: r.productId, slug: r.slug, name: r.name, image: r.image, unitPrice: r.unitPrice, currency: r.currency, quantity: r.quantity, stock: r.stock }));
  return { id: rows[0].cartId, ...priceLines(lines) };
}

const cartLines = statement((db, p: { cartId: string }) =>
  db
    .selectFrom('Cart as c')
    .leftJoin('CartItem as i', 'i.cartId', 'c.id')
    .leftJoin('Product as p', 'p.id', 'i.productId')
    .select(['c.id as cartId', 'i.productId', 'p.slug', 'p.name', 'p.image', 'p.price as unitPrice', 'p.currency', 'i.quantity', 'p.stock', 'p.active'])
    .where('c.id', '=', p.cartId)
    .orderBy('i.createdAt', 'asc')
    .orderBy('i.id', 'asc'),
);

export async function getCart(db: PrismaClient | Sql, cartId: string | null): Promise<PricedCart> {
  if (!cartId) return EMPTY(null);
  // One round trip: the cart, its lines and their products (the cart page and every checkout).
  const { rows } = await cartLines(sqlOf(db), { cartId });
  return cartFromRows(rows);
}

export async function cartCount(prisma: PrismaClient, cartId: string | null): Promise<number> {
  if (!cartId) return 0;
  const agg = await prisma.cartItem.aggregate({ where: { cartId }, _sum: { quantity: true } });
  return agg._sum.quantity ?? 0;
}

function firstIssue(error: z.ZodError): string {
  return error.issues[0]?.message ?? 'Invalid input.';
}

export async function addToCart(prisma: PrismaClient, cartId: string | null, raw: unknown): Promise<CartResult> {
  const parsed = parseUntrusted(AddToCartInput, raw);
  if (!parsed.success) return { ok: false, error: firstIssue(parsed.error) };
  const { productId, quantity } = parsed.data;
  // One statement: what we know (the product, whether the cart exists, what it holds of it)
  // and, when the line fits the stock and the per-line limit, the write that creates or
  // touches the cart and sets the line. A refusal writes nothing; its message is made here.
  const now = new Date();
  // Data-modifying CTEs that decide and write together: clearer as SQL than as builder calls.
  type Product = Selectable<DB['Product']>;
  const {
    rows: [known],
  } = await sql<{ name: Product['name']; stock: Product['stock']; cartId: string; existing: number; written: boolean }>`
    WITH known AS (
      SELECT p.id, p.name, p.stock,
        COALESCE((SELECT c.id FROM "Cart" c WHERE c.id = ${cartId}::text), ${randomUUID()}::text) AS "cartId",
        COALESCE((SELECT i.quantity FROM "CartItem" i WHERE i."cartId" = ${cartId}::text AND i."productId" = p.id), 0) AS existing
      FROM "Product" p WHERE p.id = ${productId} AND p.active
    ), fits AS (
      SELECT * FROM known WHERE existing + ${quantity}::int <= stock AND existing + ${quantity}::int <= ${MAX_LINE_QUANTITY}::int
    ), cart AS (
      INSERT INTO "Cart" (id, "createdAt", "updatedAt") SELECT "cartId", ${now}::timestamp, ${now}::timestamp FROM fits
      ON CONFLICT (id) DO UPDATE SET "updatedAt" = ${now}::timestamp
      RETURNING id
    ), line AS (
      INSERT INTO "CartItem" (id, "cartId", "productId", quantity, "createdAt")
      SELECT ${randomUUID()}::text, cart.id, fits.id, fits.existing + ${quantity}::int, ${now}::timestamp FROM cart CROSS JOIN fits
      ON CONFLICT ("cartId", "productId") DO UPDATE SET quantity = EXCLUDED.quantity
      RETURNING id
    )
    SELECT name, stock, "cartId", existing, EXISTS (SELECT 1 FROM line) AS written FROM known`.execute(sqlOf(prisma).kysely);
  if (!known) return { ok: false, error: 'Unknown product.' };
  if (known.written) return { ok: true, cartId: known.cartId };
  const { existing, stock, name } = known;
  if (existing + quantity > stock) {
    const left = stock - existing;
    return {
      ok: false,
      error: stock === 0 ? `${name} is out of stock.` : left > 0 ? `Only ${left} more ${name} available.` : `You already have all ${stock} in your cart.`,
    };
  }
  return { ok: false, error: `Quantity can be at most ${MAX_LINE_QUANTITY}.` };
}

export async function setCartQuantity(prisma: PrismaClient, cartId: string | null, raw: unknown): Promise<CartResult> {
  const parsed = parseUntrusted(SetQuantityInput, raw);
  if (!parsed.success) return { ok: false, error: firstIssue(parsed.error) };
  const { productId, quantity } = parsed.data;
  if (!cartId) return { ok: false, error: 'Your cart is empty.' };
  const item = await prisma.cartItem.findUnique({ where: { cartId_productId: { cartId, productId } }, include: { product: true } });
  if (!item) return { ok: false, error: 'That item is not in your cart.' };
  if (quantity === 0) {
    await prisma.cartItem.delete({ where: { id: item.id } });
  } else {
    if (quantity > item.product.stock) return { ok: false, error: `Only ${item.product.stock} ${item.product.name} available.` };
    await prisma.cartItem.update({ where: { id: item.id }, data: { quantity } });
  }
  await prisma.cart.update({ where: { id: cartId }, data: { updatedAt: new Date() } });
  return { ok: true, cartId };
}

export async function removeFromCart(prisma: PrismaClient, cartId: string | null, raw: unknown): Promise<CartResult> {
  const parsed = parseUntrusted(RemoveInput, raw);
  if (!parsed.success) return { ok: false, error: firstIssue(parsed.error) };
  if (!cartId) return { ok: false, error: 'Your cart is empty.' };
  await prisma.cartItem.deleteMany({ where: { cartId, productId: parsed.data.productId } });
  return { ok: true, cartId };
}
