// The cart cookie's format: a signed, HttpOnly reference to a cart row. Tampered or stale → no
// cart. Free of next/headers, so the script-free Pages Router pages (catalog, product) use it on
// the raw request and response; lib/cart/session.ts wraps it for the App Router.
import { config } from '@/lib/config';
import { appSecret } from '@/lib/secrets';
import { signValue, verifySignedValue } from '@/lib/signed-value';

export const CART_COOKIE = 'brisk_cart';
const PURPOSE = 'cart';
export const CART_COOKIE_MAX_AGE = 60 * 60 * 24 * 30;

/** The cart id in a cookie value, or null when absent, tampered or malformed. */
export function cartIdFromCookieValue(cookieValue: string | undefined): string | null {
  const value = verifySignedValue(cookieValue, appSecret(), PURPOSE);
  return value && /^[0-9a-f-]{36}$/.test(value) ? value : null;
}

/** The signed cookie value for a cart id. */
export function cartCookieValue(cartId: string): string {
  return signValue(cartId, appSecret(), PURPOSE);
}

/** The cart id in a request's Cookie header. */
export function cartIdFromCookieHeader(header: string | undefined): string | null {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== CART_COOKIE) continue;
    try {
      return cartIdFromCookieValue(decodeURIComponent(part.slice(eq + 1).trim()));
    } catch {
      return null;
    }
  }
  return null;
}

/** True when the request reached us over https (the load balancer says so, or APP_URL is https). */
export function isSecure(forwardedProto: string | string[] | null | undefined, appUrl = config().APP_URL): boolean {
  return forwardedProto === 'https' || (appUrl ?? '').startsWith('https://');
}

/** A Set-Cookie header for the cart, with the same attributes as writeCartId's. */
export function cartSetCookieHeader(cartId: string, secure: boolean): string {
  return `${CART_COOKIE}=${encodeURIComponent(cartCookieValue(cartId))}; Path=/; Max-Age=${CART_COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}
