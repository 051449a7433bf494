import { ShopChrome } from '@/components/shop/ShopChrome';
import { cartCount } from '@/lib/cart/cart';
import { readCartId } from '@/lib/cart/session';
import { prisma } from '@/lib/db/client';

export default async function ShopLayout({ children }: { children: React.ReactNode }) {
  const count = await cartCount(await prisma(), await readCartId());
  return <ShopChrome count={count}>{children}</ShopChrome>;
}
