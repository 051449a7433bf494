// Seeds the catalog. Seeding twice changes nothing: existing products are left as they are.
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { seedProducts } from './catalog-data';

export async function seedCatalog(prisma: PrismaClient): Promise<{ created: number }> {
  let created = 0;
  for (const p of seedProducts) {
    const existing = await prisma.product.findUnique({ where: { slug: p.slug }, select: { id: true } });
    if (existing) continue;
    await prisma.product.create({
      data: { slug: p.slug, name: p.name, description: p.description, price: p.price, currency: 'usd', stock: p.stock, image: `/products/${p.slug}.svg` },
    });
    created++;
  }
  return { created };
}
