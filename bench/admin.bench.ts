// Admin orders list at 100,000 orders: p95 server time of the first page, a filtered page and
// searches, through the same lib/admin/orders-query functions the pages call, on PGlite and on
// a fresh PostgreSQL database. Goal: p95 ≤ 150 ms.
//   npx tsx bench/admin.bench.ts [--quick]      (BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/test)
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrationFactory, openDatabase, type Database } from '../lib/db/client';
import { applyMigrations } from '../lib/db/migrate';
import { listOrders, parseOrderFilters, type OrderFilters } from '../lib/admin/orders-query';
import { isQuick, percentile, recordResults, type Row } from './lib/results';

const ORDERS = 100_000;
const BATCH = 10_000;
const RUNS = isQuick ? 30 : 100;
const GOAL_MS = 150;
const baseUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

/** 100,000 orders in batches of 10,000 (one INSERT … SELECT each): a year of orders, 20,000 customers. */
async function seed(database: Database): Promise<void> {
  const prisma = database.prisma;
  for (let start = 0; start < ORDERS; start += BATCH) {
    await prisma.$executeRawUnsafe(`
      INSERT INTO "Order" (id, "publicToken", email, name, "addressLine1", city, "postalCode", country, currency, subtotal, total, "pricingHash",
                           status, "attemptCount", "paymentIntentId", "amountPaid", "amountRefunded", "paidAt", "createdAt", "updatedAt")
      SELECT md5('order' || i)::uuid::text, md5('token' || i), 'shopper' || (i % 20000) || '@example.com', 'Shopper ' || i, '1 Bench Road', 'Town', '12345', 'US', 'usd',
             800 + (i * 7919) % 20000, 800 + (i * 7919) % 20000, 'h',
             (ARRAY['paid','paid','paid','pending','canceled','refunded','partially_refunded','processing'])[1 + i % 8]::"OrderStatus",
             1, 'pi_bench_' || i,
             CASE WHEN i % 8 IN (0,1,2,5,6) THEN 800 + (i * 7919) % 20000 ELSE 0 END,
             CASE WHEN i % 8 = 5 THEN 800 + (i * 7919) % 20000 WHEN i % 8 = 6 THEN 500 ELSE 0 END,
             CASE WHEN i % 8 IN (0,1,2,5,6) THEN now() - (i * interval '315 seconds') END,
             now() - (i * interval '315 seconds'), now()
      FROM generate_series(${start}, ${Math.min(start + BATCH, ORDERS) - 1}) AS i`);
  }
  await prisma.$executeRawUnsafe('ANALYZE "Order"');
}

function filters(params: Record<string, string>): OrderFilters {
  const r = parseOrderFilters(params);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.filters;
}

async function measure(database: Database): Promise<Row[]> {
  const prisma = database.prisma;
  const day = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10);
  const cases: [string, OrderFilters, () => string | null][] = [
    ['first page (newest 50)', filters({}), () => null],
    ['filtered: paid, last 60 days, $20–$150', filters({ status: 'paid', from: day(60), to: day(0), min: '20', max: '150' }), () => null],
    ['filtered: refunded, by amount desc', filters({ status: 'refunded', sort: 'total_desc' }), () => null],
    ['search: email', filters({ q: 'shopper4242@example.com' }), () => null],
    ['search: PaymentIntent id', filters({ q: 'pi_bench_77777' }), () => null],
    ['search: order id prefix', filters({ q: '' }), () => null],
  ];
  // An order id prefix that exists.
  const some = await prisma.order.findFirstOrThrow({ where: { paymentIntentId: 'pi_bench_31337' }, select: { id: true } });
  cases[5][1] = filters({ q: some.id.slice(0, 8) });
  // A deep page: the keyset cursor 1,000 pages in costs like the first.
  let deep: string | null = null;
  {
    const f = filters({});
    const row = await prisma.order.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], skip: 50_000, take: 1, select: { id: true, createdAt: true, total: true } });
    const { encodeCursor } = await import('../lib/admin/orders-query');
    deep = encodeCursor(f.sort, row[0]);
    cases.push(['page 1,001 (keyset)', f, () => deep]);
  }

  const rows: Row[] = [];
  for (const [name, f, cursor] of cases) {
    for (let i = 0; i < 3; i++) await listOrders(prisma, f, { cursor: cursor(), limit: 50 });
    const times: number[] = [];
    let count = 0;
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      const page = await listOrders(prisma, f, { cursor: cursor(), limit: 50 });
      times.push(performance.now() - t);
      count = page.rows.length;
    }
    times.sort((a, b) => a - b);
    const p95 = percentile(times, 95);
    rows.push({ database: database.kind, query: name, rows: count, 'p50 ms': percentile(times, 50).toFixed(1), 'p95 ms': p95.toFixed(1), goal: p95 <= GOAL_MS ? 'met' : 'MISSED' });
  }
  return rows;
}

async function withPglite(): Promise<Row[]> {
  const database = await openDatabase({ dataDir: 'memory://' });
  try {
    await applyMigrations(database.adapterFactory);
    const t = performance.now();
    await seed(database);
    console.log(`PGlite: seeded ${ORDERS} orders in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    return await measure(database);
  } finally {
    await database.close();
  }
}

async function withPostgres(): Promise<Row[]> {
  const name = `brisk_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  try {
    await admin.connect();
  } catch (err) {
    console.warn(`PostgreSQL not reachable at ${baseUrl}: ${(err as Error).message}; skipping`);
    return [];
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), poolMax: 4 });
  try {
    const m = migrationFactory(database);
    await applyMigrations(m.factory);
    await m.close();
    const t = performance.now();
    await seed(database);
    console.log(`PostgreSQL: seeded ${ORDERS} orders in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    return await measure(database);
  } finally {
    await database.close();
    const c = new pg.Client({ connectionString: baseUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  }
}

async function main(): Promise<void> {
  const rows = [...(await withPglite()), ...(await withPostgres())];
  recordResults({
    name: 'admin',
    title: 'Admin orders list at 100,000 orders',
    command: `npx tsx bench/admin.bench.ts${isQuick ? ' --quick' : ''}`,
    rows,
    notes: [
      `${ORDERS.toLocaleString('en-US')} orders seeded in batches of ${BATCH.toLocaleString('en-US')}; ${RUNS} timed runs per query after 3 warm-up runs; 50 rows per page.`,
      'Times are listOrders() (lib/admin/orders-query.ts), the function the /admin/orders page and the CSV export call; goal p95 ≤ 150 ms.',
      'PGlite is in-memory in this process; PostgreSQL is a fresh database on the local server, reached over TCP through @prisma/adapter-pg.',
    ],
  });
  if (rows.some((r) => r.goal !== 'met')) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
