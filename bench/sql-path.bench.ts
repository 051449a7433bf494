// The typed SQL path (issue #18) against the direct path it replaces, statement by statement,
// in one process, on both databases: what moving the hand-written statements to Kysely costs.
//
//   npx tsx bench/sql-path.bench.ts [--quick] [--db pglite|postgres]
//
// Paths compared on the same database, interleaved round by round (so drift on a shared machine
// falls on all alike):
//  - direct: statement text with $n parameters sent as it is (CompiledQuery.raw) on the same
//    drivers: what lib/db/sql.ts's tagged templates sent until they were removed (2026-12-07;
//    before that day they ran on wire messages of our own through PGlite's private transaction
//    lock, figures in bench/RESULTS.md), so this compares Kysely's builder and tag against no
//    query building at all;
//  - kysely: lib/db/query.ts (Kysely; named prepared statements; on PGlite, pg-protocol's codec
//    through PGlite's public execProtocolRawStream inside its public transaction());
//  - unprepared (reference): PGlite's own query() / pg's unnamed statements, which is what the
//    maintained off-the-shelf dialects (kysely-pglite-dialect, Kysely's PostgresDialect) send.
// Workloads: a lone primary-key read; a transaction of four statements (lock, update, insert,
// read back) as an order change is; the risk signals' three-branch CTE (lib/risk/score.ts), lone;
// a transaction whose lock and read are started together (Promise.all), as the checkout's and
// the webhook's are — the tagged templates' transaction (on PostgreSQL pipelined, one round trip)
// against Kysely's own transaction() (one statement at a time); and, without a database, what
// making a statement costs: the builder's compile() against CompiledQuery.raw of the same text
// (the tagged templates' path), the per-statement price of moving them to the builder.
// Leaves out: HTTP, Next.js, Prisma (unchanged by this), concurrency between callers.
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { CompiledQuery, sql as ksql } from 'kysely';
import pg from 'pg';
import { migrationFactory, openDatabase, type Database } from '@/lib/db/client';
import { applyMigrations } from '@/lib/db/migrate';
import { sqlDatabase, type Sql } from '@/lib/db/sql';
import { createDatabase, dropDatabase } from './lib/app-process';
import { describeProbes, probeMachine } from './lib/probe';
import { isQuick, percentile, recordResults, type Row } from './lib/results';

const ROUNDS = isQuick ? 5 : 20;
const PER_ROUND = isQuick ? 100 : 200;
const dbArg = process.argv.includes('--db') ? process.argv[process.argv.indexOf('--db') + 1] : undefined;
const kinds = (dbArg ? [dbArg] : ['pglite', 'postgres']) as ('pglite' | 'postgres')[];

type Op = () => Promise<unknown>;
interface Workload {
  name: string;
  paths: Record<string, Op>;
}

async function open(kind: 'pglite' | 'postgres'): Promise<{ database: Database; drop: () => Promise<void>; pool?: pg.Pool }> {
  if (kind === 'pglite') {
    const database = await openDatabase({ dataDir: 'memory://' });
    await applyMigrations(database.adapterFactory);
    return { database, drop: () => database.close() };
  }
  const created = await createDatabase(process.env.BENCH_DB_PREFIX || 'brisk_sqlpath');
  const database = await openDatabase({ url: created.url, poolMax: 4 });
  const m = migrationFactory(database);
  await applyMigrations(m.factory);
  await m.close();
  const pool = new pg.Pool({ connectionString: created.url, max: 4 });
  return {
    database,
    pool,
    drop: async () => {
      await pool.end();
      await database.close();
      await dropDatabase(created.name);
    },
  };
}

/** Statement text with $n parameters, sent as it is: what the removed tagged templates did. */
function tagged(s: Sql) {
  const compile = (strings: TemplateStringsArray, values: unknown[]) => CompiledQuery.raw(strings.reduce((text, part, i) => `${text}$${i}${part}`), values);
  return {
    query: async (strings: TemplateStringsArray, ...values: unknown[]) => (await s.kysely.executeQuery(compile(strings, values))).rows,
    execute: async (strings: TemplateStringsArray, ...values: unknown[]) => Number((await s.kysely.executeQuery(compile(strings, values))).numAffectedRows ?? 0),
  };
}

