// Dashboard figures, read from our database only (never Stripe), so the page is fast and
// keeps working when Stripe is slow. Money is summed in minor units of the shop's currency.
import 'server-only';
import type { PrismaClient } from '@/lib/generated/prisma/client';

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

  const [revenue, orders30d, attempts, paidPerDay, refundsPerDay, paymentsPerDay, timeToPaid, latency, currencyRow] = await Promise.all([
    Promise.all([revenueSince(prisma, 'Today', today), revenueSince(prisma, 'Last 7 days', new Date(today.getTime() - 6 * DAY_MS)), revenueSince(prisma, 'Last 30 days', since30)]),
    prisma.order.count({ where: { createdAt: { gte: since30 } } }),
    prisma.$queryRaw<{ succeeded: bigint; failed: bigint }[]>`
      SELECT count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
             count(*) FILTER (WHERE status <> 'succeeded' AND ("failureCode" IS NOT NULL OR "declineCode" IS NOT NULL)) AS failed
      FROM "PaymentAttempt" WHERE "createdAt" >= ${since30}`,
    prisma.$queryRaw<{ day: Date; amount: bigint }[]>`
      SELECT date_trunc('day', "paidAt") AS day, sum("amountPaid") AS amount FROM "Order"
      WHERE "paidAt" >= ${since30} GROUP BY 1`,
    prisma.$queryRaw<{ day: Date; amount: bigint }[]>`
      SELECT date_trunc('day', "createdAt") AS day, sum(amount) AS amount FROM "Refund"
      WHERE status = 'succeeded' AND "createdAt" >= ${since30} GROUP BY 1`,
    prisma.$queryRaw<{ day: Date; succeeded: bigint; failed: bigint }[]>`
      SELECT date_trunc('day', "createdAt") AS day,
             count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
             count(*) FILTER (WHERE status <> 'succeeded' AND ("failureCode" IS NOT NULL OR "declineCode" IS NOT NULL)) AS failed
      FROM "PaymentAttempt" WHERE "createdAt" >= ${since30} GROUP BY 1`,
    // From the attempt's creation (the shopper pressed Pay) to the OrderEvent that made the order paid.
    prisma.$queryRaw<{ day: Date; avg: number; p95: number }[]>`
      SELECT date_trunc('day', e."createdAt") AS day,
             avg(extract(epoch FROM e."createdAt" - a."createdAt"))::float8 AS avg,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM e."createdAt" - a."createdAt"))::float8 AS p95
      FROM "OrderEvent" e
      JOIN "Order" o ON o.id = e."orderId"
      JOIN "PaymentAttempt" a ON a."paymentIntentId" = o."paymentIntentId"
      WHERE e.kind = 'status_changed' AND e."toStatus" = 'paid' AND e."createdAt" >= ${since30}
      GROUP BY 1`,
    prisma.$queryRaw<{ time: Date; calls: bigint; total: bigint; max: number; errors: bigint }[]>`
      SELECT date_trunc('hour', bucket) + floor(extract(minute FROM bucket) / 15) * interval '15 minutes' AS time,
             sum(count) AS calls, sum("totalMs") AS total, max("maxMs") AS max,
             sum(count) FILTER (WHERE outcome NOT IN ('ok', 'card_error', 'invalid')) AS errors
      FROM "GatewayCallStat" WHERE bucket >= ${since24h} GROUP BY 1 ORDER BY 1`,
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
