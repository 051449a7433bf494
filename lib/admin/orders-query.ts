// The admin orders list: filters, search and sorting parsed once (zod) from the URL, one
// keyset-paginated query the page and the CSV export share. Keyset on (sort column, id) uses
// the createdAt / total / status+createdAt / email / paymentIntentId indexes, so the 1st and
// the 2,000th page cost the same with 100,000 orders.
import { z } from 'zod';
import { parseUntrusted } from '@/lib/validation';
import type { Prisma, PrismaClient } from '@/lib/generated/prisma/client';
import type { OrderStatus } from '@/lib/generated/prisma/enums';
import { ORDER_STATUSES } from '@/lib/orders/state-machine';

export const ORDER_SORTS = ['created_desc', 'created_asc', 'total_desc', 'total_asc'] as const;
export type OrderSort = (typeof ORDER_SORTS)[number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

const empty = (v: unknown) => (v === '' || v === null ? undefined : v);

/** "12.34" → 1234 without floating point; two-decimal currencies (the shop's). */
export function parseMajorAmount(input: string): number | null {
  const m = /^\s*(\d{1,9})(?:[.,](\d{1,2}))?\s*$/.exec(input);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '0').padEnd(2, '0'));
}

const amount = z.preprocess(empty, z.string().max(20).optional()).transform((v, ctx) => {
  if (v === undefined) return undefined;
  const n = parseMajorAmount(v);
  if (n === null) {
    ctx.addIssue({ code: 'custom', message: 'Enter an amount like 12.50' });
    return z.NEVER;
  }
  return n;
});

const day = z.preprocess(empty, z.string().regex(DAY, 'Use YYYY-MM-DD').optional()).refine((v) => v === undefined || !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), 'Not a date');

export const OrderFilters = z.object({
  status: z.preprocess(empty, z.enum(ORDER_STATUSES).optional()),
  review: z.preprocess(empty, z.enum(['pending_review', 'approved', 'rejected']).optional()),
  from: day,
  to: day,
  min: amount,
  max: amount,
  // PostgreSQL refuses a NUL in text (the query would fail): control characters are never a search.
  q: z.preprocess(empty, z.string().trim().max(200).regex(/^[^\u0000-\u001f\u007f]*$/, 'Search for letters, digits and punctuation.').optional()),
  sort: z.preprocess(empty, z.enum(ORDER_SORTS).default('created_desc')),
});
export type OrderFilters = z.infer<typeof OrderFilters>;

export type FilterParseResult = { ok: true; filters: OrderFilters } | { ok: false; errors: Record<string, string>; filters: OrderFilters };

/** Reads filters from a URL's search params; invalid fields are reported and ignored. */
export function parseOrderFilters(params: URLSearchParams | Record<string, string | string[] | undefined>): FilterParseResult {
  const raw: Record<string, string> = {};
  const entries = params instanceof URLSearchParams ? [...params.entries()] : Object.entries(params).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v] as const);
  for (const [k, v] of entries) if (typeof v === 'string' && !(k in raw)) raw[k] = v;
  const parsed = parseUntrusted(OrderFilters, raw);
  if (parsed.success) return { ok: true, filters: parsed.data };
  const errors: Record<string, string> = {};
  const clean = { ...raw };
  for (const issue of parsed.error.issues) {
    const key = String(issue.path[0] ?? 'form');
    errors[key] ??= issue.message;
    delete clean[key];
  }
  const retry = parseUntrusted(OrderFilters, clean);
  return { ok: false, errors, filters: retry.success ? retry.data : OrderFilters.parse({}) };
}

export interface SearchContext {
  /** Orders whose attempts include the searched PaymentIntent id. */
  attemptOrderIds?: string[];
}

const isPaymentIntentId = (s: string) => /^pi_[A-Za-z0-9_]+$/.test(s);

/** Looks up what a search needs from other tables before the orders query runs. */
export async function resolveSearch(prisma: PrismaClient, f: OrderFilters): Promise<SearchContext> {
  const q = f.q?.trim();
  if (!q || !isPaymentIntentId(q)) return {};
  const attempt = await prisma.paymentAttempt.findUnique({ where: { paymentIntentId: q }, select: { orderId: true } });
  return { attemptOrderIds: attempt ? [attempt.orderId] : [] };
}

/** The search box: an order id, a PaymentIntent id, an email, or the start of an id or email. */
export function searchWhere(q: string, resolved: SearchContext = {}): Prisma.OrderWhereInput {
  const s = q.trim();
  if (UUID.test(s)) return { id: s.toLowerCase() };
  // An earlier attempt's PaymentIntent is found through its attempt row (looked up first, by
  // its unique index): an EXISTS inside an OR would make PostgreSQL scan every order.
  if (isPaymentIntentId(s)) return resolved.attemptOrderIds?.length ? { OR: [{ paymentIntentId: s }, { id: { in: resolved.attemptOrderIds } }] } : { paymentIntentId: s };
  if (s.includes('@')) return { email: s.toLowerCase() };
  if (/^[0-9a-f-]{4,36}$/i.test(s)) return { OR: [{ id: { startsWith: s.toLowerCase() } }, { email: { startsWith: s.toLowerCase() } }] };
  return { email: { startsWith: escapeLike(s.toLowerCase()) } };
}

