// Card-testing defence. A stolen-card tester runs many cards, most of them declined, usually
// for small amounts, through one checkout. We count payment attempts per cart (the shopper's
// session), per email and per client address in a window, and after a few declines a key
// cools down for a while that doubles with each further decline. Counters live in the
// database (ThrottleCounter, one atomic upsert per key), so every instance enforces the same
// limits on PGlite and PostgreSQL alike.
import type { Prisma, PrismaClient } from '@/lib/generated/prisma/client';
import { config } from '@/lib/config';
import { sql, type Selectable } from 'kysely';
import { sqlOf, type Sql } from '@/lib/db/sql';
import type { DB } from '@/lib/generated/kysely/types';

type Db = PrismaClient | Prisma.TransactionClient | Sql;

export type ThrottleScope = 'cart' | 'email' | 'ip';

export interface ScopeLimits {
  /** New payment attempts allowed per window. */
  attempts: number;
  /** Declines allowed per window before the cool-down starts. */
  freeDeclines: number;
}

export const CHECKOUT_THROTTLE = {
  windowMs: 15 * 60_000,
  baseCooldownMs: 60_000,
  maxCooldownMs: 60 * 60_000,
  // A client address can be many shoppers behind one NAT: it gets more room.
  limits: {
    cart: { attempts: 10, freeDeclines: 2 },
    email: { attempts: 10, freeDeclines: 3 },
    ip: { attempts: 40, freeDeclines: 10 },
  } satisfies Record<ThrottleScope, ScopeLimits>,
} as const;

export const KEY_PREFIX = 'checkout:';

export interface ThrottleSubject {
  cartId?: string | null;
  email?: string | null;
  ip?: string | null;
}

export interface ThrottleKey {
  scope: ThrottleScope;
  key: string;
}

/** The counters one checkout attempt touches. */
export function throttleKeys(s: ThrottleSubject): ThrottleKey[] {
  const keys: ThrottleKey[] = [];
  if (s.cartId) keys.push({ scope: 'cart', key: `${KEY_PREFIX}cart:${s.cartId}` });
  const email = s.email?.trim().toLowerCase().slice(0, 254);
  if (email) keys.push({ scope: 'email', key: `${KEY_PREFIX}email:${email}` });
  // The address our server determined (lib/security/client-address.ts), never a header. No
  // address is exempt: behind a local proxy, set TRUSTED_PROXIES, or every shopper shares the
  // proxy's counter.
  const ip = s.ip?.trim().slice(0, 64);
  if (ip) keys.push({ scope: 'ip', key: `${KEY_PREFIX}ip:${ip}` });
  return keys;
}

/** The limits of a scope; the per-address ones follow CHECKOUT_ADDRESS_ATTEMPTS. */
export function limitsFor(scope: ThrottleScope): ScopeLimits {
  if (scope !== 'ip') return CHECKOUT_THROTTLE.limits[scope];
  const attempts = config().CHECKOUT_ADDRESS_ATTEMPTS;
  return attempts === CHECKOUT_THROTTLE.limits.ip.attempts ? CHECKOUT_THROTTLE.limits.ip : { attempts, freeDeclines: Math.max(1, Math.round(attempts / 4)) };
}

export function isLoopback(ip: string): boolean {
  return ip === '::1' || ip === 'localhost' || /^(::ffff:)?127\./.test(ip);
}

/** Cool-down after `declines` declines in the window: none for the free ones, then doubling. */
export function cooldownMs(declines: number, freeDeclines: number): number {
  const over = declines - freeDeclines;
  if (over <= 0) return 0;
  return Math.min(CHECKOUT_THROTTLE.maxCooldownMs, CHECKOUT_THROTTLE.baseCooldownMs * 2 ** (over - 1));
}

export type ThrottleDecision = { ok: true } | { ok: false; scope: ThrottleScope; reason: 'cooldown' | 'too_many_attempts'; retryAfterSeconds: number };

