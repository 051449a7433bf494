// Hostile or broken input at the webhook route that carries a VALID signature (a leaked secret, a
// bug at the sender): an event we could never store is refused with 400 and stores nothing; the
// boundaries of what is accepted (sizes, ids, types, times) are exact; a signature dated in the
// future is refused, since it would stay replayable past the tolerance.
import { describe, expect, it } from 'vitest';
import { testDbKind } from '@/tests/helpers/db';
import { nowSeconds as now, webhookHarness } from '@/tests/helpers/webhook';
import { StripeEventInbox } from './event-inbox';
import { WEBHOOK_MAX_BYTES, WEBHOOK_TOLERANCE_SECONDS, receiveStripeWebhook } from './webhook';

const SECRET = 'whsec_input_secret';
const wh = webhookHarness({ secretKey: 'sk_test_webhook_input', secrets: [SECRET] });
const { deps, enqueued } = wh;
const sign = (payload: string, timestamp = now()) => wh.sign(payload, SECRET, timestamp);
const base = (over: Record<string, unknown> = {}) => ({ id: 'evt_input_ok', object: 'event', api_version: '2025-01-01', created: now(), livemode: false, pending_webhooks: 1, request: null, type: 'payment_intent.succeeded', data: { object: { id: 'pi_input', object: 'payment_intent' } }, ...over });
const stored = () => wh.stored();

async function post(body: string, signature: string | null = sign(body), contentLength?: string) {
  return receiveStripeWebhook({ rawBody: body, signature, contentLength: contentLength ?? String(Buffer.byteLength(body)) }, deps());
}

