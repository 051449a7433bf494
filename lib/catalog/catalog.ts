// Catalog reads, cached in memory and invalidated when a product changes (stock, price).
// Instances that did not make the change see it within CATALOG_TTL_MS.
import type { PrismaClient } from '@/lib/generated/prisma/client';

export interface CatalogProduct {
  id: string;
  slug: string;
  name: string;
  description: string;
  price: number;
  currency: string;
  image: string;
  stock: number;
}

const CATALOG_TTL_MS = 30_000;
// One cache per process, on globalThis: Next bundles this module separately for the App Router
// and for the Pages Router pages (catalog, product), and an invalidation by one (an order's stock
// change) must reach the other.
const g = globalThis as unknown as { __briskCatalogCache?: Map<string, { at: number; value: unknown }> };
const cache = (g.__briskCatalogCache ??= new Map());

/** Entries at most: product pages are keyed by the slug asked for, and anyone can ask for any slug. */
export const CATALOG_CACHE_MAX = 1_000;

async function cached<T>(key: string, load: () => Promise<T>): Promise<T> {
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < CATALOG_TTL_MS) return hit.value as T;
  const value = await load();
  // A slug that names no product is not remembered (a crawl of made-up slugs would otherwise
  // fill the cache until the next stock change), and the cache never holds more than
  // CATALOG_CACHE_MAX entries: past it, the expired ones go, then the oldest.
  if (value === null) {
    cache.delete(key);
    return value;
  }
  if (!cache.has(key) && cache.size >= CATALOG_CACHE_MAX) {
    const now = Date.now();
    for (const [k, v] of cache) if (now - v.at >= CATALOG_TTL_MS) cache.delete(k);
    if (cache.size >= CATALOG_CACHE_MAX) cache.delete(cache.keys().next().value as string);
  }
  cache.set(key, { at: Date.now(), value });
  return value;
}

/** Entries the catalog cache holds now (for tests and metrics). */
export function catalogCacheSize(): number {
  return cache.size;
}

export function invalidateCatalog(): void {
  cache.clear();
}

const select = { id: true, slug: true, name: true, description: true, price: true, currency: true, image: true, stock: true } as const;

export function listProducts(prisma: PrismaClient): Promise<CatalogProduct[]> {
  return cached('list', () => prisma.product.findMany({ where: { active: true }, orderBy: { name: 'asc' }, select }));
}

export function getProductBySlug(prisma: PrismaClient, slug: string): Promise<CatalogProduct | null> {
  if (!/^[a-z0-9-]{1,80}$/.test(slug)) return Promise.resolve(null);
  return cached(`slug:${slug}`, () => prisma.product.findFirst({ where: { slug, active: true }, select }));
}
