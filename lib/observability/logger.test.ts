import { describe, expect, it } from 'vitest';
import { createLogger, redactSecrets, redactString } from './logger';
import { withRequestContext } from './request-context';

const SK = 'sk_test_51HxYzAbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
const WHSEC = 'whsec_AbCdEf0123456789AbCdEf0123456789';
const CLIENT_SECRET = 'pi_3Nabc123DEF_secret_XyZ987abc';

describe('redaction', () => {
  it('scrubs keys, secrets, client secrets, bearer tokens and card numbers from strings', () => {
    const s = redactString(`key ${SK} wh ${WHSEC} cs ${CLIENT_SECRET} Authorization: Bearer ${SK} card 4242 4242 4242 4242 and 4000-0025-0000-3155 body card[number]=4242424242424242&card[cvc]=123`);
    for (const secret of [SK, WHSEC, CLIENT_SECRET, '4242 4242 4242 4242', '4000-0025-0000-3155', '4242424242424242', 'cvc]=123']) expect(s).not.toContain(secret);
    expect(s).toContain('sk_test_[redacted]');
  });

  it('keeps ordinary numbers and ids (order numbers, amounts, PaymentIntent ids)', () => {
    const s = redactString('order 1234567890123 amount 4999 pi_3Nabc123DEF ch_1 timestamp 1700000000000');
    expect(s).toBe('order 1234567890123 amount 4999 pi_3Nabc123DEF ch_1 timestamp 1700000000000');
  });

  it('scrubs secret fields of objects however deep, and card fields inside a card object', () => {
    const out = redactSecrets({
      headers: { authorization: `Bearer ${SK}`, cookie: 'brisk_cart=abc', 'content-type': 'application/json' },
      payment: { client_secret: CLIENT_SECRET, card: { number: '4242424242424242', cvc: '123', brand: 'visa', last4: '4242' } },
      order: { number: 42 },
      nested: [{ apiKey: 'whatever' }, `token ${WHSEC}`],
    });
    const text = JSON.stringify(out);
    for (const secret of [SK, WHSEC, CLIENT_SECRET, 'brisk_cart=abc', '4242424242424242', '"123"', 'whatever']) expect(text).not.toContain(secret);
    expect(out.headers['content-type']).toBe('application/json');
    expect(out.payment.card).toMatchObject({ brand: 'visa', last4: '4242' });
    expect(out.order.number).toBe(42);
  });

  it('survives cycles and errors', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    const err = Object.assign(new Error(`Invalid API Key provided: ${SK}`), { statusCode: 401 });
    const out = redactSecrets({ a, err }) as { err: { message: string; statusCode: number } };
    expect(out.err.message).not.toContain(SK);
    expect(out.err.statusCode).toBe(401);
  });

  it('never lets a secret reach a log line, in fields, messages or errors, and stamps the request id', () => {
    const lines: string[] = [];
    const log = createLogger((l) => lines.push(l));
    withRequestContext(
      () => {
        log.info({ stripeKey: SK, headers: { Authorization: `Bearer ${SK}` }, params: { 'card[number]': '4242424242424242' } }, `calling with ${SK}`);
        log.error({ err: new Error(`bad signature for ${WHSEC}`) }, 'webhook failed');
        log.info(`client secret ${CLIENT_SECRET} card 4242424242424242`);
      },
      { requestId: 'req-test-1' },
    );
    expect(lines).toHaveLength(3);
    const all = lines.join('\n');
    for (const secret of [SK, WHSEC, CLIENT_SECRET, '4242424242424242']) expect(all).not.toContain(secret);
    for (const l of lines) expect(JSON.parse(l).requestId).toBe('req-test-1');
  });
});
