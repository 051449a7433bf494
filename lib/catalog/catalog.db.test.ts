// The catalog cache must not grow with what strangers ask for: product pages are keyed by the
// slug in the URL, and a crawl of made-up slugs filled the cache (one entry per slug, kept until
// the next stock change) — found while reading the code for the soak's heap growth (issue #17).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { seedCatalog } from '@/lib/db/seed';
import { CATALOG_CACHE_MAX, catalogCacheSize, getProductBySlug, invalidateCatalog, listProducts } from './catalog';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
  await seedCatalog(database.prisma);
});
afterAll(() => database?.drop());
beforeEach(() => invalidateCatalog());

describe(`catalog cache (${testDbKind})`, () => {
  it('remembers a real product page, and a second read within the TTL does not ask the database', async () => {
    const [p] = await database.prisma.product.findMany({ where: { active: true }, take: 1 });
    const first = await getProductBySlug(database.prisma, p.slug);
    expect(first?.id).toBe(p.id);
    expect(catalogCacheSize()).toBe(1);
    await database.prisma.product.update({ where: { id: p.id }, data: { name: 'Renamed behind the cache' } });
    expect((await getProductBySlug(database.prisma, p.slug))?.name).toBe(p.name);
    invalidateCatalog();
    expect((await getProductBySlug(database.prisma, p.slug))?.name).toBe('Renamed behind the cache');
  });

  it('does not remember slugs that name no product, however many are asked for', async () => {
    await listProducts(database.prisma);
    for (let i = 0; i < 300; i++) expect(await getProductBySlug(database.prisma, `no-such-product-${i}`)).toBeNull();
    expect(catalogCacheSize()).toBe(1);
  });

  it(`never holds more than ${CATALOG_CACHE_MAX} entries, keeping the newest`, async () => {
    const products = await database.prisma.product.findMany({ where: { active: true } });
    // More distinct real slugs than the cap: the same products under their slugs, then the cap is
    // reached by re-keying (each product page is one key; the list is another).
    const slugs = products.map((p) => p.slug);
    for (const slug of slugs) await getProductBySlug(database.prisma, slug);
    expect(catalogCacheSize()).toBe(slugs.length);
    const extra = CATALOG_CACHE_MAX + 5 - slugs.length;
    const real = products[0];
    // Made-up slugs that do resolve: products created for this test.
    await database.prisma.product.createMany({
      data: Array.from({ length: extra }, (_, i) => ({ slug: `cap-${i}`, name: `Cap ${i}`, description: '', price: 100, currency: real.currency, image: real.image, stock: 1, active: true })),
    });
    for (let i = 0; i < extra; i++) await getProductBySlug(database.prisma, `cap-${i}`);
    expect(catalogCacheSize()).toBe(CATALOG_CACHE_MAX);
    // The newest is kept; the oldest (the first product page read) went.
    await database.prisma.product.update({ where: { slug: `cap-${extra - 1}` }, data: { name: 'changed' } });
    expect((await getProductBySlug(database.prisma, `cap-${extra - 1}`))?.name).toBe(`Cap ${extra - 1}`);
    await database.prisma.product.update({ where: { id: products[0].id }, data: { name: 'changed too' } });
    expect((await getProductBySlug(database.prisma, products[0].slug))?.name).toBe('changed too');
  });
});