const seconds = (until: Date, now: Date) => Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));

/** Refuses while any key of the subject is cooling down after declines. Reads only. */
export async function checkCooldown(db: Db, subject: ThrottleSubject, now = new Date()): Promise<ThrottleDecision> {
  const keys = throttleKeys(subject);
  if (keys.length === 0) return { ok: true };
  const rows = await sqlOf(db)
    .kysely.selectFrom('ThrottleCounter')
    .select(['key', 'blockedUntil'])
    .where('key', '=', (eb) => eb.fn.any(eb.val(keys.map((k) => k.key))))
    .where('blockedUntil', '>', now)
    .execute();
  let worst: ThrottleDecision = { ok: true };
  for (const row of rows) {
    const scope = keys.find((k) => k.key === row.key)!.scope;
    const retryAfterSeconds = seconds(row.blockedUntil!, now);
    if (worst.ok || retryAfterSeconds > worst.retryAfterSeconds) worst = { ok: false, scope, reason: 'cooldown', retryAfterSeconds };
  }
  return worst;
}

/**
 * Counts one new payment attempt against every key of the subject (atomic per key, safe across
 * instances) and refuses it when a key is cooling down or over its attempt limit.
 */
export async function consumeAttempt(db: Db, subject: ThrottleSubject, now = new Date()): Promise<ThrottleDecision> {
  const keys = throttleKeys(subject);
  if (keys.length === 0) return { ok: true };
  const windowEnd = new Date(now.getTime() + CHECKOUT_THROTTLE.windowMs);
  // One statement (it is on every checkout's path): refuse while any key cools down, else count
  // the attempt against every key. Keys are taken in one fixed order, so concurrent checkouts
  // sharing an email or an address cannot deadlock on the counter rows.
  const list = JSON.stringify(keys.map((k) => ({ key: k.key })).sort((a, b) => (a.key < b.key ? -1 : 1)));
  // A data-modifying CTE over a jsonb recordset: clearer as SQL than as builder calls.
  type Counter = Selectable<DB['ThrottleCounter']>;
  const { rows } = await sql<{ key: Counter['key']; kind: 'blocked' | 'counted'; count: Counter['count']; until: Date }>`
    WITH keys AS (SELECT * FROM jsonb_to_recordset(${list}::jsonb) AS k(key text)),
    blocked AS (
      SELECT t.key, t."blockedUntil" FROM "ThrottleCounter" t JOIN keys USING (key) WHERE t."blockedUntil" > ${now}
    ),
    counted AS (
      INSERT INTO "ThrottleCounter" (key, count, declines, "windowEnd", "blockedUntil", "updatedAt")
      SELECT key, 1, 0, ${windowEnd}::timestamp, NULL, ${now}::timestamp FROM keys WHERE NOT EXISTS (SELECT 1 FROM blocked)
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN "ThrottleCounter"."windowEnd" < ${now} THEN 1 ELSE "ThrottleCounter".count + 1 END,
        declines = CASE WHEN "ThrottleCounter"."windowEnd" < ${now} THEN 0 ELSE "ThrottleCounter".declines END,
        "windowEnd" = CASE WHEN "ThrottleCounter"."windowEnd" < ${now} THEN ${windowEnd} ELSE "ThrottleCounter"."windowEnd" END,
        "updatedAt" = ${now}
      RETURNING key, count, "windowEnd"
    )
    SELECT key, 'blocked' AS kind, 0 AS count, "blockedUntil" AS until FROM blocked
    UNION ALL
    SELECT key, 'counted' AS kind, count, "windowEnd" AS until FROM counted`.execute(sqlOf(db).kysely);
  let worst: ThrottleDecision = { ok: true };
  const blocked = rows.some((r) => r.kind === 'blocked');
  for (const row of rows) {
    const scope = keys.find((k) => k.key === row.key)!.scope;
    if (blocked && row.kind !== 'blocked') continue;
    if (row.kind === 'counted' && Number(row.count) <= limitsFor(scope).attempts) continue;
    const retryAfterSeconds = seconds(new Date(row.until), now);
    if (worst.ok || retryAfterSeconds > worst.retryAfterSeconds) worst = { ok: false, scope, reason: row.kind === 'blocked' ? 'cooldown' : 'too_many_attempts', retryAfterSeconds };
  }
  return worst;
}

