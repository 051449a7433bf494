// The admin under attack: hostile input at its server actions, its CSV route and its filter
// parsers (never a throw other than Next's redirect, never a stored change), cross-site
// requests refused, sessions that rotate and can be revoked, and an audit trail of sign-ins,
// failed sign-ins and money-moving actions.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { createOrderFixture } from '@/tests/helpers/payments';
import { createSession, hashPassword, revokeSession, sessionIdFor, signIn, validateSession } from '@/lib/admin/auth';
import { parseMajorAmount, parseOrderFilters } from '@/lib/admin/orders-query';
import { isSameOriginRequest } from '@/lib/admin/session';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { FUZZ_RUNS, assertNoPollution, nastyKey, nastyString, nastyValue } from './arbitraries';

const held = vi.hoisted(() => ({ prisma: null as unknown as PrismaClient, admin: null as null | { sessionId: string; userId: string; email: string; expiresAt: Date; ip: string | null } }));
vi.mock('@/lib/db/client', async (importOriginal) => ({ ...(await importOriginal<object>()), db: async () => ({ prisma: held.prisma }), prisma: async () => held.prisma }));
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
vi.mock('@/lib/stripe/gateway', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  stripeGateway: () => new Proxy({}, { get: (_t, p) => (p === 'unavailable' ? () => null : () => Promise.reject(new Error(`gateway.${String(p)} reached with hostile input`))) }),
}));
vi.mock('@/lib/jobs', async (importOriginal) => ({ ...(await importOriginal<object>()), replayStripeEvent: async () => false }));

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let paidOrderId: string;

beforeAll(async () => {
  database = await createTestDatabase();
  held.prisma = database.prisma;
  const user = await database.prisma.adminUser.create({ data: { email: 'admin@brisk.test', passwordHash: await hashPassword('correct-horse-battery') } });
  held.admin = { sessionId: 'a'.repeat(64), userId: user.id, email: user.email, expiresAt: new Date(Date.now() + 3_600_000), ip: '203.0.113.50' };
  const o = await createOrderFixture(database.prisma, { lines: [{ stock: 5, quantity: 1 }] });
  await database.prisma.order.update({ where: { id: o.orderId }, data: { status: 'paid', amountPaid: o.total, paidAt: new Date() } });
  paidOrderId = o.orderId;
});
afterAll(() => database?.drop());

async function snapshot() {
  const p = database.prisma;
  const [orders, refunds, ledger, audit, sessions, emails, events, canceled] = await Promise.all([
    p.order.count(),
    p.refund.count(),
    p.ledgerEntry.count(),
    // A replay request for an event id that merely looks valid is audited as tried (queued: false): not a change.
    p.auditLog.count({ where: { action: { not: 'stripe_event.replayed' } } }),
    p.adminSession.count(),
    p.email.count(),
    p.stripeEvent.count(),
    p.order.count({ where: { OR: [{ status: 'canceled' }, { reviewStatus: { not: 'none' } }] } }),
  ]);
  return { orders, refunds, ledger, audit, sessions, emails, events, canceled };
}

function asText(v: unknown): string {
  try {
    return String(v);
  } catch {
    return Object.keys(v as object).join(',');
  }
}

/** A form as a script would post it: known fields and extra ones, every value hostile, as text. */
function nastyForm(fields: string[]): fc.Arbitrary<FormData> {
  const text: fc.Arbitrary<string> = fc.oneof(nastyString, nastyValue.map(asText));
  return fc
    .tuple(fc.record(Object.fromEntries(fields.map((f) => [f, text])) as Record<string, fc.Arbitrary<string>>, { requiredKeys: [] }), fc.dictionary(nastyKey, text, { maxKeys: 3 }))
    .map(([known, extra]) => {
      const form = new FormData();
      for (const [k, v] of Object.entries({ ...extra, ...known })) if (typeof v === 'string') form.append(k, v);
      return form;
    });
}

