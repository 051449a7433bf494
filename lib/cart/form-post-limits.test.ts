// Edges of the product page's form post: the exact size cap, a proxy's list of hosts, a spaced
// content type. Written from the mutants Stryker left alive in lib/cart (bench/RESULTS.md).
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { expect, it } from 'vitest';
import { isSameOriginPost, readPostedForm } from './form-post';

const request = (headers: Record<string, string>, body = ''): IncomingMessage => Object.assign(Readable.from([Buffer.from(body)]), { headers }) as unknown as IncomingMessage;

it('takes a form of exactly 16 KiB and refuses one byte more', async () => {
  const exactly = 'a='.padEnd(16 * 1024, 'x');
  expect((await readPostedForm(request({ 'content-type': 'application/x-www-form-urlencoded' }, exactly)))?.get('a')).toHaveLength(16 * 1024 - 2);
  expect(await readPostedForm(request({ 'content-type': 'application/x-www-form-urlencoded' }, `${exactly}x`))).toBeNull();
});

it('reads the content type before its parameters, spaced or upper-case', async () => {
  expect((await readPostedForm(request({ 'content-type': 'Application/X-WWW-Form-Urlencoded ; charset=UTF-8' }, 'q=2')))?.get('q')).toBe('2');
});

it('compares the origin with the first of the hosts a proxy lists', () => {
  expect(isSameOriginPost(request({ host: 'internal:3000', 'x-forwarded-host': 'shop.test, internal:3000', origin: 'https://shop.test' }))).toBe(true);
  expect(isSameOriginPost(request({ host: 'internal:3000', 'x-forwarded-host': 'evil.test, shop.test', origin: 'https://shop.test' }))).toBe(false);
});
