import { ShopChrome } from '@/components/shop/ShopChrome';
import { cartCount } from '@/lib/cart/cart';
import { readCartId } from '@/lib/cart/session';
import { config } from '@/lib/config';
import { prisma } from '@/lib/services';
import { paymentsAreTest } from '@/lib/stripe/test-mode';

export default async function ShopLayout({ children }: { children: React.ReactNode }) {
  const count = await cartCount(await prisma(), await readCartId());
  return <ShopChrome count={count} testMode={paymentsAreTest(config())}>{children}</ShopChrome>;
}
