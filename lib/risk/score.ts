// Risk score for a paid order: Stripe's own view of the charge (outcome.risk_level and
// risk_score, kept on the PaymentAttempt) plus our signals — many attempts or declines from
// one email or one address in a short window (card testing), and an amount far above what the
// shop usually sells. Orders at or above REVIEW_THRESHOLD wait for an admin: reviewStatus
// pending_review and their Fulfillment on_hold.
import { sql, type RawBuilder } from 'kysely';
import type { Prisma, PrismaClient } from '@/lib/generated/prisma/client';
import type { OrderStatus } from '@/lib/generated/kysely/types';
import { PAID_STATUSES } from '@/lib/orders/state-machine';
import { isLoopback } from '@/lib/security/throttle';
import { sqlOf, type Sql } from '@/lib/db/sql';

export const REVIEW_THRESHOLD = 60;
export const ELEVATED_THRESHOLD = 30;
export const SIGNAL_WINDOW_MS = 24 * 60 * 60 * 1000;
const USUAL_WINDOW_MS = 30 * 24 * 60 * 60 * 1000;
/** Below this many paid orders there is no "usual" amount to compare with. */
const USUAL_MIN_SAMPLE = 20;

export interface RiskReason {
  code: 'stripe_risk_level' | 'stripe_risk_score' | 'email_attempts' | 'email_declines' | 'address_declines' | 'client_card_testing' | 'amount_above_usual';
  points: number;
  detail: string;
}

export interface RiskInput {
  stripeRiskLevel: string | null;
  stripeRiskScore: number | null;
  /** Payment attempts from this email in the window, on any order. */
  emailAttempts: number;
  emailDeclines: number;
  addressDeclines: number;
  amount: number;
  /** Declined attempts and different cards from the paying client's address in the window (card testing). */
  clientDeclines?: number;
  clientDistinctCards?: number;
  /** Median paid order amount of the last 30 days, or null when there are too few. */
  usualAmount: number | null;
}

export interface RiskAssessment {
  score: number;
  level: 'normal' | 'elevated' | 'highest';
  reasons: RiskReason[];
  review: boolean;
}

/** Pure scoring, so every rule is tested without a database. */
export function scoreRisk(i: RiskInput): RiskAssessment {
  const reasons: RiskReason[] = [];
  if (i.stripeRiskLevel === 'highest') reasons.push({ code: 'stripe_risk_level', points: 60, detail: 'Stripe rated the payment highest risk' });
  else if (i.stripeRiskLevel === 'elevated') reasons.push({ code: 'stripe_risk_level', points: 30, detail: 'Stripe rated the payment elevated risk' });
  if (i.stripeRiskScore !== null && i.stripeRiskScore >= 65) {
    reasons.push({ code: 'stripe_risk_score', points: i.stripeRiskScore >= 75 ? 25 : 10, detail: `Stripe risk score ${i.stripeRiskScore} of 100` });
  }
  if (i.emailAttempts >= 5) reasons.push({ code: 'email_attempts', points: i.emailAttempts >= 10 ? 25 : 15, detail: `${i.emailAttempts} payment attempts from this email in 24 h` });
  if (i.emailDeclines >= 3) reasons.push({ code: 'email_declines', points: i.emailDeclines >= 6 ? 35 : 25, detail: `${i.emailDeclines} declined attempts from this email in 24 h` });
  if (i.addressDeclines >= 3) reasons.push({ code: 'address_declines', points: 20, detail: `${i.addressDeclines} declined attempts to this address in 24 h` });
  if ((i.clientDeclines ?? 0) >= 3 && (i.clientDistinctCards ?? 0) >= 3) {
    reasons.push({ code: 'client_card_testing', points: (i.clientDeclines ?? 0) >= 6 ? 35 : 25, detail: `${i.clientDeclines} declines on ${i.clientDistinctCards} cards from this client address in 24 h` });
  }
  if (i.usualAmount && i.usualAmount > 0) {
    const ratio = i.amount / i.usualAmount;
    if (ratio >= 5) reasons.push({ code: 'amount_above_usual', points: ratio >= 10 ? 35 : 20, detail: `Amount is ${Math.floor(ratio)}× the shop's usual order` });
  }
  const score = Math.min(100, reasons.reduce((s, r) => s + r.points, 0));
  return { score, level: score >= REVIEW_THRESHOLD ? 'highest' : score >= ELEVATED_THRESHOLD ? 'elevated' : 'normal', reasons, review: score >= REVIEW_THRESHOLD };
}

