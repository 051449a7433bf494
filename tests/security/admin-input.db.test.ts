// The admin under attack: hostile input at its server actions, its CSV route and its filter
// parsers (never a throw other than Next's redirect, never a stored change), cross-site
// requests refused, sessions that rotate and can be revoked, and an audit trail of sign-ins,
// failed sign-ins and money-moving actions. The actions run against real rows (a paid order
// whose PaymentIntent exists at the bundled Stripe emulator, an unpaid order, products, a
// second admin session, a dead event) so "nothing changed" is checked where a change could
// actually happen, and amounts the parser accepts are checked against what the order allows.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmulator } from '@/emulator/src/server';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { createOrderFixture } from '@/tests/helpers/payments';
import { createSession, hashPassword, revokeSession, sessionIdFor, signIn, validateSession } from '@/lib/admin/auth';
import { parseMajorAmount, parseOrderFilters } from '@/lib/admin/orders-query';
import { isSameOriginRequest } from '@/lib/admin/session';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { applyPaymentIntent } from '@/tests/helpers/stripe-apply';
import { createStripeClient, type Stripe } from '@/lib/stripe/client';
import { StripeGateway } from '@/lib/stripe/gateway';
import { FUZZ_RUNS, assertNoPollution, nastyKey, nastyString, nastyValue } from './arbitraries';

const held = vi.hoisted(() => ({
  prisma: null as unknown as PrismaClient,
  admin: null as null | { sessionId: string; userId: string; email: string; expiresAt: Date; ip: string | null },
  gateway: null as unknown as object,
  /** Event ids that reached replayStripeEvent, and the one that is replayable (dead). */
  replays: [] as string[],
  replayable: new Set<string>(),
}));
// The process's services (lib/services.ts): this test's database, and the actions' gateway: the
// real one, against the emulator, behind a recorder.
vi.mock('@/lib/services', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  db: async () => ({ prisma: held.prisma }),
  prisma: async () => held.prisma,
  stripeGateway: () => held.gateway,
}));
vi.mock('next/cache', () => ({ revalidatePath: () => undefined, revalidateTag: () => undefined, unstable_cache: <T>(fn: T) => fn }));
vi.mock('@/lib/admin/session', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  currentAdmin: async () => held.admin,
  requireAdmin: async () => {
    if (!held.admin) throw new Error('not signed in');
    return held.admin;
  },
  readAdminToken: async () => null,
  writeAdminCookie: async () => undefined,
  clearAdminCookie: async () => undefined,
  requestMeta: async () => ({ ip: '203.0.113.50', userAgent: 'fuzz' }),
  ensureAdminFromEnv: async () => 'exists' as const,
}));
// pg-boss is not running here: replay is recorded; only the seeded dead event is replayable.
vi.mock('@/lib/jobs', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  replayStripeEvent: async (id: string) => {
    held.replays.push(id);
    return held.replayable.delete(id);
  },
}));

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let emulator: Awaited<ReturnType<typeof startEmulator>>;
let stripe: Stripe;
/** Every gateway call the actions made, by method. */
const gatewayCalls: { method: string; args: unknown[] }[] = [];
const MUTATING = /^(create|cancel|confirm|update|capture)/;
const stripeWrites = () => gatewayCalls.filter((c) => MUTATING.test(c.method));

let paidOrderId: string;
let unpaidOrderId: string;
let productId: string;
let otherSessionId: string;
const DEAD_EVENT = 'evt_dead_admin_fuzz';

function recordingGateway(g: StripeGateway): StripeGateway {
  return new Proxy(g, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || prop === 'unavailable') return v;
      return (...args: unknown[]) => {
        gatewayCalls.push({ method: String(prop), args });
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** An order whose attempt is a real, succeeded PaymentIntent at the emulator, applied as the webhook would. */
async function paidOrder(opts: { quantity?: number; price?: number } = {}) {
  const prisma = database.prisma;
  const f = await createOrderFixture(prisma, { lines: [{ stock: 10, quantity: opts.quantity ?? 2, price: opts.price ?? 1500 }] });
  const pi = await stripe.paymentIntents.create({ amount: f.total, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, metadata: { order_id: f.orderId, attempt: '1' } });
  await prisma.paymentAttempt.update({ where: { paymentIntentId: f.paymentIntentIds[0] }, data: { paymentIntentId: pi.id } });
  await prisma.order.update({ where: { id: f.orderId }, data: { paymentIntentId: pi.id } });
  await applyPaymentIntent(prisma, await stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] }), { source: 'webhook' });
  const order = await prisma.order.findUniqueOrThrow({ where: { id: f.orderId } });
  if (order.status !== 'paid' || order.amountPaid !== f.total) throw new Error(`fixture order not paid: ${order.status}`);
  return { ...f, pi };
}

