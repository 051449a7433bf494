// Hostile input at the shop's server actions (through their lib functions) and the Stripe
// webhook (its lib function and the real route handler): never a throw or a 500, never a
// stored change, always a clear answer.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { seedCatalog } from '@/lib/db/seed';
import { addToCart, removeFromCart, setCartQuantity, getCart } from '@/lib/cart/cart';
import { startPayment } from '@/lib/checkout/start-payment';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { createStripeClient } from '@/lib/stripe/client';
import { StripeGateway } from '@/lib/stripe/gateway';
import { receiveStripeWebhook } from '@/lib/orders/webhook';
import { FUZZ_RUNS, assertNoPollution, nastyInput, nastyString, nastyValue } from './arbitraries';

const held = vi.hoisted(() => ({ prisma: null as unknown as PrismaClient, enqueued: [] as string[] }));
vi.mock('@/lib/db/client', async (importOriginal) => ({ ...(await importOriginal<object>()), db: async () => ({ prisma: held.prisma }), prisma: async () => held.prisma }));
vi.mock('@/lib/jobs', () => ({
  enqueueStripeEvent: async (id: string) => void held.enqueued.push(id),
  enqueueStripeEvents: async (ids: string[]) => void held.enqueued.push(...ids),
}));

const SECRET = 'whsec_fuzz_current';
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let cartId: string;
let subtotal: number;
const stripe = createStripeClient({ secretKey: 'sk_test_fuzz' });
const gateway = new StripeGateway(stripe);

// A gateway that must never be reached by invalid input.
const unreachableGateway = new Proxy({} as StripeGateway, {
  get: (_t, prop) => (prop === 'unavailable' ? () => null : () => Promise.reject(new Error(`gateway.${String(prop)} reached with hostile input`))),
});

beforeAll(async () => {
  database = await createTestDatabase();
  held.prisma = database.prisma;
  await seedCatalog(database.prisma);
  const product = await database.prisma.product.findFirstOrThrow();
  const r = await addToCart(database.prisma, null, { productId: product.id, quantity: 2 });
  if (!r.ok) throw new Error(r.error);
  cartId = r.cartId;
  subtotal = (await getCart(database.prisma, cartId)).subtotal;
});
afterAll(() => database?.drop());

async function snapshot() {
  const p = database.prisma;
  const [carts, items, quantities, orders, attempts, events, throttles] = await Promise.all([
    p.cart.count(),
    p.cartItem.count(),
    p.cartItem.aggregate({ _sum: { quantity: true } }),
    p.order.count(),
    p.paymentAttempt.count(),
    p.stripeEvent.count(),
    p.throttleCounter.count(),
  ]);
  return { carts, items, quantity: quantities._sum.quantity, orders, attempts, events, throttles };
}

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)) ?? 'null';