type Db = PrismaClient | Prisma.TransactionClient | Sql;

async function usualAmount(db: Db, currency: string, now: Date): Promise<number | null> {
  const row = await sqlOf(db)
    .kysely.selectFrom('Order')
    .select((eb) => [eb.fn.countAll<number>().as('n'), sql<number | null>`percentile_cont(0.5) WITHIN GROUP (ORDER BY ${eb.ref('total')})`.as('median')])
    .where('status', '=', sql<OrderStatus>`ANY(${PAID_STATUSES}::"OrderStatus"[])`)
    .where('currency', '=', currency)
    .where('createdAt', '>=', new Date(now.getTime() - USUAL_WINDOW_MS))
    .executeTakeFirstOrThrow();
  return row.n >= USUAL_MIN_SAMPLE && row.median !== null ? row.median : null;
}

// The shop's usual amount moves slowly; scoring each payment reuses it for a while rather than
// taking a median over a month of orders inside every payment's transaction.
const USUAL_AMOUNT_TTL_MS = 10 * 60_000;
const usualCache = new Map<string, { value: number | null; at: number }>();

async function cachedUsualAmount(db: Db, currency: string, now: Date): Promise<number | null> {
  const hit = usualCache.get(currency);
  if (hit && Math.abs(now.getTime() - hit.at) < USUAL_AMOUNT_TTL_MS) return hit.value;
  const value = await usualAmount(db, currency, now);
  usualCache.set(currency, { value, at: now.getTime() });
  return value;
}

interface Subject {
  email: string;
  addressLine1: string;
  postalCode: string;
  /** The paying client's address; loopback is a local proxy or a test run, never one client. */
  clientIp: string | null;
}

/** Caps on what one payment's signals read (see signalsSql). */
export const SUBJECT_ORDERS = 100;
export const ATTEMPTS_PER_ORDER = 20;
export const CLIENT_ATTEMPTS = 200;

export type SignalCounts = { emailAttempts: bigint | number; emailDeclines: bigint | number; addressDeclines: bigint | number; clientDeclines: bigint | number; clientCards: bigint | number };

type Paying = { attemptId: string; cardBrand: string | null; cardLast4: string | null };

/**
 * Our card-testing signals for one order: a query of one row, to run alone (`signals`) or
 * inside another statement (applyPayment scores the order in the statement that takes
 * its stock).
 */
export function signalsSql(
  s: Subject,
  since: Date,
  /** The paying attempt's card, when the same statement is only now writing it to its row. */
  paying?: Paying,
): RawBuilder<SignalCounts> {
  const tag = sql;
  const ip = s.clientIp && !isLoopback(s.clientIp) ? s.clientIp : null;
  const brand = paying ? tag`(CASE WHEN a.id = ${paying.attemptId} THEN ${paying.cardBrand}::text ELSE a."cardBrand" END)` : tag`a."cardBrand"`;
  const last4 = paying ? tag`(CASE WHEN a.id = ${paying.attemptId} THEN ${paying.cardLast4}::text ELSE a."cardLast4" END)` : tag`a."cardLast4"`;
  // Every branch reads a bounded number of rows, whatever the statistics say: the latest
  // SUBJECT_ORDERS orders of the email or address (an index on the subject and createdAt), the
  // latest ATTEMPTS_PER_ORDER attempts of each (the orderId/attemptNumber index), the latest
  // CLIENT_ATTEMPTS attempts of the client address. The thresholds in scoreRisk top out at 10,
  // far under the caps; the caps keep one popular subject (a parcel locker, an office, a
  // benchmark's single address) from making each payment scan every order it ever received.
  const cols = tag`a.id, o.email, o."addressLine1", o."postalCode", a."clientIp", ${brand} AS brand, ${last4} AS last4,
    a."declineCode" IS NOT NULL OR a."failureCode" IS NOT NULL AS declined`;
  const latestAttempts = tag`CROSS JOIN LATERAL (
        SELECT * FROM "PaymentAttempt" pa WHERE pa."orderId" = o.id ORDER BY pa."attemptNumber" DESC LIMIT ${ATTEMPTS_PER_ORDER}
      ) a`;
  return tag`
    WITH a AS (
      SELECT ${cols}
      FROM (SELECT id, email, "addressLine1", "postalCode" FROM "Order" WHERE email = ${s.email}
            ORDER BY "createdAt" DESC LIMIT ${SUBJECT_ORDERS}) o
      ${latestAttempts}
      WHERE a."createdAt" >= ${since}
      UNION
      SELECT ${cols}
      FROM (SELECT id, email, "addressLine1", "postalCode" FROM "Order" WHERE "addressLine1" = ${s.addressLine1} AND "postalCode" = ${s.postalCode}
            ORDER BY "createdAt" DESC LIMIT ${SUBJECT_ORDERS}) o
      ${latestAttempts}
      WHERE a."createdAt" >= ${since} AND (a."declineCode" IS NOT NULL OR a."failureCode" IS NOT NULL)
      UNION
      SELECT ${cols}
      FROM (SELECT * FROM "PaymentAttempt" WHERE "clientIp" = ${ip}::text AND "createdAt" >= ${since}
            ORDER BY "createdAt" DESC LIMIT ${CLIENT_ATTEMPTS}) a
      JOIN "Order" o ON o.id = a."orderId"
    )
    SELECT
      count(*) FILTER (WHERE a.email = ${s.email}) AS "emailAttempts",
      count(*) FILTER (WHERE a.email = ${s.email} AND a.declined) AS "emailDeclines",
      count(*) FILTER (WHERE a."addressLine1" = ${s.addressLine1} AND a."postalCode" = ${s.postalCode} AND a.declined) AS "addressDeclines",
      count(*) FILTER (WHERE a."clientIp" = ${ip}::text AND a.declined) AS "clientDeclines",
      count(DISTINCT (a.brand, a.last4)) FILTER (WHERE a."clientIp" = ${ip}::text AND a.last4 IS NOT NULL) AS "clientCards"
    FROM a`.$castTo<SignalCounts>();
}

