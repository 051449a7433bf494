// Logs never carry secrets: whatever the app hands its logger — request headers with cookies,
// Stripe errors with their raw request, form bodies with card fields, connection strings —
// comes out redacted. Written through the app's own logger configuration (createLogger).
import { describe, expect, it } from 'vitest';
import { createLogger } from '@/lib/observability/logger';

const SECRETS = {
  sk: 'sk_live_51AbCdEfGhIjKlMnOpQrStUv0123456789',
  rk: 'rk_test_51AbCdEfGhIjKlMnOpQrStUv0123456789',
  whsec: 'whsec_Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0',
  clientSecret: 'pi_3PqRsTuVwXyZ_secret_AbCdEfGh123',
  adminCookie: 'brisk_admin=Q2hlY2tpbmctdGhlLWNvb2tpZS1pcy1oaWRkZW4tMTIzNDU2Nzg5',
  cartCookie: 'brisk_cart=ab12cd34.signature-value-here',
  card: '4000056655665556',
  cardSpaced: '5555 5555 5555 4444',
  cvc: '737',
  dbPassword: 'hunter2-db-password',
  smtpPassword: 'mail-password-9876',
  adminPassword: 'correct-horse-battery',
};

function logAll(): string {
  const lines: string[] = [];
  const log = createLogger((l) => lines.push(l), 'trace');
  const headers = new Headers({ cookie: `${SECRETS.adminCookie}; ${SECRETS.cartCookie}`, authorization: `Bearer ${SECRETS.sk}`, 'stripe-signature': `t=1,v1=${SECRETS.whsec}` });
  log.info({ req: { method: 'POST', url: '/checkout', headers } }, 'incoming request');
  log.info({ res: { headers: { 'set-cookie': [SECRETS.adminCookie, SECRETS.cartCookie] } } }, 'response');
  log.warn({ form: { email: 'ada@example.com', password: SECRETS.adminPassword } }, 'sign-in failed');
  log.error(
    {
      err: Object.assign(new Error(`Invalid API Key provided: ${SECRETS.rk}`), {
        type: 'StripeAuthenticationError',
        raw: { headers: { authorization: `Bearer ${SECRETS.rk}` }, requestBody: `amount=100&payment_method_data[card][number]=${SECRETS.card}&payment_method_data[card][cvc]=${SECRETS.cvc}` },
      }),
    },
    'stripe call failed',
  );
  log.info({ body: `card[number]=${SECRETS.card}&card[cvc]=${SECRETS.cvc}`, paymentIntent: { id: 'pi_3PqRsTuVwXyZ', client_secret: SECRETS.clientSecret } }, 'payment');
  log.info({ config: { DATABASE_URL: `postgresql://brisk:${SECRETS.dbPassword}@db:5432/brisk`, SMTP_URL: `smtp://mailer:${SECRETS.smtpPassword}@smtp.example:587`, STRIPE_SECRET_KEY: SECRETS.sk, APP_SECRET: 'a'.repeat(40) } }, 'config');
  log.info({ lines: [[{ card: { number: SECRETS.cardSpaced, cvc: SECRETS.cvc, last4: '4444' } }]] }, 'nested');
  log.debug(`retrying with ${SECRETS.sk} for ${SECRETS.clientSecret}, card ${SECRETS.cardSpaced}, db postgres://u:${SECRETS.dbPassword}@h/d`);
  return lines.join('\n');
}

describe('log redaction through the app logger', () => {
  it('redacts keys, webhook secrets, client secrets, cookies, passwords, connection strings and card data', () => {
    const out = logAll();
    for (const [name, value] of Object.entries(SECRETS)) expect(out, name).not.toContain(value);
    expect(out).not.toContain('a'.repeat(40));
    expect(out).not.toMatch(/"cvc":"737"|\[cvc\]=737/);
  });

  it('keeps what operators need: messages, ids, last four digits and the shape of the error', () => {
    const out = logAll();
    const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.msg)).toEqual(['incoming request', 'response', 'sign-in failed', 'stripe call failed', 'payment', 'config', 'nested', expect.stringContaining('retrying with sk_live_[redacted]')]);
    expect(out).toContain('pi_3PqRsTuVwXyZ');
    expect(out).toContain('"last4":"4444"');
    expect(out).toContain('StripeAuthenticationError');
    expect(out).toContain('ada@example.com');
  });
});