beforeAll(async () => {
  [database, emulator] = await Promise.all([createTestDatabase(), startEmulator({ port: 0 })]);
  held.prisma = database.prisma;
  stripe = createStripeClient({ secretKey: emulator.secretKey, apiBase: emulator.url });
  held.gateway = recordingGateway(new StripeGateway(stripe, { baseDelayMs: 10, maxDelayMs: 50 }));
  const user = await database.prisma.adminUser.create({ data: { email: 'admin@brisk.test', passwordHash: await hashPassword('correct-horse-battery') } });
  held.admin = { sessionId: 'a'.repeat(64), userId: user.id, email: user.email, expiresAt: new Date(Date.now() + 3_600_000), ip: '203.0.113.50' };
  const paid = await paidOrder();
  paidOrderId = paid.orderId;
  const unpaid = await createOrderFixture(database.prisma, { lines: [{ stock: 5, quantity: 1 }] });
  unpaidOrderId = unpaid.orderId;
  productId = paid.productIds[0];
  otherSessionId = sessionIdFor((await createSession(database.prisma, user.id)).token);
  held.replayable.add(DEAD_EVENT);
  await database.prisma.stripeEvent.create({ data: { id: DEAD_EVENT, type: 'payment_intent.succeeded', apiCreated: new Date(), payload: {}, status: 'dead', attempts: 8 } });
  gatewayCalls.splice(0);
}, 60_000);
afterAll(async () => {
  await emulator?.close();
  await database?.drop();
});

/** Every row an admin action could change, field by field (not just counts). */
async function snapshot() {
  const p = database.prisma;
  const [orders, refunds, ledger, audit, sessions, emails, events, products, orderEvents, fulfillments] = await Promise.all([
    p.order.findMany({ orderBy: { id: 'asc' }, select: { id: true, status: true, amountPaid: true, amountRefunded: true, reviewStatus: true, canceledAt: true, paymentIntentId: true, email: true, total: true } }),
    p.refund.findMany({ orderBy: { id: 'asc' }, select: { orderId: true, refundNumber: true, amount: true, currency: true, status: true, stripeRefundId: true } }),
    p.ledgerEntry.findMany({ orderBy: { id: 'asc' }, select: { orderId: true, txKey: true, account: true, amount: true } }),
    // A replay request for an event id that merely looks valid is audited as tried (queued: false): not a change.
    p.auditLog.count({ where: { action: { not: 'stripe_event.replayed' } } }),
    p.adminSession.findMany({ orderBy: { id: 'asc' }, select: { id: true, revokedAt: true, expiresAt: true } }),
    p.email.count(),
    p.stripeEvent.findMany({ orderBy: { id: 'asc' }, select: { id: true, status: true } }),
    p.product.findMany({ orderBy: { id: 'asc' }, select: { id: true, stock: true, price: true, active: true } }),
    p.orderEvent.count(),
    p.fulfillment.count(),
  ]);
  return { orders, refunds, ledger, audit, sessions, emails, events, products, orderEvents, fulfillments };
}

/** Refunds of one PaymentIntent as Stripe (the emulator) holds them. */
const stripeRefunds = async (pi: string) => (await stripe.refunds.list({ payment_intent: pi, limit: 100 })).data;

function asText(v: unknown): string {
  try {
    return String(v);
  } catch {
    return Object.keys(v as object).join(',');
  }
}

