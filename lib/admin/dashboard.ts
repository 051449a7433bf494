// Dashboard figures, read from our database only (never Stripe), so the page is fast and
// keeps working when Stripe is slow. Money is summed in minor units of the shop's currency.
import 'server-only';
import { sql, type Expression, type ExpressionBuilder, type RawBuilder } from 'kysely';
import type { DB } from '@/lib/db/query';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { sqlOf } from '@/lib/db/sql';

const DAY_MS = 86_400_000;

export interface RevenueFigure {
  label: string;
  gross: number;
  refunded: number;
  net: number;
  paidOrders: number;
}

export interface DashboardData {
  currency: string;
  revenue: RevenueFigure[];
  orders30d: number;
  successRate30d: number | null;
  averageOrderValue30d: number | null;
  revenuePerDay: { day: string; net: number; refunded: number }[];
  paymentsPerDay: { day: string; succeeded: number; failed: number }[];
  timeToPaidPerDay: { day: string; avgSeconds: number; p95Seconds: number }[];
  gatewayLatency: { time: string; avgMs: number; maxMs: number; calls: number; errors: number }[];
}

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
const dayKey = (d: Date) => d.toISOString().slice(0, 10);

/** The UTC day of a timestamp (columns hold UTC), as a timestamp; callers filter out null ones. */
const dayOf = (t: Expression<Date | null>): RawBuilder<Date> => sql<Date>`date_trunc('day', ${t})`;
/** The quarter hour a timestamp falls in. */
const quarterHourOf = (t: Expression<Date>): RawBuilder<Date> => sql<Date>`date_trunc('hour', ${t}) + floor(extract(minute FROM ${t}) / 15) * interval '15 minutes'`;
/** An attempt that ended in a failure or decline. */
const failedAttempt = (eb: ExpressionBuilder<DB, 'PaymentAttempt'>) =>
  eb.and([eb('status', '<>', 'succeeded'), eb.or([eb('failureCode', 'is not', null), eb('declineCode', 'is not', null)])]);

function startOfUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

async function revenueSince(prisma: PrismaClient, label: string, since: Date): Promise<RevenueFigure> {
  const [paid, refunds] = await Promise.all([
    prisma.order.aggregate({ where: { paidAt: { gte: since } }, _sum: { amountPaid: true }, _count: true }),
    prisma.refund.aggregate({ where: { status: 'succeeded', createdAt: { gte: since } }, _sum: { amount: true } }),
  ]);
  const gross = num(paid._sum.amountPaid);
  const refunded = num(refunds._sum.amount);
  return { label, gross, refunded, net: gross - refunded, paidOrders: paid._count };
}