/** Prisma passes startsWith/contains to LIKE as they are: `%`, `_` and `\` must match themselves. */
export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export function ordersWhere(f: OrderFilters, resolved: SearchContext = {}): Prisma.OrderWhereInput {
  const and: Prisma.OrderWhereInput[] = [];
  if (f.status) and.push({ status: f.status as OrderStatus });
  if (f.review) and.push({ reviewStatus: f.review });
  if (f.from || f.to) {
    const createdAt: Prisma.DateTimeFilter = {};
    if (f.from) createdAt.gte = new Date(`${f.from}T00:00:00Z`);
    if (f.to) createdAt.lt = new Date(Date.parse(`${f.to}T00:00:00Z`) + 86_400_000);
    and.push({ createdAt });
  }
  if (f.min !== undefined || f.max !== undefined) and.push({ total: { ...(f.min !== undefined ? { gte: f.min } : {}), ...(f.max !== undefined ? { lte: f.max } : {}) } });
  if (f.q) and.push(searchWhere(f.q, resolved));
  return and.length ? { AND: and } : {};
}

type SortKey = { column: 'createdAt' | 'total'; dir: 'asc' | 'desc' };
function sortKey(sort: OrderSort): SortKey {
  const [c, d] = sort.split('_') as ['created' | 'total', 'asc' | 'desc'];
  return { column: c === 'created' ? 'createdAt' : 'total', dir: d };
}

/** An opaque position after the last row of a page. */
export function encodeCursor(sort: OrderSort, row: { createdAt: Date; total: number; id: string }): string {
  const v = sortKey(sort).column === 'createdAt' ? row.createdAt.toISOString() : row.total;
  return Buffer.from(JSON.stringify([sort, v, row.id])).toString('base64url');
}

export function decodeCursor(sort: OrderSort, cursor: string | undefined | null): { value: Date | number; id: string } | null {
  if (!cursor || cursor.length > 300) return null;
  try {
    const [s, v, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, unknown, unknown];
    if (s !== sort || typeof id !== 'string' || !UUID.test(id)) return null;
    if (sortKey(sort).column === 'createdAt') {
      const d = typeof v === 'string' ? new Date(v) : null;
      return d && !Number.isNaN(d.getTime()) ? { value: d, id } : null;
    }
    return typeof v === 'number' && Number.isSafeInteger(v) ? { value: v, id } : null;
  } catch {
    return null;
  }
}

function afterCursor(sort: OrderSort, c: { value: Date | number; id: string }): Prisma.OrderWhereInput {
  const { column, dir } = sortKey(sort);
  const op = dir === 'desc' ? 'lt' : 'gt';
  // The outer range alone is what the index scan uses; the OR only breaks ties on id.
  return { AND: [{ [column]: { [op === 'lt' ? 'lte' : 'gte']: c.value } }, { OR: [{ [column]: { [op]: c.value } }, { id: { [op]: c.id } }] }] };
}

export const orderListSelect = {
  id: true,
  createdAt: true,
  email: true,
  name: true,
  status: true,
  total: true,
  currency: true,
  amountRefunded: true,
  paymentIntentId: true,
  riskLevel: true,
  riskScore: true,
  reviewStatus: true,
} satisfies Prisma.OrderSelect;
export type OrderListRow = Prisma.OrderGetPayload<{ select: typeof orderListSelect }>;

export interface OrderPage {
  rows: OrderListRow[];
  nextCursor: string | null;
}

export async function listOrders(prisma: PrismaClient, filters: OrderFilters, opts: { cursor?: string | null; limit?: number; resolved?: SearchContext } = {}): Promise<OrderPage> {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 1000);
  const { column, dir } = sortKey(filters.sort);
  const where = ordersWhere(filters, opts.resolved ?? (await resolveSearch(prisma, filters)));
  const cursor = decodeCursor(filters.sort, opts.cursor);
  const rows = await prisma.order.findMany({
    where: cursor ? { AND: [where, afterCursor(filters.sort, cursor)] } : where,
    orderBy: [{ [column]: dir }, { id: dir }],
    take: limit + 1,
    select: orderListSelect,
  });
  const more = rows.length > limit;
  if (more) rows.pop();
  return { rows, nextCursor: more && rows.length ? encodeCursor(filters.sort, rows[rows.length - 1]) : null };
}

/** Every matching row, a batch at a time, for streaming. */
export async function* iterateOrders(prisma: PrismaClient, filters: OrderFilters, batchSize = 1000): AsyncGenerator<OrderListRow[]> {
  let cursor: string | null = null;
  const resolved = await resolveSearch(prisma, filters);
  do {
    const page: OrderPage = await listOrders(prisma, filters, { cursor, limit: batchSize, resolved });
    if (page.rows.length) yield page.rows;
    cursor = page.nextCursor;
  } while (cursor);
}

export const CSV_HEADER = ['order_id', 'created_at', 'status', 'email', 'name', 'total', 'amount_refunded', 'currency', 'payment_intent', 'risk_level', 'review_status'];

/** One CSV field: quoted when needed, and never a formula a spreadsheet would run. */
export function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function minorToDecimal(n: number): string {
  const sign = n < 0 ? '-' : '';
  const a = Math.abs(n);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

export function csvRow(r: OrderListRow): string {
  return (
    [r.id, r.createdAt.toISOString(), r.status, r.email, r.name, minorToDecimal(r.total), minorToDecimal(r.amountRefunded), r.currency, r.paymentIntentId, r.riskLevel, r.reviewStatus]
      .map(csvField)
      .join(',') + '\r\n'
  );
}

/** The CSV as a byte stream: header, then one batch of rows per database round trip. */
export function ordersCsvStream(prisma: PrismaClient, filters: OrderFilters): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let iterator: AsyncGenerator<OrderListRow[]> | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(CSV_HEADER.join(',') + '\r\n'));
    },
    async pull(controller) {
      iterator ??= iterateOrders(prisma, filters);
      const next = await iterator.next();
      if (next.done) return controller.close();
      controller.enqueue(encoder.encode(next.value.map(csvRow).join('')));
    },
    async cancel() {
      await iterator?.return(undefined);
    },
  });
}
