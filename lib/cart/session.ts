// The cart cookie through next/headers, for the App Router (format and checks: ./cookie.ts).
import 'server-only';
import { cookies, headers } from 'next/headers';
import { CART_COOKIE, CART_COOKIE_MAX_AGE, cartCookieValue, cartIdFromCookieValue, isSecure } from './cookie';

export async function readCartId(): Promise<string | null> {
  return cartIdFromCookieValue((await cookies()).get(CART_COOKIE)?.value);
}

export async function isSecureRequest(): Promise<boolean> {
  return isSecure((await headers()).get('x-forwarded-proto'));
}

export async function writeCartId(cartId: string): Promise<void> {
  (await cookies()).set(CART_COOKIE, cartCookieValue(cartId), {
    httpOnly: true,
    sameSite: 'lax',
    secure: await isSecureRequest(),
    path: '/',
    maxAge: CART_COOKIE_MAX_AGE,
  });
}

export async function clearCartId(): Promise<void> {
  (await cookies()).delete(CART_COOKIE);
}