function workloads(d: Database, pool: pg.Pool | undefined, productId: string, orderId: string): Workload[] {
  const direct = sqlDatabase(d.prisma);
  const db = d.db;
  const unprepared = (text: string, params: unknown[]) => (d.pglite ? d.pglite.query(text, params) : pool!.query(text, params));
  const unpreparedTx = async (fn: (q: (text: string, params: unknown[]) => Promise<unknown>) => Promise<void>) => {
    if (d.pglite) return d.pglite.transaction((tx) => fn((t, p) => tx.query(t, p)));
    const c = await pool!.connect();
    try {
      await c.query('BEGIN');
      await fn((t, p) => c.query(t, p));
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  };
  const now = () => new Date();
  const subject = { email: 'bench@example.com', addressLine1: '1 Bench Street', postalCode: '12345' };
  const since = new Date(Date.now() - 86_400_000);
  const signalsText = (p: (n: number) => string) => `
    WITH a AS (
      SELECT a.id, a."declineCode" IS NOT NULL AS declined FROM (SELECT id FROM "Order" WHERE email = ${p(1)} ORDER BY "createdAt" DESC LIMIT 100) o
      CROSS JOIN LATERAL (SELECT * FROM "PaymentAttempt" pa WHERE pa."orderId" = o.id ORDER BY pa."attemptNumber" DESC LIMIT 20) a WHERE a."createdAt" >= ${p(4)}
      UNION
      SELECT a.id, a."declineCode" IS NOT NULL FROM (SELECT id FROM "Order" WHERE "addressLine1" = ${p(2)} AND "postalCode" = ${p(3)} ORDER BY "createdAt" DESC LIMIT 100) o
      CROSS JOIN LATERAL (SELECT * FROM "PaymentAttempt" pa WHERE pa."orderId" = o.id ORDER BY pa."attemptNumber" DESC LIMIT 20) a WHERE a."createdAt" >= ${p(4)}
    )
    SELECT count(*) AS n, count(*) FILTER (WHERE declined) AS declined FROM a`;
  const params = [subject.email, subject.addressLine1, subject.postalCode, since];
  const lockText = 'SELECT id FROM "Order" WHERE id = $1 FOR UPDATE';
  const readText = 'SELECT "status", "total", "updatedAt" FROM "Order" WHERE id = $1';
  // The same CTE as a tagged template, for both template tags (lib/db/sql.ts's and Kysely's).
  const signals = <R>(tag: (strings: TemplateStringsArray, ...values: unknown[]) => R): R => tag`
    WITH a AS (
      SELECT a.id, a."declineCode" IS NOT NULL AS declined FROM (SELECT id FROM "Order" WHERE email = ${subject.email} ORDER BY "createdAt" DESC LIMIT 100) o
      CROSS JOIN LATERAL (SELECT * FROM "PaymentAttempt" pa WHERE pa."orderId" = o.id ORDER BY pa."attemptNumber" DESC LIMIT 20) a WHERE a."createdAt" >= ${since}
      UNION
      SELECT a.id, a."declineCode" IS NOT NULL FROM (SELECT id FROM "Order" WHERE "addressLine1" = ${subject.addressLine1} AND "postalCode" = ${subject.postalCode} ORDER BY "createdAt" DESC LIMIT 100) o
      CROSS JOIN LATERAL (SELECT * FROM "PaymentAttempt" pa WHERE pa."orderId" = o.id ORDER BY pa."attemptNumber" DESC LIMIT 20) a WHERE a."createdAt" >= ${since}
    )
    SELECT count(*) AS n, count(*) FILTER (WHERE declined) AS declined FROM a`;
  return [
    {
      name: 'compile only, no database: a lock and a read (two statements)',
      paths: {
        direct: async () => [CompiledQuery.raw(lockText, [orderId]), CompiledQuery.raw(readText, [orderId])],
        kysely: async () => [
          db.selectFrom('Order').select('id').where('id', '=', orderId).forUpdate().compile(),
          db.selectFrom('Order').select(['status', 'total', 'updatedAt']).where('id', '=', orderId).compile(),
        ],
      },
    },
    {
      name: 'transaction, lock and read started together (Promise.all)',
      paths: {
        direct: () =>
          direct.transaction(async (tx) => {
            await Promise.all([tagged(tx).query`SELECT id FROM "Order" WHERE id = ${orderId} FOR UPDATE`, tagged(tx).query`SELECT "status", "total", "updatedAt" FROM "Order" WHERE id = ${orderId}`]);
          }),
        kysely: () =>
          db.transaction().execute(async (tx) => {
            await Promise.all([
              tx.selectFrom('Order').select('id').where('id', '=', orderId).forUpdate().execute(),
              tx.selectFrom('Order').select(['status', 'total', 'updatedAt']).where('id', '=', orderId).execute(),
            ]);
          }),
      },
    },
    {
      name: 'lone primary-key read',
      paths: {
        direct: () => tagged(direct).query`SELECT id, stock FROM "Product" WHERE id = ${productId}`,
        kysely: () => db.selectFrom('Product').select(['id', 'stock']).where('id', '=', productId).execute(),
        unprepared: () => unprepared('SELECT id, stock FROM "Product" WHERE id = $1', [productId]),
      },
    },
    {
      name: 'transaction of 4 (lock, update, insert, read)',
      paths: {
        direct: () =>
          direct.transaction(async (tx) => {
            await tagged(tx).query`SELECT id FROM "Order" WHERE id = ${orderId} FOR UPDATE`;
            await tagged(tx).execute`UPDATE "Order" SET "updatedAt" = ${now()} WHERE id = ${orderId}`;
            await tagged(tx).execute`INSERT INTO "OrderEvent"(id, "orderId", kind, source, "createdAt") VALUES (${randomUUID()}, ${orderId}, 'bench', 'bench', ${now()})`;
            await tagged(tx).query`SELECT status, total FROM "Order" WHERE id = ${orderId}`;
          }),
        kysely: () =>
          db.transaction().execute(async (tx) => {
            await tx.selectFrom('Order').select('id').where('id', '=', orderId).forUpdate().execute();
            await tx.updateTable('Order').set({ updatedAt: now() }).where('id', '=', orderId).execute();
            await tx.insertInto('OrderEvent').values({ id: randomUUID(), orderId, kind: 'bench', source: 'bench', createdAt: now() }).execute();
            await tx.selectFrom('Order').select(['status', 'total']).where('id', '=', orderId).execute();
          }),
        unprepared: () =>
          unpreparedTx(async (q) => {
            await q('SELECT id FROM "Order" WHERE id = $1 FOR UPDATE', [orderId]);
            await q('UPDATE "Order" SET "updatedAt" = $1 WHERE id = $2', [now().toISOString(), orderId]);
            await q(`INSERT INTO "OrderEvent"(id, "orderId", kind, source, "createdAt") VALUES ($1, $2, 'bench', 'bench', $3)`, [randomUUID(), orderId, now().toISOString()]);
            await q('SELECT status, total FROM "Order" WHERE id = $1', [orderId]);
          }),
      },
    },
    {
      name: 'risk signals CTE, lone',
      paths: {
        direct: () => signals(tagged(direct).query),
        kysely: () => signals(ksql).execute(db),
        unprepared: () => unprepared(signalsText((n) => `$${n}`), params.map((v) => (v instanceof Date ? v.toISOString() : v))),
      },
    },
  ];
}

async function runKind(kind: 'pglite' | 'postgres'): Promise<Row[]> {
  const { database, drop, pool } = await open(kind);
  try {
    const product = await database.prisma.product.create({ data: { slug: `bench-${randomUUID()}`, name: 'Bench', description: 'x', price: 1000, image: '/x.png', stock: 10 } });
    const order = await database.prisma.order.create({
      data: { publicToken: randomUUID(), email: 'bench@example.com', name: 'B', addressLine1: '1 Bench Street', city: 'B', postalCode: '12345', country: 'US', currency: 'usd', subtotal: 1000, total: 1000, pricingHash: 'x' },
    });
    const rows: Row[] = [];
    for (const w of workloads(database, pool, product.id, order.id)) {
      const times = new Map<string, number[]>(Object.keys(w.paths).map((p) => [p, []]));
      // Warm-up: prepare, JIT.
      for (const op of Object.values(w.paths)) for (let i = 0; i < 20; i++) await op();
      for (let r = 0; r < ROUNDS; r++) {
        for (const [name, op] of Object.entries(w.paths)) {
          const t0 = performance.now();
          for (let i = 0; i < PER_ROUND; i++) await op();
          times.get(name)!.push((performance.now() - t0) / PER_ROUND);
        }
      }
      const med = (name: string) => percentile([...times.get(name)!].sort((a, b) => a - b), 50);
      const base = med('direct');
      for (const name of Object.keys(w.paths)) {
        const m = med(name);
        rows.push({
          database: kind,
          workload: w.name,
          path:
            name === 'direct'
              ? w.name.startsWith('compile') ? 'CompiledQuery.raw (what the tagged templates hand Kysely)' : w.name.startsWith('transaction, lock') ? "tagged templates' transaction (lib/db/sql.ts)" : 'tagged templates (lib/db/sql.ts)'
              : name === 'kysely'
                ? w.name.startsWith('compile') ? "Kysely's builder, compile()" : w.name.startsWith('transaction, lock') ? "Kysely's transaction() (lib/db/query.ts)" : 'Kysely (lib/db/query.ts)'
                : 'unprepared (PGlite query() / pg unnamed; reference)',
          'ms per operation (median of rounds)': m.toFixed(3),
          'vs direct': name === 'direct' ? '1.00×' : `${(m / base).toFixed(2)}×`,
        });
      }
      console.log(`${kind}: ${w.name}: ${Object.keys(w.paths).map((n) => `${n} ${med(n).toFixed(3)} ms`).join(', ')}`);
    }
    return rows;
  } finally {
    await drop();
  }
}

const load = loadavg()[0];
const before = probeMachine();
const rows: Row[] = [];
for (const kind of kinds) rows.push(...(await runKind(kind)));
const after = probeMachine();
recordResults({
  name: 'sql-path',
  title: 'Hand-written SQL: the typed path (Kysely) against the direct path it replaces',
  command: `npx tsx bench/sql-path.bench.ts${isQuick ? ' --quick' : ''}${dbArg ? ` --db ${dbArg}` : ''}`,
  rows,
  notes: [
    `One process, one caller at a time, ${ROUNDS} rounds × ${PER_ROUND} operations per path, the paths interleaved round by round; the median round. "vs direct" is the ratio to the direct path in the same run.`,
    'Leaves out HTTP, Next.js and Prisma (unchanged), and callers running side by side (on PostgreSQL the pool pipelines those).',
    `Load average when the run began: ${load.toFixed(1)} (2 cores, shared). ${describeProbes(before, after)}`,
  ],
});
process.exit(0);
