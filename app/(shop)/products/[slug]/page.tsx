import type { Metadata } from 'next';
import Image from 'next/image';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { AddToCartForm } from '@/components/shop/AddToCartForm';
import { getProductBySlug } from '@/lib/catalog/catalog';
import { prisma } from '@/lib/db/client';
import { formatMoney } from '@/lib/money';

type Props = { params: Promise<{ slug: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  const product = await getProductBySlug(await prisma(), (await params).slug);
  return { title: product?.name ?? 'Not found' };
}

export default async function ProductPage({ params }: Props) {
  const product = await getProductBySlug(await prisma(), (await params).slug);
  if (!product) notFound();
  return (
    <article className="grid gap-8 md:grid-cols-2">
      <Image src={product.image} alt={product.name} width={600} height={600} className="w-full rounded-xl border border-stone-200" unoptimized priority />
      <div>
        <Link href="/" className="text-sm text-amber-800 underline">← All products</Link>
        <h1 className="mt-2 text-3xl font-bold">{product.name}</h1>
        <p className="mt-2 text-2xl" data-testid="price">{formatMoney(product.price, product.currency)}</p>
        <p className="mt-4 text-stone-700">{product.description}</p>
        <p className="mt-4 text-sm text-stone-600" data-testid="stock">{product.stock > 0 ? `${product.stock} in stock` : 'Out of stock'}</p>
        {product.stock > 0 && <AddToCartForm productId={product.id} max={Math.min(product.stock, 99)} />}
      </div>
    </article>
  );
}