/** Real ids of every kind, near-misses of them, and hostile text: what a script would try in an id field. */
function idLike(): fc.Arbitrary<string> {
  const real = () => [paidOrderId, unpaidOrderId, productId, otherSessionId, held.admin!.sessionId, DEAD_EVENT];
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(0, 1, 2, 3, 4, 5).map((i) => real()[i]) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(0, 1, 2, 3, 5).map((i) => real()[i]), fc.constantFrom((s: string) => s.toUpperCase(), (s: string) => ` ${s} `, (s: string) => `${s}'--`, (s: string) => `${s}\u0000`, (s: string) => s.slice(0, -1), (s: string) => `${s},${s}`))
        .map(([id, mangle]) => mangle(id)),
    },
    { weight: 3, arbitrary: fc.oneof(nastyString, nastyValue.map(asText)) },
  );
}

/** A form as a script would post it: known fields and extra ones, every value hostile, as text. */
function nastyForm(fields: string[], idFields: string[] = []): fc.Arbitrary<FormData> {
  const text: fc.Arbitrary<string> = fc.oneof(nastyString, nastyValue.map(asText));
  return fc
    .tuple(
      fc.record(Object.fromEntries(fields.map((f) => [f, idFields.includes(f) ? idLike() : text])) as Record<string, fc.Arbitrary<string>>, { requiredKeys: [] }),
      fc.dictionary(fc.oneof(nastyKey, fc.constantFrom('status', 'amountPaid', 'currency', 'reviewStatus')), text, { maxKeys: 3 }),
    )
    .map(([known, extra]) => {
      const form = new FormData();
      for (const [k, v] of Object.entries({ ...extra, ...known })) if (typeof v === 'string') form.append(k, v);
      return form;
    });
}

function isRedirect(err: unknown): boolean {
  return typeof (err as { digest?: unknown })?.digest === 'string' && (err as { digest: string }).digest.startsWith('NEXT_REDIRECT');
}

/** Runs an action, which must end in Next's redirect; returns where it sent the admin. */
async function redirectOf(action: (f: FormData) => Promise<void>, form: FormData): Promise<URL> {
  try {
    await action(form);
  } catch (err) {
    if (!isRedirect(err)) throw new Error(`action threw ${String(err)}`);
    return new URL((err as { digest: string }).digest.split(';').slice(2, -2).join(';'), 'http://admin.local');
  }
  throw new Error('action returned without a redirect');
}

const form = (fields: Record<string, string>) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  return f;
};