/**
 * Counts a declined attempt against the subject's keys and starts or lengthens their cool-down.
 * Called where an attempt learns its decline (applyPayment), once per decline.
 */
export async function recordDecline(db: Db, subject: ThrottleSubject, now = new Date()): Promise<void> {
  const windowEnd = new Date(now.getTime() + CHECKOUT_THROTTLE.windowMs);
  const kysely = sqlOf(db).kysely;
  for (const { scope, key } of throttleKeys(subject)) {
    const row = await kysely
      .insertInto('ThrottleCounter')
      .values({ key, count: 0, declines: 1, windowEnd, blockedUntil: null, updatedAt: now })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet((eb) => {
          const windowOver = eb('ThrottleCounter.windowEnd', '<', now);
          return {
            declines: eb.case().when(windowOver).then(eb.lit(1)).else(eb('ThrottleCounter.declines', '+', eb.lit(1))).end(),
            count: eb.case().when(windowOver).then(eb.lit(0)).else(eb.ref('ThrottleCounter.count')).end(),
            windowEnd: eb.case().when(windowOver).then(eb.val(windowEnd)).else(eb.ref('ThrottleCounter.windowEnd')).end(),
            updatedAt: now,
          };
        }),
      )
      .returning(['declines', 'windowEnd'])
      .executeTakeFirstOrThrow();
    const cool = cooldownMs(Number(row.declines), limitsFor(scope).freeDeclines);
    if (cool === 0) continue;
    const blockedUntil = new Date(now.getTime() + cool);
    // The window outlasts the cool-down, so the decline count is not forgotten while blocked.
    const keepUntil = new Date(Math.max(new Date(row.windowEnd).getTime(), blockedUntil.getTime() + CHECKOUT_THROTTLE.windowMs));
    await kysely
      .updateTable('ThrottleCounter')
      .set((eb) => ({ blockedUntil: eb.fn('GREATEST', [eb.fn.coalesce('blockedUntil', eb.val(blockedUntil)), eb.val(blockedUntil)]), windowEnd: keepUntil }))
      .where('key', '=', key)
      .execute();
  }
}

export interface DeclineSignal {
  attempts: number;
  declines: number;
  /** Different cards (brand + last four) seen on attempts. */
  distinctCards: number;
  /** Attempts at or below SMALL_AMOUNT (minor units): testers probe with small charges. */
  smallAmountAttempts: number;
}

export const SMALL_AMOUNT = 500;

export interface DeclineSignals {
  email: DeclineSignal | null;
  ip: DeclineSignal | null;
}

async function signalFor(prisma: PrismaClient, where: Prisma.PaymentAttemptWhereInput): Promise<DeclineSignal> {
  const declined: Prisma.PaymentAttemptWhereInput = { OR: [{ declineCode: { not: null } }, { failureCode: { not: null } }] };
  const [attempts, declines, small, cards] = await Promise.all([
    prisma.paymentAttempt.count({ where }),
    prisma.paymentAttempt.count({ where: { AND: [where, declined] } }),
    prisma.paymentAttempt.count({ where: { AND: [where, { amount: { lte: SMALL_AMOUNT } }] } }),
    prisma.paymentAttempt.groupBy({ by: ['cardBrand', 'cardLast4'], where: { AND: [where, { cardLast4: { not: null } }] } }),
  ]);
  return { attempts, declines, distinctCards: cards.length, smallAmountAttempts: small };
}

/**
 * Card-testing signals for the risk score: attempts, declines, distinct cards and small-amount
 * attempts from one email and one client address since `since`.
 */