describe(`signed webhook input (${testDbKind})`, () => {
  it('refuses a signed event of any malformed shape with 400 "malformed event", storing and enqueuing nothing', async () => {
    const long = (n: number) => 'a'.repeat(n);
    const bad: [string, unknown][] = [
      ['an array', [base()]],
      ['null', null],
      ['a number', 42],
      ['no id', base({ id: undefined })],
      ['an id that is not a string', base({ id: 12345 })],
      ['an id without evt_', base({ id: 'pi_123' })],
      ['an id with only the prefix', base({ id: 'evt_' })],
      ['an id with a dash', base({ id: 'evt_ab-cd' })],
      ['an id with text before evt_', base({ id: 'xevt_abc' })],
      ['an id with text after a space', base({ id: 'evt_abc def' })],
      ['an id 251 characters after evt_', base({ id: `evt_${long(251)}` })],
      ['no type', base({ type: undefined })],
      ['a type that is not a string', base({ type: 7 })],
      ['an empty type', base({ type: '' })],
      ['a type with a space', base({ type: 'payment_intent succeeded' })],
      ['a type with a quote first', base({ type: "'payment_intent.succeeded" })],
      ['a type with a quote last', base({ type: "payment_intent.succeeded'" })],
      ['a type of 256 characters', base({ type: long(256) })],
      ['no created', base({ created: undefined })],
      ['created as a string', base({ created: String(now()) })],
      ['created not whole', base({ created: now() + 0.5 })],
      ['created before 1970', base({ created: -1 })],
      ['created in the year 3000', base({ created: 32_503_680_000 })],
      ['no data', base({ data: undefined })],
      ['data null', base({ data: null })],
      ['data without an object', base({ data: {} })],
      ['data.object null', base({ data: { object: null } })],
      ['data.object a string', base({ data: { object: 'pi_input' } })],
    ];
    const before = await stored();
    for (const [what, event] of bad) {
      const body = JSON.stringify(event);
      const r = await post(body);
      expect(r, what).toEqual({ status: 400, body: { error: 'malformed event' } });
    }
    expect(await stored()).toBe(before);
    expect(enqueued).toEqual([]);
  });

  it('accepts the edges of a well-formed event: a 250-character id, a 255-character type, created 0 and the last second before 3000', async () => {
    const edge = [
      base({ id: `evt_${'b'.repeat(250)}` }),
      base({ id: 'evt_type_255', type: 'c'.repeat(255) }),
      base({ id: 'evt_created_0', created: 0 }),
      base({ id: 'evt_created_max', created: 32_503_679_999 }),
    ];
    for (const event of edge) {
      const r = await post(JSON.stringify(event));
      expect(r, String(event.id).slice(0, 20)).toEqual({ status: 200, body: { received: true } });
      expect(await wh.prisma.stripeEvent.count({ where: { id: event.id as string } })).toBe(1);
    }
  });

  it('refuses a signature dated beyond the tolerance in the future, and accepts one within it', async () => {
    const ahead = JSON.stringify(base({ id: 'evt_input_future' }));
    expect(await post(ahead, sign(ahead, now() + WEBHOOK_TOLERANCE_SECONDS + 60))).toEqual({ status: 400, body: { error: 'invalid signature' } });
    // The same with spaces after the commas, as some proxies rewrite headers.
    const spaced = sign(ahead, now() + WEBHOOK_TOLERANCE_SECONDS + 60).replace(/,/g, ', ');
    expect((await post(ahead, spaced)).status).toBe(400);
    expect(await wh.prisma.stripeEvent.count({ where: { id: 'evt_input_future' } })).toBe(0);
    // A clock a little ahead of ours is fine.
    expect(await post(ahead, sign(ahead, now() + 60))).toEqual({ status: 200, body: { received: true } });
  });

  it('takes a body of exactly 1 MB and refuses one byte more (by length or by declared Content-Length), storing nothing', async () => {
    const padded = (id: string, bytes: number) => {
      const skeleton = JSON.stringify(base({ id, data: { object: { id: 'pi_input', object: 'payment_intent', description: '' } } }));
      return skeleton.replace('"description":""', `"description":"${'d'.repeat(bytes - Buffer.byteLength(skeleton))}"`);
    };
    const exact = padded('evt_input_exact_mb', WEBHOOK_MAX_BYTES);
    expect(Buffer.byteLength(exact)).toBe(WEBHOOK_MAX_BYTES);
    expect(await post(exact)).toEqual({ status: 200, body: { received: true } });

    const over = padded('evt_input_over_mb', WEBHOOK_MAX_BYTES + 1);
    expect(await post(over)).toEqual({ status: 413, body: { error: 'payload too large' } });
    const small = JSON.stringify(base({ id: 'evt_input_declared' }));
    expect(await post(small, sign(small), String(WEBHOOK_MAX_BYTES + 1))).toEqual({ status: 413, body: { error: 'payload too large' } });
    expect(await post(small, sign(small), String(WEBHOOK_MAX_BYTES))).toEqual({ status: 200, body: { received: true } });
    expect(await wh.prisma.stripeEvent.count({ where: { id: 'evt_input_over_mb' } })).toBe(0);
  });

  it('names what is wrong: no signature, no secret configured, a bad signature', async () => {
    const body = JSON.stringify(base({ id: 'evt_input_named' }));
    expect(await post(body, null)).toEqual({ status: 400, body: { error: 'missing Stripe-Signature header' } });
    expect(await post(body, '')).toEqual({ status: 400, body: { error: 'missing Stripe-Signature header' } });
    expect(await receiveStripeWebhook({ rawBody: body, signature: sign(body) }, deps({ secrets: [undefined, ''] as unknown as string[] }))).toEqual({
      status: 500,
      body: { error: 'webhook secret is not configured' },
    });
    expect(await post(body, sign(body).replace(/v1=[0-9a-f]+/, `v1=${'0'.repeat(64)}`))).toEqual({ status: 400, body: { error: 'invalid signature' } });
    expect(await wh.prisma.stripeEvent.count({ where: { id: 'evt_input_named' } })).toBe(0);
  });

  it('accepts a signature exactly at the future tolerance, and refuses one beyond it whatever the order of the header parts', async () => {
    const body = JSON.stringify(base({ id: 'evt_input_future_edge' }));
    const beyond = sign(body, now() + WEBHOOK_TOLERANCE_SECONDS + 60);
    const [t, v1] = beyond.split(',');
    expect(await post(body, `${v1},${t}`)).toEqual({ status: 400, body: { error: 'invalid signature' } });
    expect(await wh.stored('evt_input_future_edge')).toBe(0);
    expect(await post(body, sign(body, now() + WEBHOOK_TOLERANCE_SECONDS))).toEqual({ status: 200, body: { received: true } });
  });

  it('ignores a Content-Length that is not a number (the body itself is measured)', async () => {
    for (const [id, declared] of [['evt_input_cl_text', 'abc'], ['evt_input_cl_empty', '']]) {
      const body = JSON.stringify(base({ id }));
      expect(await post(body, sign(body), declared), declared).toEqual({ status: 200, body: { received: true } });
    }
  });

  it('skips an unset secret in the list and checks against the ones set', async () => {
    const body = JSON.stringify(base({ id: 'evt_input_secret_gap' }));
    const r = await receiveStripeWebhook({ rawBody: body, signature: sign(body) }, deps({ secrets: [undefined, SECRET] }));
    expect(r).toEqual({ status: 200, body: { received: true } });
  });

  it('answers 503 "temporarily unavailable" and reports the database stage when the event cannot be stored', async () => {
    const body = JSON.stringify(base({ id: 'evt_input_db_down' }));
    const errors: string[] = [];
    const r = await receiveStripeWebhook({ rawBody: body, signature: sign(body) }, deps({ prisma: () => Promise.reject(new Error('ECONNREFUSED')), onError: (stage) => void errors.push(stage) }));
    expect(r).toEqual({ status: 503, body: { error: 'temporarily unavailable' } });
    expect(errors).toEqual(['database']);
    expect(enqueued).toEqual([]);
  });

  it('through the group-commit inbox: stored and answered 200, a redelivery answered as a duplicate, a failed insert 503', async () => {
    const batches: string[][] = [];
    const inbox = new StripeEventInbox({ prisma: () => wh.prisma, enqueue: async (ids) => void batches.push(ids) });
    const body = JSON.stringify(base({ id: 'evt_input_inbox' }));
    expect(await receiveStripeWebhook({ rawBody: body, signature: sign(body) }, deps({ inbox }))).toEqual({ status: 200, body: { received: true } });
    expect(await receiveStripeWebhook({ rawBody: body, signature: sign(body) }, deps({ inbox }))).toEqual({ status: 200, body: { received: true, duplicate: true } });
    await inbox.idle();
    expect(batches).toEqual([['evt_input_inbox']]);
    expect(await wh.prisma.stripeEvent.findUniqueOrThrow({ where: { id: 'evt_input_inbox' } })).toMatchObject({ type: 'payment_intent.succeeded', objectId: 'pi_input', status: 'received' });
    // The direct path's enqueue is not used when an inbox is given.
    expect(enqueued).toEqual([]);

    const broken = new StripeEventInbox({ prisma: () => Promise.reject(new Error('ECONNREFUSED')), enqueue: async () => {} });
    const errors: string[] = [];
    const down = JSON.stringify(base({ id: 'evt_input_inbox_down' }));
    expect(await receiveStripeWebhook({ rawBody: down, signature: sign(down) }, deps({ inbox: broken, onError: (stage) => void errors.push(stage) }))).toEqual({
      status: 503,
      body: { error: 'temporarily unavailable' },
    });
    expect(errors).toEqual(['database']);
    expect(await wh.stored('evt_input_inbox_down')).toBe(0);
  });
});
