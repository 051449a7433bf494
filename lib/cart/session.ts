// The cart cookie: a signed, HttpOnly reference to a cart row. Tampered or stale → no cart.
import { cookies, headers } from 'next/headers';
import { appSecret } from '@/lib/secrets';
import { signValue, verifySignedValue } from '@/lib/signed-value';

const COOKIE = 'brisk_cart';
const PURPOSE = 'cart';
const MAX_AGE = 60 * 60 * 24 * 30;

export async function readCartId(): Promise<string | null> {
  const value = verifySignedValue((await cookies()).get(COOKIE)?.value, appSecret(), PURPOSE);
  return value && /^[0-9a-f-]{36}$/.test(value) ? value : null;
}

export async function isSecureRequest(): Promise<boolean> {
  const h = await headers();
  return h.get('x-forwarded-proto') === 'https' || (process.env.APP_URL ?? '').startsWith('https://');
}

export async function writeCartId(cartId: string): Promise<void> {
  (await cookies()).set(COOKIE, signValue(cartId, appSecret(), PURPOSE), {
    httpOnly: true,
    sameSite: 'lax',
    secure: await isSecureRequest(),
    path: '/',
    maxAge: MAX_AGE,
  });
}

export async function clearCartId(): Promise<void> {
  (await cookies()).delete(COOKIE);
}