describe(`hostile input: admin (${testDbKind})`, () => {
  it('order filters and amounts: never a throw, always a usable filter', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(nastyKey, fc.constantFrom('status', 'from', 'to', 'min', 'max', 'q', 'sort', 'cursor')), fc.oneof(nastyString, fc.array(nastyString, { maxLength: 3 })), { maxKeys: 8 }), (params) => {
        const r = parseOrderFilters(params);
        expect(r.filters).toBeTypeOf('object');
        if (!r.ok) for (const m of Object.values(r.errors)) expect(m).toMatch(/^[A-Z]/);
        assertNoPollution();
      }),
      { numRuns: FUZZ_RUNS * 3 },
    );
    fc.assert(
      fc.property(nastyString, (s) => {
        const n = parseMajorAmount(s);
        expect(n === null || (Number.isSafeInteger(n) && n >= 0)).toBe(true);
      }),
      { numRuns: FUZZ_RUNS * 3 },
    );
  });

  it('parseMajorAmount reads money as an admin types it, and nothing else', () => {
    const table: [string, number | null][] = [
      ['12.50', 1250], ['12,5', 1250], [' 5 ', 500], ['5', 500], ['0', 0], ['0.00', 0], ['0.01', 1], ['999999999.99', 99_999_999_999],
      ['1e3', null], ['0x10', null], ['5.001', null], ['-5', null], ['+5', null], ['5.', null], ['.5', null], ['$5', null], ['5 USD', null],
      ['€5', null], ['5 EUR', null], ['1 000', null], ['1,000.00', null], ['Infinity', null], ['NaN', null], ['', null], ['٥', null], ['５', null], ['1234567890', null],
    ];
    expect(table.map(([s]) => [s, parseMajorAmount(s)])).toEqual(table);
  });

  it('server actions with hostile forms (real ids among them): only a redirect, never a stored change or a write at Stripe', async () => {
    const actions = await import('@/app/admin/(panel)/actions');
    // Each form is refused by shape, or names a real row on which the action is refused:
    // a paid order cannot be canceled or approved, an unpaid one has no receipt, and so on.
    // The unpaid order is never offered to cancel (canceling it is a legitimate change).
    const cases: [string, (f: FormData) => Promise<void>, string[], string[]][] = [
      ['refund', actions.refundAction, ['orderId', 'amount', 'refundNumber'], ['orderId']],
      ['cancel', actions.cancelOrderAction, ['orderId'], []],
      ['resend', actions.resendReceiptAction, ['orderId'], []],
      ['review', actions.reviewAction, ['orderId', 'decision', 'refundNumber'], ['orderId']],
      ['replay', actions.replayEventAction, ['eventId'], ['eventId']],
      ['revoke', actions.revokeSessionAction, ['sessionId'], []],
    ];
    const before = await snapshot();
    let reachedRealRows = 0;
    for (const [name, action, fields, idFields] of cases) {
      await fc.assert(
        fc.asyncProperty(nastyForm(fields, idFields), async (f) => {
          // A refund with a real order id needs an amount the parser refuses for "nothing changed" to be the right answer (amounts it accepts: below).
          if (name === 'refund' && typeof f.get('amount') === 'string' && parseMajorAmount(f.get('amount') as string) !== null) f.set('amount', 'twelve');
          // Replaying the dead event once is a change (it is queued again): the event is replayable once, audited below.
          const to = await redirectOf(action, f);
          if (to.pathname.startsWith('/admin/orders/')) reachedRealRows++;
          assertNoPollution();
        }),
        // Always one form of the right shape naming a real order (the refund's amount then refused),
        // so the count below never depends on the draw: random forms reach a real row only by chance.
        { numRuns: Math.ceil(FUZZ_RUNS / 2), examples: name === 'refund' ? [[form({ orderId: paidOrderId, amount: 'twelve', refundNumber: '1' })]] : [] },
      );
    }
    // Deliberately: each real row, with the form right but the row wrong for the action.
    const refused: [string, (f: FormData) => Promise<void>, Record<string, string>][] = [
      ['cancel a paid order', actions.cancelOrderAction, { orderId: paidOrderId, status: 'canceled' }],
      ['cancel a product id', actions.cancelOrderAction, { orderId: productId }],
      ['resend an unpaid order', actions.resendReceiptAction, { orderId: unpaidOrderId }],
      ['resend a product id', actions.resendReceiptAction, { orderId: productId }],
      ['approve an order not in review', actions.reviewAction, { orderId: paidOrderId, decision: 'approve' }],
      ['reject an order not in review', actions.reviewAction, { orderId: paidOrderId, decision: 'reject', refundNumber: '1' }],
      ['revoke an upper-cased session id', actions.revokeSessionAction, { sessionId: otherSessionId.toUpperCase() }],
      ['revoke a session id with a suffix', actions.revokeSessionAction, { sessionId: `${otherSessionId}0` }],
    ];
    for (const [what, action, fields] of refused) {
      const to = await redirectOf(action, form(fields));
      // A session id of the wrong shape is refused before any lookup (no notice); an order action says why.
      if (action === actions.revokeSessionAction) expect([to.pathname, to.searchParams.get('notice')], what).toEqual(['/admin/ops', null]);
      else expect(to.searchParams.get('tone'), what).toBe('error');
    }
    expect(reachedRealRows).toBeGreaterThan(0);
    expect(await snapshot()).toEqual(before);
    expect(stripeWrites()).toEqual([]);
    // The other admin's session is still valid, not just present.
    expect((await database.prisma.adminSession.findUniqueOrThrow({ where: { id: otherSessionId } })).revokedAt).toBeNull();
    // Replay: the dead event is queued again once, then it is not dead any more; only
    // well-formed event ids ever reached replay, each audited with what it answered.
    for (let i = 0; i < 2; i++) await redirectOf(actions.replayEventAction, form({ eventId: DEAD_EVENT }));
    const reached = [...held.replays];
    expect(reached.length).toBeGreaterThan(0);
    for (const id of reached) expect(id).toMatch(/^evt_[A-Za-z0-9_]+$/);
    const replays = await database.prisma.auditLog.findMany({ where: { action: 'stripe_event.replayed' }, orderBy: { createdAt: 'asc' } });
    expect(replays.map((r) => r.target)).toEqual(reached);
    expect(replays.map((r) => (r.detail as { queued?: boolean }).queued)).toEqual(reached.map((id, i) => id === DEAD_EVENT && reached.indexOf(DEAD_EVENT) === i));
  }, 120_000);

  it('refund amounts the parser accepts are checked against the order: zero, over the remainder, unpaid or unknown orders are refused; valid ones refund exactly once', async () => {
    const { refundAction } = await import('@/app/admin/(panel)/actions');
    // Amounts relative to what is left (the boundary is where a bug lives), written the ways an
    // admin might type them, or text: the parser's own edge cases and hostile strings.
    type Amount = { rel: 'zero' | 'cent' | 'half' | 'restLess' | 'rest' | 'restMore' | 'restPlus5' | 'double'; style: 'dot' | 'comma' | 'spaced' | 'oneDecimal' } | { text: string };
    const amountSpec: fc.Arbitrary<Amount> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ rel: fc.constantFrom('zero', 'cent', 'half', 'restLess', 'rest', 'restMore', 'restPlus5', 'double'), style: fc.constantFrom('dot', 'comma', 'spaced', 'oneDecimal') }) as fc.Arbitrary<Amount> },
      { weight: 1, arbitrary: fc.constantFrom('1e3', '0x10', ' 5 ', '5.001', '5,00', '0', '0.00', '0,0', '-1', '$5', '5 USD', '€5', '30.01', '999999999').map((text) => ({ text })) },
      { weight: 1, arbitrary: nastyString.map((text) => ({ text })) },
    );
    const write = (a: Amount, remainder: number): string => {
      if ('text' in a) return a.text;
      const cents = { zero: 0, cent: 1, half: Math.floor(remainder / 2), restLess: remainder - 1, rest: remainder, restMore: remainder + 1, restPlus5: remainder + 500, double: remainder * 2 }[a.rel];
      if (cents < 0) return '-0.01';
      const major = `${Math.floor(cents / 100)}`;
      const minor = String(cents % 100).padStart(2, '0');
      if (a.style === 'oneDecimal' && minor.endsWith('0')) return `${major}.${minor[0]}`;
      return a.style === 'comma' ? `${major},${minor}` : a.style === 'spaced' ? `  ${major}.${minor} ` : `${major}.${minor}`;
    };
    const target = fc.constantFrom<'paid' | 'unpaid' | 'product'>('paid', 'paid', 'paid', 'paid', 'unpaid', 'product');
    const numberChoice = fc.constantFrom<'next' | 'previous' | 'skip' | 'zero' | 'text'>('next', 'next', 'next', 'previous', 'skip', 'zero', 'text');
    const extraCurrency = fc.option(fc.constantFrom('eur', 'jpy', 'USD', 'xxx'), { nil: undefined });
    let refundsMade = 0;
    let refusalsOfParsedAmounts = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(amountSpec, target, numberChoice, extraCurrency), { minLength: 1, maxLength: 6 }), async (steps) => {
        const o = await paidOrder();
        const unpaid = await createOrderFixture(database.prisma, { lines: [{ stock: 3, quantity: 1 }] });
        // The model: what has been refunded, by number.
        const model: { refundNumber: number; amount: number }[] = [];
        for (const [spec, which, num, currency] of steps) {
          const amount = write(spec, o.total - model.reduce((s, r) => s + r.amount, 0));
          const orderId = which === 'paid' ? o.orderId : which === 'unpaid' ? unpaid.orderId : o.productIds[0];
          const next = model.length + 1;
          const refundNumber = { next: String(next), previous: String(next - 1), skip: String(next + 1), zero: '0', text: 'one' }[num];
          const fields: Record<string, string> = { orderId, amount, refundNumber };
          if (currency) fields.currency = currency;
          const beforeStep = await snapshot();
          const writesBefore = stripeWrites().length;
          const to = await redirectOf(refundAction, form(fields));
          const parsed = parseMajorAmount(amount);
          const remainder = o.total - model.reduce((s, r) => s + r.amount, 0);
          const formValid = amount.length <= 20 && Number(refundNumber) >= 1;
          const previous = model.find((r) => String(r.refundNumber) === refundNumber);
          const replay = which === 'paid' && previous !== undefined && previous.amount === parsed;
          const expectRefund = formValid && which === 'paid' && num === 'next' && parsed !== null && parsed > 0 && parsed <= remainder;
          if (expectRefund) {
            expect(to.searchParams.get('tone'), `${amount} of ${remainder}`).toBe('ok');
            model.push({ refundNumber: next, amount: parsed });
            refundsMade++;
            const writes = stripeWrites().slice(writesBefore);
            expect(writes.map((w) => [w.method, (w.args[0] as { amount: number }).amount])).toEqual([['createRefund', parsed]]);
          } else {
            if (formValid && parsed !== null) refusalsOfParsedAmounts++;
            if (formValid) expect(to.searchParams.get('tone'), `${amount} #${refundNumber} on ${which}`).toBe(replay ? 'ok' : 'error');
            expect(await snapshot(), `${amount} #${refundNumber} on ${which}`).toEqual(beforeStep);
            // A confirmation submitted again reaches Stripe with the same key and creates nothing new there.
            if (!replay) expect(stripeWrites().slice(writesBefore)).toEqual([]);
          }
        }
        // Our books and Stripe agree with the model, refund by refund.
        const rows = await database.prisma.refund.findMany({ where: { orderId: o.orderId }, orderBy: { refundNumber: 'asc' } });
        expect(rows.map((r) => [r.refundNumber, r.amount, r.currency, r.status])).toEqual(model.map((m) => [m.refundNumber, m.amount, 'usd', 'succeeded']));
        const atStripe = await stripeRefunds(o.pi.id);
        expect(atStripe.map((r) => [r.amount, r.currency]).sort()).toEqual(model.map((m) => [m.amount, 'usd']).sort());
        const refunded = model.reduce((s, r) => s + r.amount, 0);
        const order = await database.prisma.order.findUniqueOrThrow({ where: { id: o.orderId } });
        expect(order).toMatchObject({ amountPaid: o.total, amountRefunded: refunded, status: refunded === 0 ? 'paid' : refunded === o.total ? 'refunded' : 'partially_refunded' });
        const ledger = await database.prisma.ledgerEntry.aggregate({ where: { orderId: o.orderId, account: 'refunds' }, _sum: { amount: true } });
        expect(ledger._sum.amount ?? 0).toBe(refunded);
        expect(await database.prisma.refund.count({ where: { orderId: unpaid.orderId } })).toBe(0);
        expect((await database.prisma.order.findUniqueOrThrow({ where: { id: unpaid.orderId } })).status).toBe('pending');
      }),
      // Always one run with a valid refund and a parsed amount over the rest, so both counts below
      // hold whatever the draw (each side of the line is otherwise reached by chance).
      {
        numRuns: Math.max(8, Math.ceil(FUZZ_RUNS / 4)),
        examples: [[[[{ rel: 'half', style: 'dot' }, 'paid', 'next', undefined], [{ rel: 'restMore', style: 'dot' }, 'paid', 'next', undefined]]]],
      },
    );
    // The fuzz exercised both sides of the line.
    expect(refundsMade).toBeGreaterThan(0);
    expect(refusalsOfParsedAmounts).toBeGreaterThan(0);
  }, 180_000);

  it('two refunds racing on one order never give back more than was paid', async () => {
    const { refundAction } = await import('@/app/admin/(panel)/actions');
    for (const [a, b] of [
      [{ n: '1', amount: '18.00' }, { n: '2', amount: '18.00' }],
      [{ n: '1', amount: '18.00' }, { n: '1', amount: '15.00' }],
      [{ n: '1', amount: '30.00' }, { n: '1', amount: '30.00' }],
    ]) {
      const o = await paidOrder();
      const outcomes = await Promise.all([a, b].map((x) => redirectOf(refundAction, form({ orderId: o.orderId, amount: x.amount, refundNumber: x.n }))));
      const oks = outcomes.filter((u) => u.searchParams.get('tone') === 'ok').length;
      expect(oks, `${JSON.stringify([a, b])}`).toBeGreaterThan(0);
      const atStripe = await stripeRefunds(o.pi.id);
      const total = atStripe.reduce((s, r) => s + r.amount, 0);
      // One refund at Stripe: the same number is one refund (one key), a second number was stale or over the remainder.
      expect(atStripe, `${JSON.stringify([a, b])}`).toHaveLength(1);
      expect(total).toBeLessThanOrEqual(o.total);
      const order = await database.prisma.order.findUniqueOrThrow({ where: { id: o.orderId } });
      expect(order.amountRefunded).toBe(total);
      const rows = await database.prisma.refund.findMany({ where: { orderId: o.orderId } });
      expect(rows.map((r) => r.amount)).toEqual([total]);
    }
  }, 60_000);

  it('sign-in: hostile credentials never throw and never make a session; each is audited as a failure', async () => {
    const { signInAction } = await import('@/app/admin/(auth)/login/actions');
    const before = await snapshot();
    const auditBefore = new Set((await database.prisma.auditLog.findMany({ select: { id: true } })).map((a) => a.id));
    let attempts = 0;
    await fc.assert(
      fc.asyncProperty(nastyForm(['email', 'password']), async (f) => {
        // Every attempt must end in a redirect back to the login page with an error (not just "if it threw").
        const to = await redirectOf(signInAction, f);
        expect(`${to.pathname}${to.search}`).toMatch(/^\/admin\/login\?error=(invalid|locked)/);
        attempts++;
      }),
      // Each failure runs argon2 (19 MiB, 2 passes): fewer runs keep the suite quick. One
      // well-formed wrong password always runs, so an audited failure is always among them.
      { numRuns: Math.ceil(FUZZ_RUNS / 3), examples: [[form({ email: 'attacker@example.com', password: 'not-the-password-1' })]] },
    );
    const after = await snapshot();
    expect(attempts).toBeGreaterThan(0);
    expect(after.sessions).toEqual(before.sessions);
    expect(after.audit - before.audit).toBeLessThanOrEqual(attempts);
    const added = (await database.prisma.auditLog.findMany()).filter((a) => !auditBefore.has(a.id));
    expect(added.length).toBeGreaterThan(0);
    expect(added.filter((a) => !['admin.sign_in_failed', 'admin.sign_in_locked'].includes(a.action))).toEqual([]);
  }, 90_000);

  it('the CSV export route: hostile queries give a CSV or a refusal, never a 5xx; cross-site requests are refused', async () => {
    const { GET } = await import('@/app/admin/(panel)/orders/export/route');
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.oneof(nastyKey, fc.constantFrom('status', 'from', 'to', 'min', 'max', 'q', 'sort')), nastyString, { maxKeys: 6 }), async (params) => {
        const url = new URL('http://localhost/admin/orders/export');
        for (const [k, v] of Object.entries(params)) url.searchParams.append(k, v);
        const res = await GET(new Request(url, { headers: { host: 'localhost', 'sec-fetch-site': 'same-origin' } }));
        expect(res.status).toBeLessThan(500);
        const text = await res.text();
        if (res.status === 200) expect(text.split('\r\n')[0]).toMatch(/^[a-z_]+(,[a-z_]+)+$/i);
      }),
      { numRuns: FUZZ_RUNS },
    );
    const crossSite = await GET(new Request('http://localhost/admin/orders/export', { headers: { host: 'localhost', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } }));
    expect(crossSite.status).toBe(403);
    expect(await snapshot()).toEqual(before);
  });
});

