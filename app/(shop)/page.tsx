import Image from 'next/image';
import Link from 'next/link';
import { listProducts } from '@/lib/catalog/catalog';
import { prisma } from '@/lib/db/client';
import { formatMoney } from '@/lib/money';

export default async function CatalogPage() {
  const products = await listProducts(await prisma());
  if (products.length === 0) {
    return <p className="text-stone-600">The shop is being stocked. Please come back soon.</p>;
  }
  return (
    <section aria-labelledby="catalog-heading">
      <h1 id="catalog-heading" className="mb-6 text-3xl font-bold">Coffee, tea and the gear to brew them</h1>
      <ul className="grid grid-cols-1 gap-6 sm:grid-cols-2 lg:grid-cols-3 xl:grid-cols-4" data-testid="product-grid">
        {products.map((p) => (
          <li key={p.id} className="overflow-hidden rounded-xl border border-stone-200 bg-white shadow-sm">
            <Link href={`/products/${p.slug}`} className="block focus-visible:outline-offset-[-3px]">
              <Image src={p.image} alt={p.name} width={600} height={600} className="aspect-square w-full object-cover" unoptimized />
              <div className="p-4">
                <h2 className="font-semibold">{p.name}</h2>
                <p className="mt-1 text-stone-700">{formatMoney(p.price, p.currency)}</p>
                {p.stock === 0 && <p className="mt-1 text-sm text-red-700">Out of stock</p>}
              </div>
            </Link>
          </li>
        ))}
      </ul>
    </section>
  );
}
