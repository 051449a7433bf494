import { describe, expect, it } from 'vitest';
import { checkActionBody, checkPagePost, isPagePost, MAX_ACTION_BODY_BYTES } from './action-guard';

const id = 'a'.repeat(42);
const own = { host: 'shop.test', origin: 'http://shop.test' };

describe('page post guard', () => {
  it('judges page posts only, not route handlers or Next files', () => {
    expect(isPagePost('POST', '/checkout')).toBe(true);
    expect(isPagePost('POST', '/api/stripe/webhook')).toBe(false);
    expect(isPagePost('POST', '/_next/data')).toBe(false);
    expect(isPagePost('GET', '/checkout')).toBe(false);
  });

  it('refuses another origin with 403, also for plain form posts', () => {
    expect(checkPagePost({ ...own, origin: 'https://evil.example', 'next-action': id, 'content-length': '10' })).toMatchObject({ ok: false, status: 403 });
    expect(checkPagePost({ ...own, origin: 'null', 'content-type': 'application/x-www-form-urlencoded' })).toMatchObject({ ok: false, status: 403 });
    expect(checkPagePost({ ...own, origin: 'not a url' })).toMatchObject({ ok: false, status: 403 });
    // Our own origin, the forwarded host, APP_URL's host, or no Origin at all (not a browser) pass.
    expect(checkPagePost({ ...own, 'next-action': id, 'content-length': '10' })).toEqual({ ok: true, readBody: true });
    expect(checkPagePost({ host: 'internal:3000', 'x-forwarded-host': 'shop.test', origin: 'https://shop.test' })).toEqual({ ok: true, readBody: false });
    expect(checkPagePost({ host: 'internal:3000', origin: 'https://shop.example' }, 'https://shop.example')).toEqual({ ok: true, readBody: false });
    expect(checkPagePost({ host: 'shop.test', 'content-type': 'application/x-www-form-urlencoded' })).toEqual({ ok: true, readBody: false });
  });

  it('refuses an action body over 100 KB with 413 before reading it, and an unknown length with 411', () => {
    expect(checkPagePost({ ...own, 'next-action': id, 'content-length': String(MAX_ACTION_BODY_BYTES + 1) })).toMatchObject({ ok: false, status: 413 });
    expect(checkPagePost({ ...own, 'content-type': 'multipart/form-data; boundary=x', 'content-length': '999999' })).toMatchObject({ ok: false, status: 413 });
    expect(checkPagePost({ ...own, 'next-action': id, 'content-length': String(MAX_ACTION_BODY_BYTES) })).toEqual({ ok: true, readBody: true });
    expect(checkPagePost({ ...own, 'next-action': id, 'transfer-encoding': 'chunked' })).toMatchObject({ ok: false, status: 411 });
    expect(checkPagePost({ ...own, 'next-action': id, 'content-length': '1e9' })).toMatchObject({ ok: false, status: 400 });
  });

  it('refuses a Next-Action header that is no action id with 400', () => {
    expect(checkPagePost({ ...own, 'next-action': 'x', 'content-length': '2' })).toMatchObject({ ok: false, status: 400 });
    expect(checkPagePost({ ...own, 'next-action': `${id}0`, 'content-length': '2' })).toMatchObject({ ok: false, status: 400 });
  });

  it('refuses action bodies that cannot be decoded with 400', async () => {
    const action = { ...own, 'next-action': id, 'content-type': 'text/plain;charset=UTF-8' };
    expect(await checkActionBody(action, Buffer.from('[{"email":"a@b.c"}]'))).toEqual({ ok: true, readBody: true });
    for (const bad of ['{not json', '{"a":1}', '', '\u0000']) expect(await checkActionBody(action, Buffer.from(bad)), bad).toMatchObject({ ok: false, status: 400 });
    expect(await checkActionBody(action, Buffer.from([0xff, 0xfe, 0x5b, 0x5d]))).toMatchObject({ ok: false, status: 400 });
    // Well-formed JSON that points at rows a text body does not have: React's decoder would throw (500).
    for (const bad of ['["$Q1"]', '[{"a":["$@1"]}]', '["$K1"]', '["$1"]', '["$F1"]', '["$B1"]']) expect(await checkActionBody(action, Buffer.from(bad)), bad).toMatchObject({ ok: false, status: 400 });
    // What React writes inline: escaped dollars, undefined, dates, bigints, odd numbers, temporary references.
    expect(await checkActionBody(action, Buffer.from('[{"name":"$$5 tea","x":"$u","d":"$D2031-01-01T00:00:00.000Z","n":"$n12","f":"$-Infinity","t":"$T"}]'))).toEqual({ ok: true, readBody: true });
    const form = new FormData();
    form.set('1_email', 'a@b.c');
    const req = new Request('http://x', { method: 'POST', body: form });
    const multipart = { ...own, 'content-type': req.headers.get('content-type')! };
    expect(await checkActionBody(multipart, Buffer.from(await req.arrayBuffer()))).toEqual({ ok: true, readBody: true });
    expect(await checkActionBody(multipart, Buffer.from('garbage'))).toMatchObject({ ok: false, status: 400 });
    expect(await checkActionBody({ ...own, 'content-type': 'multipart/form-data' }, Buffer.from('x'))).toMatchObject({ ok: false, status: 400 });
  });
});