export async function declineSignals(prisma: PrismaClient, q: { email?: string | null; ip?: string | null; since: Date }): Promise<DeclineSignals> {
  const email = q.email?.trim().toLowerCase();
  const [e, i] = await Promise.all([
    email ? signalFor(prisma, { createdAt: { gte: q.since }, order: { email } }) : null,
    q.ip ? signalFor(prisma, { createdAt: { gte: q.since }, clientIp: q.ip }) : null,
  ]);
  return { email: e, ip: i };
}

export interface ThrottledKeyRow {
  scope: ThrottleScope;
  subject: string;
  attempts: number;
  declines: number;
  blockedUntil: Date | null;
  windowEnd: Date;
  updatedAt: Date;
}

export interface DeclineBurst {
  clientIp: string | null;
  attempts: number;
  declines: number;
  distinctCards: number;
  distinctEmails: number;
  smallAmountAttempts: number;
  lastAt: Date;
}

export interface CardTestingOverview {
  keys: ThrottledKeyRow[];
  bursts: DeclineBurst[];
}

/** What the operations page shows: keys cooling down or with declines, and recent decline bursts. */
export async function cardTestingOverview(prisma: PrismaClient, opts: { now?: Date; sinceMs?: number; limit?: number } = {}): Promise<CardTestingOverview> {
  const now = opts.now ?? new Date();
  const since = new Date(now.getTime() - (opts.sinceMs ?? 60 * 60_000));
  const limit = opts.limit ?? 25;
  const rows = await prisma.throttleCounter.findMany({
    where: { key: { startsWith: KEY_PREFIX }, windowEnd: { gte: now }, OR: [{ declines: { gt: 0 } }, { blockedUntil: { gt: now } }] },
    orderBy: [{ declines: 'desc' }, { updatedAt: 'desc' }],
    take: limit,
  });
  const keys = rows.map((r) => {
    const rest = r.key.slice(KEY_PREFIX.length);
    const colon = rest.indexOf(':');
    return { scope: rest.slice(0, colon) as ThrottleScope, subject: rest.slice(colon + 1), attempts: r.count, declines: r.declines, blockedUntil: r.blockedUntil && r.blockedUntil > now ? r.blockedUntil : null, windowEnd: r.windowEnd, updatedAt: r.updatedAt };
  });
  const bursts = await sqlOf(prisma)
    .kysely.selectFrom('PaymentAttempt as a')
    .innerJoin('Order as o', 'o.id', 'a.orderId')
    .select((eb) => {
      const declined = eb.or([eb('a.declineCode', 'is not', null), eb('a.failureCode', 'is not', null)]);
      return [
        'a.clientIp as clientIp',
        eb.fn.countAll<number>().as('attempts'),
        eb.fn.countAll<number>().filterWhere(declined).as('declines'),
        eb.fn.count<number>(sql`(${eb.ref('a.cardBrand')}, ${eb.ref('a.cardLast4')})`).distinct().filterWhere('a.cardLast4', 'is not', null).as('cards'),
        eb.fn.count<number>('o.email').distinct().as('emails'),
        eb.fn.countAll<number>().filterWhere('a.amount', '<=', SMALL_AMOUNT).as('small'),
        eb.fn.max('a.createdAt').as('lastAt'),
      ];
    })
    .where('a.createdAt', '>=', since)
    .groupBy('a.clientIp')
    .having((eb) => eb(eb.fn.countAll().filterWhere(eb.or([eb('a.declineCode', 'is not', null), eb('a.failureCode', 'is not', null)])), '>=', 3))
    .orderBy('declines', 'desc')
    .limit(limit)
    .execute();
  return {
    keys,
    bursts: bursts.map((b) => ({ clientIp: b.clientIp, attempts: b.attempts, declines: b.declines, distinctCards: b.cards, distinctEmails: b.emails, smallAmountAttempts: b.small, lastAt: b.lastAt })),
  };
}
