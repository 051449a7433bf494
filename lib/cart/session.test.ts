// The App Router side of the cart cookie (next/headers faked): what it reads and the attributes
// it writes. Written from the mutants Stryker found untested in lib/cart (bench/RESULTS.md).
import { beforeEach, describe, expect, it, vi } from 'vitest';

const jar = new Map<string, { value: string; options?: Record<string, unknown> }>();
const requestHeaders = new Map<string, string>();
vi.mock('next/headers', () => ({
  cookies: async () => ({
    get: (name: string) => jar.get(name),
    set: (name: string, value: string, options: Record<string, unknown>) => void jar.set(name, { value, options }),
    delete: (name: string) => void jar.delete(name),
  }),
  headers: async () => ({ get: (name: string) => requestHeaders.get(name) ?? null }),
}));

const { clearCartId, isSecureRequest, readCartId, writeCartId } = await import('./session');
const { CART_COOKIE } = await import('./cookie');

describe('the cart cookie through next/headers', () => {
  const id = '0b7c2a4e-5f7d-4c1b-9a61-3f1a2b3c4d5e';
  beforeEach(() => {
    process.env.APP_SECRET ??= 'y'.repeat(40);
    delete process.env.APP_URL;
    jar.clear();
    requestHeaders.clear();
  });

  it('writes a signed, HttpOnly, Lax, site-wide cookie for 30 days that reads back; Secure behind https', async () => {
    expect(await readCartId()).toBeNull();
    await writeCartId(id);
    expect(jar.get(CART_COOKIE)!.options).toEqual({ httpOnly: true, sameSite: 'lax', secure: false, path: '/', maxAge: 2_592_000 });
    expect(jar.get(CART_COOKIE)!.value).not.toBe(id);
    expect(await readCartId()).toBe(id);
    requestHeaders.set('x-forwarded-proto', 'https');
    expect(await isSecureRequest()).toBe(true);
    await writeCartId(id);
    expect(jar.get(CART_COOKIE)!.options).toMatchObject({ secure: true });
    await clearCartId();
    expect(jar.has(CART_COOKIE)).toBe(false);
    expect(await readCartId()).toBeNull();
  });
});