describe(`admin sessions, cross-site checks and audit (${testDbKind})`, () => {
  const req = (headers: Record<string, string>) => new Request('http://shop.example/admin/orders/export', { headers });

  it('accepts only same-origin requests (Sec-Fetch-Site and Origin against Host)', () => {
    expect(isSameOriginRequest(req({ host: 'shop.example', 'sec-fetch-site': 'same-origin', origin: 'http://shop.example' }))).toBe(true);
    expect(isSameOriginRequest(req({ host: 'shop.example', 'sec-fetch-site': 'none' }))).toBe(true);
    expect(isSameOriginRequest(req({ host: 'shop.example', 'sec-fetch-site': 'cross-site' }))).toBe(false);
    expect(isSameOriginRequest(req({ host: 'shop.example', 'sec-fetch-site': 'same-site', origin: 'http://blog.shop.example' }))).toBe(false);
    expect(isSameOriginRequest(req({ host: 'shop.example', origin: 'https://evil.example' }))).toBe(false);
    expect(isSameOriginRequest(req({ host: 'shop.example', origin: 'null' }))).toBe(false);
    expect(isSameOriginRequest(req({ host: 'shop.example', origin: 'http://shop.example.evil.example' }))).toBe(false);
    expect(isSameOriginRequest(req({ host: 'internal:3000', 'x-forwarded-host': 'shop.example', origin: 'https://shop.example' }))).toBe(true);
  });

  it('rotates the session id at every sign-in and revokes a session everywhere at once', async () => {
    const prisma = database.prisma;
    const a = await signIn(prisma, { email: 'admin@brisk.test', password: 'correct-horse-battery', ip: '198.51.100.1' });
    const b = await signIn(prisma, { email: 'admin@brisk.test', password: 'correct-horse-battery', ip: '198.51.100.1', previousToken: a.ok ? a.token : null });
    if (!a.ok || !b.ok) throw new Error('sign-in failed');
    expect(sessionIdFor(b.token)).not.toBe(sessionIdFor(a.token));
    expect(await validateSession(prisma, a.token)).toBeNull();
    // Another admin revokes b (a stolen cookie, say): the very next request is signed out.
    const other = await createSession(prisma, (await prisma.adminUser.findFirstOrThrow()).id);
    expect(await validateSession(prisma, other.token)).not.toBeNull();
    expect(await revokeSession(prisma, sessionIdFor(b.token))).toBe(true);
    expect(await validateSession(prisma, b.token)).toBeNull();
    expect(await revokeSession(prisma, sessionIdFor(b.token))).toBe(false);
    expect(await validateSession(prisma, other.token)).not.toBeNull();
  });

  it('audits sign-ins, failed sign-ins with the address, and refunds with who, what and how much', async () => {
    const prisma = database.prisma;
    await signIn(prisma, { email: 'admin@brisk.test', password: 'wrong-password', ip: '198.51.100.2' });
    await signIn(prisma, { email: 'admin@brisk.test', password: 'correct-horse-battery', ip: '198.51.100.2' });
    const log = await prisma.auditLog.findMany({ where: { ip: '198.51.100.2' }, orderBy: { createdAt: 'asc' } });
    expect(log.map((l) => l.action)).toEqual(['admin.sign_in_failed', 'admin.sign_in']);
    expect(log.every((l) => l.actor === 'admin@brisk.test')).toBe(true);
    const { requestRefund } = await import('@/lib/orders/refunds');
    const { StripeGateway } = await import('@/lib/stripe/gateway');
    const { createStripeClient } = await import('@/lib/stripe/client');
    // Stripe unreachable: the attempt is still audited (requested, then failed).
    const gateway = new StripeGateway(createStripeClient({ secretKey: 'sk_test_audit', apiBase: 'http://127.0.0.1:9' }), { baseDelayMs: 1, maxDelayMs: 2, maxRetries: 0 } as never);
    const f = await createOrderFixture(prisma, { lines: [{ stock: 2, quantity: 1 }] });
    await prisma.order.update({ where: { id: f.orderId }, data: { status: 'paid', amountPaid: f.total, paidAt: new Date() } });
    const outcome = await requestRefund(prisma, gateway, { orderId: f.orderId, amount: 100, refundNumber: 1, actor: 'admin@brisk.test', ip: '198.51.100.3', reason: 'requested_by_customer' });
    expect(outcome).toMatchObject({ kind: 'unavailable' });
    const money = await prisma.auditLog.findMany({ where: { target: f.orderId } });
    expect(money.map((l) => l.action)).toContain('order.refund_requested');
    expect(money.find((l) => l.action === 'order.refund_requested')).toMatchObject({ actor: 'admin@brisk.test', ip: '198.51.100.3', detail: expect.objectContaining({ amount: 100, refundNumber: 1 }) });
  });
});