export function readSignals(row: SignalCounts) {
  return {
    emailAttempts: Number(row.emailAttempts),
    emailDeclines: Number(row.emailDeclines),
    addressDeclines: Number(row.addressDeclines),
    clientDeclines: Number(row.clientDeclines),
    clientDistinctCards: Number(row.clientCards),
  };
}

async function signals(db: Db, s: Subject, since: Date) {
  const { rows } = await signalsSql(s, since).execute(sqlOf(db).kysely);
  return readSignals(rows[0]);
}

export async function gatherRiskInput(prisma: PrismaClient, orderId: string, now = new Date(), opts: { cachedUsual?: boolean } = {}): Promise<RiskInput | null> {
  const order = await prisma.order.findUnique({ where: { id: orderId }, include: { attempts: { orderBy: { attemptNumber: 'desc' } } } });
  if (!order) return null;
  const paying = order.attempts.find((a) => a.paymentIntentId === order.paymentIntentId) ?? order.attempts[0];
  const since = new Date(now.getTime() - SIGNAL_WINDOW_MS);
  const [counts, usual] = await Promise.all([
    signals(prisma, { ...order, clientIp: paying?.clientIp ?? null }, since),
    opts.cachedUsual ? cachedUsualAmount(prisma, order.currency, now) : usualAmount(prisma, order.currency, now),
  ]);
  return { stripeRiskLevel: paying?.riskLevel ?? order.riskLevel, stripeRiskScore: paying?.riskScore ?? order.riskScore, amount: order.total, usualAmount: usual, ...counts };
}

/**
 * Scores an order inside the transaction that marks it paid (applyPayment), so its
 * fulfillment can start on hold: two statements, one when the usual amount is cached.
 */
export async function assessRiskInTransaction(
  tx: Sql,
  i: { order: Omit<Subject, 'clientIp'> & { currency: string; total: number }; stripeRiskLevel: string | null; stripeRiskScore: number | null; clientIp: string | null; now: Date },
  /** The signals, when the caller read them already (`signalsSql` in its own statement). */
  known?: SignalCounts,
): Promise<RiskAssessment> {
  const since = new Date(i.now.getTime() - SIGNAL_WINDOW_MS);
  const counts = known ? readSignals(known) : await signals(tx, { ...i.order, clientIp: i.clientIp }, since);
  const usual = await cachedUsualAmount(tx, i.order.currency, i.now);
  return scoreRisk({ stripeRiskLevel: i.stripeRiskLevel, stripeRiskScore: i.stripeRiskScore, amount: i.order.total, usualAmount: usual, ...counts });
}
