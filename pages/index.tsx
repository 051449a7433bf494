// The catalog, served with no JavaScript (issue #7: the catalog and product pages stay far under
// their first-load budget because they load none; links are ordinary page loads).
import type { GetServerSideProps, PageConfig } from 'next';
import Image from 'next/image';
import Link from 'next/link';
import { PageHead } from '@/components/shop/PageHead';
import { ShopChrome } from '@/components/shop/ShopChrome';
import { cartCount } from '@/lib/cart/cart';
import { cartIdFromCookieHeader } from '@/lib/cart/cookie';
import { listProducts, type CatalogProduct } from '@/lib/catalog/catalog';
import { config as appConfig } from '@/lib/config';
import { prisma } from '@/lib/services';
import { paymentsAreTest } from '@/lib/stripe/test-mode';
import { formatMoney } from '@/lib/money';

export const config: PageConfig = { unstable_runtimeJS: false };

type Props = { products: CatalogProduct[]; count: number; testMode: boolean };

export const getServerSideProps: GetServerSideProps<Props> = async ({ req }) => {
  const db = await prisma();
  const [products, count] = await Promise.all([listProducts(db), cartCount(db, cartIdFromCookieHeader(req.headers.cookie))]);
  return { props: { products, count, testMode: paymentsAreTest(appConfig()) } };
};

export default function CatalogPage({ products, count, testMode }: Props) {
  return (
    <ShopChrome count={count} testMode={testMode}>
      <PageHead />
      {products.length === 0 ? (
        <p className="text-stone-600">The shop is being stocked. Please come back soon.</p>
      ) : (
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
      )}
    </ShopChrome>
  );
}