export async function loadDashboard(prisma: PrismaClient, now = new Date()): Promise<DashboardData> {
  const today = startOfUtcDay(now);
  const since30 = new Date(today.getTime() - 29 * DAY_MS);
  const since24h = new Date(now.getTime() - DAY_MS);

  const db = sqlOf(prisma).kysely;
  const [revenue, orders30d, attempts, paidPerDay, refundsPerDay, paymentsPerDay, timeToPaid, latency, currencyRow] = await Promise.all([
    Promise.all([revenueSince(prisma, 'Today', today), revenueSince(prisma, 'Last 7 days', new Date(today.getTime() - 6 * DAY_MS)), revenueSince(prisma, 'Last 30 days', since30)]),
    prisma.order.count({ where: { createdAt: { gte: since30 } } }),
    db
      .selectFrom('PaymentAttempt')
      .select((eb) => [eb.fn.countAll<number>().filterWhere('status', '=', 'succeeded').as('succeeded'), eb.fn.countAll<number>().filterWhere(failedAttempt(eb)).as('failed')])
      .where('createdAt', '>=', since30)
      .execute(),
    db
      .selectFrom('Order')
      .select((eb) => [dayOf(eb.ref('paidAt')).as('day'), eb.fn.sum<number>('amountPaid').as('amount')])
      .where('paidAt', '>=', since30)
      .groupBy((eb) => dayOf(eb.ref('paidAt')))
      .execute(),
    db
      .selectFrom('Refund')
      .select((eb) => [dayOf(eb.ref('createdAt')).as('day'), eb.fn.sum<number>('amount').as('amount')])
      .where('status', '=', 'succeeded')
      .where('createdAt', '>=', since30)
      .groupBy((eb) => dayOf(eb.ref('createdAt')))
      .execute(),
    db
      .selectFrom('PaymentAttempt')
      .select((eb) => [
        dayOf(eb.ref('createdAt')).as('day'),
        eb.fn.countAll<number>().filterWhere('status', '=', 'succeeded').as('succeeded'),
        eb.fn.countAll<number>().filterWhere(failedAttempt(eb)).as('failed'),
      ])
      .where('createdAt', '>=', since30)
      .groupBy((eb) => dayOf(eb.ref('createdAt')))
      .execute(),
    // From the attempt's creation (the shopper pressed Pay) to the OrderEvent that made the order paid.
    db
      .selectFrom('OrderEvent as e')
      .innerJoin('Order as o', 'o.id', 'e.orderId')
      .innerJoin('PaymentAttempt as a', 'a.paymentIntentId', 'o.paymentIntentId')
      .select((eb) => {
        const waited = sql`extract(epoch FROM ${eb.ref('e.createdAt')} - ${eb.ref('a.createdAt')})`;
        return [
          dayOf(eb.ref('e.createdAt')).as('day'),
          sql<number>`avg(${waited})::float8`.as('avg'),
          sql<number>`percentile_cont(0.95) WITHIN GROUP (ORDER BY ${waited})::float8`.as('p95'),
        ];
      })
      .where('e.kind', '=', 'status_changed')
      .where('e.toStatus', '=', 'paid')
      .where('e.createdAt', '>=', since30)
      .groupBy((eb) => dayOf(eb.ref('e.createdAt')))
      .execute(),
    db
      .selectFrom('GatewayCallStat')
      .select((eb) => [
        quarterHourOf(eb.ref('bucket')).as('time'),
        eb.fn.sum<number>('count').as('calls'),
        eb.fn.sum<number>('totalMs').as('total'),
        eb.fn.max('maxMs').as('max'),
        eb.fn.sum<number | null>('count').filterWhere('outcome', 'not in', ['ok', 'card_error', 'invalid']).as('errors'),
      ])
      .where('bucket', '>=', since24h)
      .groupBy((eb) => quarterHourOf(eb.ref('bucket')))
      .orderBy((eb) => quarterHourOf(eb.ref('bucket')))
      .execute(),
    prisma.order.findFirst({ where: { paidAt: { not: null } }, orderBy: { paidAt: 'desc' }, select: { currency: true } }),
  ]);

  const days: string[] = [];
  for (let t = since30.getTime(); t <= today.getTime(); t += DAY_MS) days.push(dayKey(new Date(t)));
  const byDay = <T extends { day: Date }>(rows: T[]) => new Map(rows.map((r) => [dayKey(new Date(r.day)), r]));
  const paidMap = byDay(paidPerDay);
  const refundMap = byDay(refundsPerDay);
  const payMap = byDay(paymentsPerDay);

  const succeeded = num(attempts[0]?.succeeded);
  const failed = num(attempts[0]?.failed);
  const month = revenue[2];
  return {
    currency: currencyRow?.currency ?? 'usd',
    revenue,
    orders30d,
    successRate30d: succeeded + failed > 0 ? succeeded / (succeeded + failed) : null,
    averageOrderValue30d: month.paidOrders > 0 ? Math.round(month.gross / month.paidOrders) : null,
    revenuePerDay: days.map((day) => {
      const refunded = num(refundMap.get(day)?.amount);
      return { day, net: num(paidMap.get(day)?.amount) - refunded, refunded };
    }),
    paymentsPerDay: days.map((day) => ({ day, succeeded: num(payMap.get(day)?.succeeded), failed: num(payMap.get(day)?.failed) })),
    timeToPaidPerDay: timeToPaid
      .map((r) => ({ day: dayKey(new Date(r.day)), avgSeconds: Math.round(num(r.avg) * 10) / 10, p95Seconds: Math.round(num(r.p95) * 10) / 10 }))
      .sort((a, b) => a.day.localeCompare(b.day)),
    gatewayLatency: latency.map((r) => ({
      time: new Date(r.time).toISOString().slice(11, 16),
      calls: num(r.calls),
      avgMs: num(r.calls) > 0 ? Math.round(num(r.total) / num(r.calls)) : 0,
      maxMs: num(r.max),
      errors: num(r.errors),
    })),
  };
}