function isRedirect(err: unknown): boolean {
  return typeof (err as { digest?: unknown })?.digest === 'string' && (err as { digest: string }).digest.startsWith('NEXT_REDIRECT');
}

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

  it('server actions (refund, cancel, resend, review, replay, revoke): only a redirect, never a stored change', async () => {
    const actions = await import('@/app/admin/(panel)/actions');
    const cases: [string, (f: FormData) => Promise<void>, string[]][] = [
      ['refund', actions.refundAction, ['orderId', 'amount', 'refundNumber']],
      ['cancel', actions.cancelOrderAction, ['orderId']],
      ['resend', actions.resendReceiptAction, ['orderId']],
      ['review', actions.reviewAction, ['orderId', 'decision', 'refundNumber']],
      ['replay', actions.replayEventAction, ['eventId']],
      ['revoke', actions.revokeSessionAction, ['sessionId']],
    ];
    const before = await snapshot();
    for (const [name, action, fields] of cases) {
      await fc.assert(
        fc.asyncProperty(nastyForm(fields), async (form) => {
          try {
            await action(form);
          } catch (err) {
            if (!isRedirect(err)) throw new Error(`${name} threw ${String(err)}`);
          }
          assertNoPollution();
        }),
        { numRuns: Math.ceil(FUZZ_RUNS / 2) },
      );
    }
    // A hostile amount on a real, paid order is refused too.
    await fc.assert(
      fc.asyncProperty(nastyString.filter((s) => parseMajorAmount(s) === null || parseMajorAmount(s) === 0), async (amount) => {
        const form = new FormData();
        form.set('orderId', paidOrderId);
        form.set('amount', amount);
        form.set('refundNumber', '1');
        await expect(actions.refundAction(form)).rejects.toSatisfy(isRedirect);
      }),
      { numRuns: Math.ceil(FUZZ_RUNS / 2) },
    );
    expect(await snapshot()).toEqual(before);
    const replays = await database.prisma.auditLog.findMany({ where: { action: 'stripe_event.replayed' } });
    expect(replays.every((r) => (r.detail as { queued?: boolean }).queued === false)).toBe(true);
  }, 90_000);

  it('sign-in: hostile credentials never throw and never make a session; each is audited as a failure', async () => {
    const { signInAction } = await import('@/app/admin/(auth)/login/actions');
    const before = await snapshot();
    let attempts = 0;
    await fc.assert(
      fc.asyncProperty(nastyForm(['email', 'password']), async (form) => {
        try {
          await signInAction(form);
        } catch (err) {
          if (!isRedirect(err)) throw new Error(`sign-in threw ${String(err)}`);
          expect((err as { digest: string }).digest).toMatch(/\/admin\/login\?error=(invalid|locked)/);
        }
        attempts++;
      }),
      // Each failure runs argon2 (19 MiB, 2 passes): fewer runs keep the suite quick.
      { numRuns: Math.ceil(FUZZ_RUNS / 3) },
    );
    const after = await snapshot();
    expect(after.sessions).toBe(before.sessions);
    expect(after.audit - before.audit).toBeLessThanOrEqual(attempts);
    expect(await database.prisma.auditLog.count({ where: { action: { notIn: ['admin.sign_in_failed', 'admin.sign_in_locked', 'stripe_event.replayed'] } } })).toBe(0);
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
    await prisma.order.update({ where: { id: paidOrderId }, data: { paymentIntentId: 'pi_audit_1' } });
    await requestRefund(prisma, gateway, { orderId: paidOrderId, amount: 100, refundNumber: 1, actor: 'admin@brisk.test', ip: '198.51.100.3', reason: 'requested_by_customer' }).catch(() => undefined);
    const money = await prisma.auditLog.findMany({ where: { target: paidOrderId } });
    expect(money.map((l) => l.action)).toContain('order.refund_requested');
    expect(money.find((l) => l.action === 'order.refund_requested')).toMatchObject({ actor: 'admin@brisk.test', ip: '198.51.100.3', detail: expect.objectContaining({ amount: 100, refundNumber: 1 }) });
  });
});
