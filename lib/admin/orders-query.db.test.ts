import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderStatus } from '@/lib/generated/prisma/enums';
import { createTestDatabase } from '@/tests/helpers/db';
import { csvField, listOrders, ordersCsvStream, parseMajorAmount, parseOrderFilters, type OrderFilters } from './orders-query';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
const statuses: OrderStatus[] = ['pending', 'paid', 'refunded', 'canceled', 'partially_refunded', 'processing'];
const ids: string[] = [];
const base = Date.parse('2031-03-01T12:00:00Z');

beforeAll(async () => {
  database = await createTestDatabase();
  const rows = Array.from({ length: 60 }, (_, i) => {
    const id = randomUUID();
    ids.push(id);
    return {
      id,
      publicToken: randomBytes(24).toString('base64url'),
      email: i % 10 === 0 ? 'vip@example.com' : `shopper${i}@example.com`,
      name: i === 7 ? '=HYPERLINK("x")' : `Shopper ${i}`,
      addressLine1: '1 Road',
      city: 'Town',
      postalCode: '12345',
      country: 'US',
      currency: 'usd',
      subtotal: 1000 + i * 100,
      total: 1000 + i * 100,
      pricingHash: 'h',
      status: statuses[i % statuses.length],
      paymentIntentId: `pi_test_${i}`,
      // Two orders per day, going back in time; pairs share a timestamp to exercise the id tie-break.
      createdAt: new Date(base - Math.floor(i / 2) * 86_400_000),
    };
  });
  await database.prisma.order.createMany({ data: rows });
});
afterAll(() => database.drop());

const f = (params: Record<string, string>): OrderFilters => {
  const r = parseOrderFilters(params);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.filters;
};

describe('orders query', () => {
  it('parses amounts without floating point and reports bad filters', () => {
    expect(parseMajorAmount('12.5')).toBe(1250);
    expect(parseMajorAmount('0.07')).toBe(7);
    expect(parseMajorAmount('19,99')).toBe(1999);
    expect(parseMajorAmount('1e3')).toBeNull();
    const bad = parseOrderFilters({ status: 'shipped', min: 'abc', from: '2031-02-30x', q: 'x' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(Object.keys(bad.errors).sort()).toEqual(['from', 'min', 'status']);
      expect(bad.filters.q).toBe('x');
    }
  });

  it('pages through every order once, newest first, by keyset', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof listOrders>> = await listOrders(database.prisma, f({}), { cursor, limit: 7 });
      seen.push(...page.rows.map((r) => r.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(9);
    expect(new Set(seen).size).toBe(60);
    const all = await database.prisma.order.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], select: { id: true } });
    expect(seen).toEqual(all.map((o) => o.id));
  });

  it('filters by status, date range and amount, and sorts by amount', async () => {
    const paid = await listOrders(database.prisma, f({ status: 'paid' }), { limit: 100 });
    expect(paid.rows).toHaveLength(10);
    expect(paid.rows.every((r) => r.status === 'paid')).toBe(true);

    const days = await listOrders(database.prisma, f({ from: '2031-02-27', to: '2031-02-28' }), { limit: 100 });
    expect(days.rows.map((r) => r.createdAt.toISOString().slice(0, 10)).sort()).toEqual(['2031-02-27', '2031-02-27', '2031-02-28', '2031-02-28']);

    const range = await listOrders(database.prisma, f({ min: '20', max: '25.00', sort: 'total_asc' }), { limit: 100 });
    expect(range.rows.map((r) => r.total)).toEqual([2000, 2100, 2200, 2300, 2400, 2500]);

    const desc = await listOrders(database.prisma, f({ sort: 'total_desc', status: 'refunded' }), { limit: 3 });
    expect(desc.rows.map((r) => r.total)).toEqual([6600, 6000, 5400]);
    const next = await listOrders(database.prisma, f({ sort: 'total_desc', status: 'refunded' }), { limit: 3, cursor: desc.nextCursor });
    expect(next.rows.map((r) => r.total)).toEqual([4800, 4200, 3600]);
  });

  it('searches by email, order id (whole or first characters) and PaymentIntent id', async () => {
    const vip = await listOrders(database.prisma, f({ q: ' VIP@example.com ' }), { limit: 100 });
    expect(vip.rows).toHaveLength(6);
    expect((await listOrders(database.prisma, f({ q: ids[13] }))).rows.map((r) => r.id)).toEqual([ids[13]]);
    expect((await listOrders(database.prisma, f({ q: ids[21].slice(0, 8) }))).rows.map((r) => r.id)).toContain(ids[21]);
    expect((await listOrders(database.prisma, f({ q: 'pi_test_42' }))).rows.map((r) => r.id)).toEqual([ids[42]]);
    expect((await listOrders(database.prisma, f({ q: 'pi_nope' }))).rows).toEqual([]);
    // An earlier attempt's PaymentIntent finds its order too.
    await database.prisma.paymentAttempt.create({ data: { orderId: ids[3], attemptNumber: 1, paymentIntentId: 'pi_earlier_3', idempotencyKey: 'k', amount: 1, currency: 'usd', status: 'canceled' } });
    expect((await listOrders(database.prisma, f({ q: 'pi_earlier_3' }))).rows.map((r) => r.id)).toEqual([ids[3]]);
    // Search and filters combine.
    expect((await listOrders(database.prisma, f({ q: 'vip@example.com', status: 'pending' }))).rows).toHaveLength(2);
  });

  it('treats % and _ in a search as themselves, not as wildcards', async () => {
    // `shopper%` and `shopper_` matched every shopperN@ (54 orders) before LIKE's wildcards were escaped.
    expect((await listOrders(database.prisma, f({ q: 'shopper%' }), { limit: 100 })).rows).toEqual([]);
    expect((await listOrders(database.prisma, f({ q: 'shopper_' }), { limit: 100 })).rows).toEqual([]);
    expect((await listOrders(database.prisma, f({ q: '%' }), { limit: 100 })).rows).toEqual([]);
    expect((await listOrders(database.prisma, f({ q: '_' }), { limit: 100 })).rows).toEqual([]);
    expect((await listOrders(database.prisma, f({ q: 'shopper\\' }), { limit: 100 })).rows).toEqual([]);
    const odd = randomUUID();
    await database.prisma.order.create({
      data: { id: odd, publicToken: randomBytes(24).toString('base64url'), email: 'a_b%c\\d@example.com', name: 'Odd', addressLine1: '1 Road', city: 'Town', postalCode: '1', country: 'US', currency: 'usd', subtotal: 1, total: 1, pricingHash: 'h', status: 'pending' },
    });
    expect((await listOrders(database.prisma, f({ q: 'a_b%c\\' }))).rows.map((r) => r.id)).toEqual([odd]);
    expect((await listOrders(database.prisma, f({ q: 'axb' }))).rows).toEqual([]);
    await database.prisma.order.delete({ where: { id: odd } });
  });

  it('streams a CSV with exactly the filtered rows, safe for spreadsheets', async () => {
    const text = await new Response(ordersCsvStream(database.prisma, f({ status: 'refunded' }))).text();
    const lines = text.trim().split('\r\n');
    expect(lines[0]).toBe('order_id,created_at,status,email,name,total,amount_refunded,currency,payment_intent,risk_level,review_status');
    expect(lines).toHaveLength(11);
    expect(lines.slice(1).every((l) => l.split(',')[2] === 'refunded')).toBe(true);
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('a,b')).toBe('"a,b"');
    const all = await new Response(ordersCsvStream(database.prisma, f({}))).text();
    expect(all.trim().split('\r\n')).toHaveLength(61);
  });
});
