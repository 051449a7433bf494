import { describe, expect, it } from 'vitest';
import { testDbKind } from '@/tests/helpers/db';
import { webhookHarness } from '@/tests/helpers/webhook';
import { openDatabase } from '@/lib/db/client';
import { WEBHOOK_MAX_BYTES, receiveStripeWebhook } from './webhook';

const SECRET = 'whsec_current_secret';
const PREVIOUS = 'whsec_previous_secret';
const wh = webhookHarness({ secretKey: 'sk_test_webhooks', secrets: [SECRET, PREVIOUS] });
const { deps, enqueued } = wh;

function eventBody(id: string, type = 'payment_intent.succeeded', extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ id, object: 'event', api_version: '2025-01-01', created: Math.floor(Date.now() / 1000), livemode: false, pending_webhooks: 1, request: null, type, data: { object: { id: 'pi_webhook_1', object: 'payment_intent', ...extra } } });
}

const sign = wh.sign;
const rows = wh.stored;

describe(`receiveStripeWebhook (${testDbKind})`, () => {
  it('stores a signed event, enqueues it once and answers 200', async () => {
    const body = eventBody('evt_wh_ok');
    const r = await receiveStripeWebhook({ rawBody: body, signature: sign(body), contentLength: String(Buffer.byteLength(body)) }, deps());
    expect(r).toEqual({ status: 200, body: { received: true } });
    expect(enqueued).toEqual(['evt_wh_ok']);
    const row = await wh.prisma.stripeEvent.findUniqueOrThrow({ where: { id: 'evt_wh_ok' } });
    expect(row).toMatchObject({ type: 'payment_intent.succeeded', objectId: 'pi_webhook_1', status: 'received', attempts: 0 });
  });

  it('acknowledges a duplicate delivery without storing or enqueuing it again', async () => {
    const body = eventBody('evt_wh_dup');
    const d = deps();
    expect((await receiveStripeWebhook({ rawBody: body, signature: sign(body) }, d)).status).toBe(200);
    // Stripe signs every delivery afresh.
    const again = await receiveStripeWebhook({ rawBody: body, signature: sign(body, SECRET, Math.floor(Date.now() / 1000) + 1) }, d);
    expect(again).toEqual({ status: 200, body: { received: true, duplicate: true } });
    expect(await rows('evt_wh_dup')).toBe(1);
    expect(enqueued).toEqual(['evt_wh_dup']);
  });

  it('rejects a missing, wrong or tampered signature with 400 and stores nothing', async () => {
    const before = await rows();
    const body = eventBody('evt_wh_bad');
    const cases: [string | null, string][] = [
      [null, body],
      ['', body],
      ['garbage', body],
      [sign(body, 'whsec_someone_else'), body],
      [sign(body), body.replace('pi_webhook_1', 'pi_webhook_2')],
    ];
    for (const [signature, rawBody] of cases) {
      const r = await receiveStripeWebhook({ rawBody, signature }, deps());
      expect(r.status, String(signature)).toBe(400);
    }
    expect(await rows()).toBe(before);
    expect(enqueued).toEqual([]);
  });

  it('rejects a signature older than 300 seconds', async () => {
    const body = eventBody('evt_wh_old');
    const r = await receiveStripeWebhook({ rawBody: body, signature: sign(body, SECRET, Math.floor(Date.now() / 1000) - 301) }, deps());
    expect(r.status).toBe(400);
    expect(await rows('evt_wh_old')).toBe(0);
    const recent = await receiveStripeWebhook({ rawBody: body, signature: sign(body, SECRET, Math.floor(Date.now() / 1000) - 250) }, deps());
    expect(recent.status).toBe(200);
  });

  it('accepts the previous secret during a rotation', async () => {
    const body = eventBody('evt_wh_prev');
    expect((await receiveStripeWebhook({ rawBody: body, signature: sign(body, PREVIOUS) }, deps())).status).toBe(200);
    expect(await rows('evt_wh_prev')).toBe(1);
    // …and not once the rotation is over.
    const body2 = eventBody('evt_wh_prev2');
    expect((await receiveStripeWebhook({ rawBody: body2, signature: sign(body2, PREVIOUS) }, deps({ secrets: [SECRET, undefined] }))).status).toBe(400);
  });

  it('answers 413 for a body over 1 MB, by header or by length', async () => {
    const big = eventBody('evt_wh_big', 'payment_intent.succeeded', { description: 'x'.repeat(WEBHOOK_MAX_BYTES) });
    expect((await receiveStripeWebhook({ rawBody: big, signature: sign(big) }, deps())).status).toBe(413);
    const small = eventBody('evt_wh_big2');
    expect((await receiveStripeWebhook({ rawBody: small, signature: sign(small), contentLength: String(WEBHOOK_MAX_BYTES + 1) }, deps())).status).toBe(413);
    expect(await rows('evt_wh_big')).toBe(0);
    expect(await rows('evt_wh_big2')).toBe(0);
  });

  it('stores an unhandled event type and answers 200', async () => {
    const body = eventBody('evt_wh_other', 'customer.created');
    const r = await receiveStripeWebhook({ rawBody: body, signature: sign(body) }, deps());
    expect(r.status).toBe(200);
    expect(await rows('evt_wh_other')).toBe(1);
  });

  it('answers 503 when the database is unreachable, so Stripe retries', async () => {
    const body = eventBody('evt_wh_down');
    const r1 = await receiveStripeWebhook({ rawBody: body, signature: sign(body) }, deps({ prisma: () => Promise.reject(new Error('ECONNREFUSED')) }));
    expect(r1.status).toBe(503);
    const gone = testDbKind === 'postgres' ? await openDatabase({ url: 'postgresql://postgres@127.0.0.1:1/nowhere', poolMax: 1 }) : await openDatabase({ dataDir: 'memory://' });
    if (gone.kind === 'pglite') await gone.pglite!.close();
    const r2 = await receiveStripeWebhook({ rawBody: body, signature: sign(body) }, deps({ prisma: () => gone.prisma }));
    expect(r2.status).toBe(503);
    expect(enqueued).toEqual([]);
    await gone.prisma.$disconnect().catch(() => {});
  });

  it('still answers 200 when enqueuing fails: the event is stored and the sweep picks it up', async () => {
    const body = eventBody('evt_wh_noqueue');
    const errors: string[] = [];
    const r = await receiveStripeWebhook({ rawBody: body, signature: sign(body) }, deps({ enqueue: () => Promise.reject(new Error('boss down')), onError: (stage) => void errors.push(stage) }));
    expect(r.status).toBe(200);
    expect(errors).toEqual(['enqueue']);
    expect(await rows('evt_wh_noqueue')).toBe(1);
  });
});
