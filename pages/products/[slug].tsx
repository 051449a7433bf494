// A product, served with no JavaScript. "Add to cart" is a plain form POST to this same URL:
// on success the cart cookie is set and the browser is sent back here with 303 (so a reload does
// not add again), showing "Added."; a refusal is shown inline with 422, changing nothing.
import type { GetServerSideProps, PageConfig } from 'next';
import Image from 'next/image';
import Link from 'next/link';
import { PageHead } from '@/components/shop/PageHead';
import { ShopChrome } from '@/components/shop/ShopChrome';
import { addToCart, cartCount } from '@/lib/cart/cart';
import { cartIdFromCookieHeader, cartSetCookieHeader, isSecure } from '@/lib/cart/cookie';
import { isSameOriginPost, readPostedForm } from '@/lib/cart/form-post';
import { getProductBySlug, type CatalogProduct } from '@/lib/catalog/catalog';
import { config as appConfig } from '@/lib/config';
import { prisma } from '@/lib/services';
import { paymentsAreTest } from '@/lib/stripe/test-mode';
import { formatMoney } from '@/lib/money';

export const config: PageConfig = { unstable_runtimeJS: false };

type Props = { product: CatalogProduct; count: number; added: boolean; error: string | null; testMode: boolean };

export const getServerSideProps: GetServerSideProps<Props, { slug: string }> = async ({ req, res, params, query }) => {
  const db = await prisma();
  const product = await getProductBySlug(db, params?.slug ?? '');
  if (!product) return { notFound: true };
  const cartId = cartIdFromCookieHeader(req.headers.cookie);
  let error: string | null = null;
  if (req.method === 'POST') {
    if (!isSameOriginPost(req)) {
      res.statusCode = 403;
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.end('Forbidden');
      return { props: { product, count: 0, added: false, error: null, testMode: paymentsAreTest(appConfig()) } };
    }
    const form = await readPostedForm(req);
    const result = form ? await addToCart(db, cartId, { productId: form.get('productId'), quantity: form.get('quantity') }) : { ok: false as const, error: 'Please check the form and try again.' };
    if (result.ok) {
      res.setHeader('Set-Cookie', cartSetCookieHeader(result.cartId, isSecure(req.headers['x-forwarded-proto'])));
      return { redirect: { destination: `/products/${product.slug}?added=1`, statusCode: 303 } };
    }
    res.statusCode = 422;
    error = result.error;
  }
  const count = await cartCount(db, cartId);
  return { props: { product, count, added: !error && query.added === '1', error, testMode: paymentsAreTest(appConfig()) } };
};

export default function ProductPage({ product, count, added, error, testMode }: Props) {
  return (
    <ShopChrome count={count} testMode={testMode}>
      <PageHead title={product.name} />
      <article className="grid gap-8 md:grid-cols-2">
        <Image src={product.image} alt={product.name} width={600} height={600} className="w-full rounded-xl border border-stone-200" unoptimized priority />
        <div>
          <Link href="/" className="text-sm text-amber-800 underline">← All products</Link>
          <h1 className="mt-2 text-3xl font-bold">{product.name}</h1>
          <p className="mt-2 text-2xl" data-testid="price">{formatMoney(product.price, product.currency)}</p>
          <p className="mt-4 text-stone-700">{product.description}</p>
          <p className="mt-4 text-sm text-stone-600" data-testid="stock">{product.stock > 0 ? `${product.stock} in stock` : 'Out of stock'}</p>
          {product.stock > 0 && (
            <form method="post" action={`/products/${product.slug}`} className="mt-6 flex flex-wrap items-end gap-3">
              <input type="hidden" name="productId" value={product.id} />
              <label className="flex flex-col text-sm font-medium">
                Quantity
                <input name="quantity" type="number" inputMode="numeric" min={1} max={Math.min(product.stock, 99)} defaultValue={1} required className="mt-1 w-24 rounded-md border border-stone-300 px-3 py-2" />
              </label>
              <button type="submit" className="rounded-md bg-amber-700 px-5 py-2.5 font-semibold text-white hover:bg-amber-800">
                Add to cart
              </button>
              <p role="status" aria-live="polite" className="w-full text-sm">
                {error ? (
                  <span className="text-red-700" data-testid="cart-error">{error}</span>
                ) : added ? (
                  <span className="text-green-800">
                    Added. <Link href="/cart" className="underline">View cart</Link>
                  </span>
                ) : null}
              </p>
            </form>
          )}
        </div>
      </article>
    </ShopChrome>
  );
}