function clearError(error: unknown): void {
  expect(typeof error).toBe('string');
  expect((error as string).length).toBeGreaterThan(0);
  expect((error as string).length).toBeLessThan(200);
  expect(error).not.toMatch(/prisma|invalid input syntax|at \w+ \(|TypeError|undefined|\[object/i);
}

describe(`hostile input: shop (${testDbKind})`, () => {
  it('cart add / set quantity / remove: a clear error or no change, never a throw or a stored change', async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('add', 'set', 'remove'), fc.constantFrom<'none' | 'mine'>('none', 'mine'), nastyInput(['productId', 'quantity']), async (op, which, input) => {
        const id = which === 'mine' ? cartId : null;
        const r = op === 'add' ? await addToCart(database.prisma, id, input) : op === 'set' ? await setCartQuantity(database.prisma, id, input) : await removeFromCart(database.prisma, id, input);
        if (!r.ok) clearError(r.error);
        assertNoPollution();
      }),
      { numRuns: FUZZ_RUNS * 2 },
    );
    expect(await snapshot()).toEqual(before);
  });

  it('startPayment: "check the fields" (or "the total changed"), never an order, an attempt or a call to Stripe', async () => {
    const before = await snapshot();
    const fields = ['email', 'name', 'addressLine1', 'addressLine2', 'city', 'postalCode', 'country', 'expectedAmount', 'confirmationToken'];
    await fc.assert(
      fc.asyncProperty(nastyInput(fields), fc.oneof(fc.constant(cartId), fc.constant(null), nastyString), async (input, cart) => {
        const r = await startPayment({ prisma: database.prisma, gateway: unreachableGateway, clientIp: '203.0.113.9' }, cart, input);
        if (r.kind !== 'invalid' && r.kind !== 'amount_changed' && r.kind !== 'cart_empty') throw new Error(`unexpected ${r.kind}`);
        clearError(r.message);
        if (r.kind === 'invalid') for (const m of Object.values(r.fieldErrors)) clearError(m);
        assertNoPollution();
      }),
      { numRuns: FUZZ_RUNS * 2 },
    );
    // A plausible shopper with one hostile field is refused the same way.
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fields), nastyValue, async (field, value) => {
        const good = { confirmationToken: 'ctoken_1FuzzFuzzFuzzFuzzFuzz', email: 'ada@example.com', name: 'Ada', addressLine1: '1 Main St', city: 'Town', postalCode: '12345', country: 'US', expectedAmount: subtotal + 1 };
        const r = await startPayment({ prisma: database.prisma, gateway: unreachableGateway }, cartId, { ...good, [field]: value });
        if (r.kind !== 'invalid' && r.kind !== 'amount_changed') throw new Error(`unexpected ${r.kind}`);
        clearError(r.message);
      }),
      { numRuns: FUZZ_RUNS },
    );
    // With the right amount, a control character in any text field is still refused before any write.
    for (const field of ['name', 'addressLine1', 'addressLine2', 'city', 'email', 'postalCode']) {
      const good = { confirmationToken: 'ctoken_1FuzzFuzzFuzzFuzzFuzz', email: 'ada@example.com', name: 'Ada', addressLine1: '1 Main St', city: 'Town', postalCode: '12345', country: 'US', expectedAmount: subtotal };
      const r = await startPayment({ prisma: database.prisma, gateway: unreachableGateway }, cartId, { ...good, [field]: 'a\u0000b' });
      expect(r).toMatchObject({ kind: 'invalid', fieldErrors: { [field]: expect.any(String) } });
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe(`hostile input: Stripe webhook (${testDbKind})`, () => {
  const deps = () => ({ prisma: () => database.prisma, gateway, secrets: [SECRET], enqueue: async () => undefined });
  const sign = (payload: string) => stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET });
  const hostileSignature = fc.oneof(
    nastyString,
    fc.constant(null),
    fc.tuple(fc.integer(), fc.stringMatching(/^[0-9a-f]{64}$/)).map(([t, v]) => `t=${t},v1=${v}`),
    fc.constantFrom('t=,v1=', 't=1,v1=', 'v1=abc', 't=99999999999999999999,v1=00', `t=${Math.floor(Date.now() / 1000)},v0=abc`),
  );

  it('receiveStripeWebhook: 400 or 413 for anything unsigned, never a throw or a stored event', async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(fc.oneof(nastyString, nastyValue.map(json)), hostileSignature, fc.option(nastyString), async (rawBody, signature, contentLength) => {
        const r = await receiveStripeWebhook({ rawBody, signature, contentLength }, deps());
        expect([400, 413]).toContain(r.status);
        expect(typeof r.body.error).toBe('string');
      }),
      { numRuns: FUZZ_RUNS * 2 },
    );
    expect(await snapshot()).toEqual(before);
  });

  it('receiveStripeWebhook: a correctly signed body that is not a Stripe event is refused with 400, not retried forever', async () => {
    const before = await snapshot();
    const notAnEvent = fc.oneof(
      nastyValue.map(json),
      fc.record({ id: nastyValue, type: nastyValue, created: nastyValue, data: nastyValue }).map(json),
      fc.constantFrom('{"id":"evt_1","type":"x","created":1e400,"data":{"object":{}}}', '{"id":"evt_1","type":"x","created":-1e20,"data":{"object":{}}}', '{"id":"evt_\\u0000","type":"x","created":1,"data":{"object":{}}}', '[]', 'null', '"evt"'),
    );
    await fc.assert(
      fc.asyncProperty(notAnEvent, async (rawBody) => {
        const r = await receiveStripeWebhook({ rawBody, signature: sign(rawBody) }, deps());
        expect(r.status).toBe(400);
      }),
      { numRuns: FUZZ_RUNS },
    );
    expect(await snapshot()).toEqual(before);
  });

  it('the real route handler: never a 5xx or a throw for hostile requests, 413 for oversize bodies, nothing stored', async () => {
    vi.stubEnv('STRIPE_WEBHOOK_SECRET', SECRET);
    vi.stubEnv('STRIPE_SECRET_KEY', 'sk_test_fuzz');
    vi.stubEnv('NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY', 'pk_test_fuzz');
    vi.stubEnv('STRIPE_API_BASE', 'http://127.0.0.1:9');
    vi.stubEnv('DATABASE_URL', '');
    const { POST } = await import('@/app/api/stripe/webhook/route');
    const before = await snapshot();
    const post = (body: BodyInit | null, headers: Record<string, string>) => POST(new Request('http://localhost/api/stripe/webhook', { method: 'POST', body, headers, duplex: 'half' } as RequestInit));
    await fc.assert(
      fc.asyncProperty(nastyString, fc.dictionary(fc.constantFrom('stripe-signature', 'content-type', 'content-length', 'x-forwarded-for'), nastyString.filter((s) => /^[\t\x20-\x7e]*$/.test(s)), { maxKeys: 3 }), async (body, headers) => {
        let res: Response;
        try {
          res = await post(body, headers);
        } catch (err) {
          // Only the Request constructor may refuse (a forbidden header value): that never reaches us.
          if (err instanceof TypeError && /header|content-length/i.test(String(err))) return;
          throw err;
        }
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(typeof ((await res.json()) as { error?: unknown }).error).toBe('string');
      }),
      { numRuns: FUZZ_RUNS },
    );
    // 2 MB, declared and undeclared (streamed).
    const big = 'x'.repeat(2 * 1024 * 1024);
    expect((await post(big, { 'stripe-signature': 't=1,v1=00', 'content-length': String(big.length) })).status).toBe(413);
    expect((await post(new Blob([big]).stream(), { 'stripe-signature': 't=1,v1=00' })).status).toBe(413);
    expect(await snapshot()).toEqual(before);
    // …and a signed event still gets through the same handler.
    const event = JSON.stringify({ id: 'evt_fuzz_ok', object: 'event', type: 'customer.created', created: Math.floor(Date.now() / 1000), data: { object: { id: 'cus_1' } } });
    expect((await post(event, { 'stripe-signature': sign(event) })).status).toBe(200);
    // Enqueued just after the answer (the inbox gathers ids for a few milliseconds first).
    await vi.waitFor(() => expect(held.enqueued).toEqual(['evt_fuzz_ok']), { timeout: 2000 });
    vi.unstubAllEnvs();
  });
});
