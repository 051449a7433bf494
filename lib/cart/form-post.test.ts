import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { cartIdFromCookieHeader, cartSetCookieHeader } from './cookie';
import { isSameOriginPost, readPostedForm } from './form-post';

function request(headers: Record<string, string>, body = ''): IncomingMessage {
  return Object.assign(Readable.from([Buffer.from(body)]), { headers }) as unknown as IncomingMessage;
}

describe('the product page form post', () => {
  it('accepts its own origin (or none), refuses any other', () => {
    expect(isSameOriginPost(request({ host: 'shop.test', origin: 'https://shop.test' }))).toBe(true);
    expect(isSameOriginPost(request({ host: 'shop.test' }))).toBe(true);
    expect(isSameOriginPost(request({ host: 'internal:3000', 'x-forwarded-host': 'shop.test', origin: 'https://shop.test' }))).toBe(true);
    expect(isSameOriginPost(request({ host: 'shop.test', origin: 'https://evil.test' }))).toBe(false);
    expect(isSameOriginPost(request({ host: 'shop.test', origin: 'null' }))).toBe(false);
  });

  it('reads a small urlencoded form and nothing else', async () => {
    const form = await readPostedForm(request({ 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }, 'productId=abc&quantity=2'));
    expect(form?.get('quantity')).toBe('2');
    expect(await readPostedForm(request({ 'content-type': 'application/json' }, '{}'))).toBeNull();
    expect(await readPostedForm(request({ 'content-type': 'application/x-www-form-urlencoded' }, 'a='.padEnd(20_000, 'x')))).toBeNull();
  });

  it('round-trips the signed cart cookie and ignores a forged one', () => {
    const id = '0b6e1a52-3f0c-4a8e-9a57-1d1f4f1c2b3a';
    const set = cartSetCookieHeader(id, true);
    expect(set).toMatch(/; HttpOnly; SameSite=Lax; Secure$/);
    expect(cartIdFromCookieHeader(`other=1; ${set.split(';')[0]}`)).toBe(id);
    expect(cartIdFromCookieHeader(`brisk_cart=${id}.forged`)).toBeNull();
    expect(cartIdFromCookieHeader(undefined)).toBeNull();
  });
});
