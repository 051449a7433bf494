import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { sql as ksql } from 'kysely';
import { sqlDatabase, sqlOf, type Sql, type SqlDatabase } from './sql';

/** Rows of one statement written with Kysely's `sql` tag, on a connection or transaction. */
const q =
  (s: Sql) =>
  async <T = Record<string, unknown>>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]> =>
    (await ksql<T>(strings, ...values).execute(s.kysely)).rows;
/** Rows affected by one statement. */
const run =
  (s: Sql) =>
  async (strings: TemplateStringsArray, ...values: unknown[]): Promise<number> =>
    Number((await ksql(strings, ...values).execute(s.kysely)).numAffectedRows ?? 0);

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let sql: SqlDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
  sql = sqlDatabase(database.prisma);
});
afterAll(() => database?.drop());

// Millisecond precision (timestamp(3)), an hour before a New York DST change: a local-time
// reading or writing anywhere would move it.
const when = new Date('2026-03-08T06:59:58.123Z');
const cartExists = async (id: string) => (await database.prisma.cart.count({ where: { id } })) === 1;

describe(`sql (${testDbKind})`, () => {
  it('uses the direct driver of the database, serial transactions only on PGlite', () => {
    expect(sql.driver).toBe(testDbKind);
    expect(sql.serialTransactions).toBe(testDbKind === 'pglite');
    expect(sqlOf(database.prisma)).toBe(sql);
  });

  it('finds the direct driver from a second instance of this module, as a Next.js route bundle has', async () => {
    // Next builds instantiate lib/db/sql.ts once for instrumentation (which opens the database)
    // and again per route bundle; each must see the driver the first one registered.
    vi.resetModules();
    const second = await import('./sql');
    expect(second.sqlDatabase).not.toBe(sqlDatabase);
    expect(second.sqlDatabase(database.prisma)).toBe(sql);
    expect(second.sqlDatabase(database.prisma).driver).toBe(testDbKind);
    // A transaction handle made by one copy is recognised by the other.
    await sql.transaction(async (tx) => expect(second.sqlOf(tx)).toBe(tx));
  });

  it('sends values as parameters, never as SQL text', async () => {
    const evil = `x'); DROP TABLE "Cart"; --`;
    const rows = await q(sql)<{ v: string }>`SELECT ${evil}::text AS v`;
    expect(rows).toEqual([{ v: evil }]);
    const id = randomUUID();
    expect(await run(sql)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${id}, ${when}, ${when})`).toBe(1);
    expect(await q(sql)`SELECT id FROM "Cart" WHERE id = ${`${id}' OR '1'='1`}`).toEqual([]);
    expect(await cartExists(id)).toBe(true);
  });

  it('carries any text both ways byte for byte: multi-byte characters, empty, NULL, and values larger than one answer chunk', async () => {
    const odd = 'Zoë 🛒 “quoted” \\ back\'slash 東京';
    const big = `${'Größe ✓ '.repeat(40_000)}end`; // ~400 kB, more than PGlite answers in one chunk
    const rows = await q(sql)<{ odd: string; empty: string; nothing: string | null; big: string; len: number; arr: string[] }>`
      SELECT ${odd}::text AS odd, ${''}::text AS empty, ${null}::text AS nothing, ${big}::text AS big, length(${big}::text) AS len, ${[odd, '', 'x"y']}::text[] AS arr`;
    expect(rows).toEqual([{ odd, empty: '', nothing: null, big, len: big.length, arr: [odd, '', 'x"y'] }]);
    // And in rows of a table, in order, with the count of rows affected.
    const ids = [randomUUID(), randomUUID()];
    expect(await run(sql)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") SELECT unnest(${ids}::text[]), ${when}, ${when}`).toBe(2);
    expect((await q(sql)<{ id: string }>`SELECT id FROM "Cart" WHERE id = ANY(${ids}) ORDER BY id`).map((r) => r.id)).toEqual([...ids].sort());
  });

  it("reports PostgreSQL's error with its code, table and constraint, as pg does, and carries on", async () => {
    const id = randomUUID();
    await run(sql)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${id}, ${when}, ${when})`;
    const err = await run(sql)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${id}, ${when}, ${when})`.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: '23505', table: 'Cart', constraint: 'Cart_pkey', severity: 'ERROR', message: expect.stringMatching(/duplicate key/) });
    expect(String((err as { detail?: string }).detail)).toContain(id);
    const syntax = await q(sql)`SELECT FROM WHERE ${1}`.catch((e: unknown) => e);
    expect(syntax).toMatchObject({ code: '42601' });
    expect(await q(sql)`SELECT ${7}::int AS n`).toEqual([{ n: 7 }]);
  });

  it('returns timestamps as UTC Dates, json parsed and int8 as numbers on either driver', async () => {
    // Written by Prisma, read here.
    const a = await database.prisma.cart.create({ data: { createdAt: when } });
    const [ra] = await q(sql)<{ createdAt: Date; text: string }>`SELECT "createdAt", "createdAt"::text AS text FROM "Cart" WHERE id = ${a.id}`;
    expect(ra.createdAt).toBeInstanceOf(Date);
    expect(ra.createdAt.getTime()).toBe(when.getTime());
    expect(ra.text).toBe('2026-03-08 06:59:58.123');

    // Written here, read by Prisma.
    const id = randomUUID();
    await run(sql)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${id}, ${when}, ${when})`;
    const b = await database.prisma.cart.findUniqueOrThrow({ where: { id } });
    expect(b.createdAt.getTime()).toBe(when.getTime());
    expect(b.updatedAt.getTime()).toBe(when.getTime());
    const [rb] = await q(sql)<{ text: string }>`SELECT "createdAt"::text AS text FROM "Cart" WHERE id = ${id}`;
    expect(rb.text).toBe(when.toISOString().replace('T', ' ').replace('Z', ''));

    const [row] = await q(sql)`
      SELECT count(*) AS n, ${{ a: 1, b: [2, 'x'] }}::jsonb AS j, '{"c":null}'::json AS k,
             ${41}::int + 1 AS i, NULL::text AS nothing, ${undefined}::text AS undef, ${10n ** 15n}::int8 AS big
      FROM "Cart" WHERE id IN (${a.id}, ${id})`;
    // int8 (counts) read as numbers, unlike Prisma's bigint: the module's documented contract.
    expect(row).toEqual({ n: 2, j: { a: 1, b: [2, 'x'] }, k: { c: null }, i: 42, nothing: null, undef: null, big: 10 ** 15 });
  });

  it('splices sql pieces in, numbering their parameters in order', async () => {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const [n, id] of ids.entries()) {
      const at = new Date(when.getTime() + n * 1000);
      await run(sql)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${id}, ${at}, ${at})`;
    }
    const window = ksql`"createdAt" > ${when} AND "createdAt" < ${new Date(when.getTime() + 2000)}`;
    const rows = await q(sql)<{ id: string; tag: string }>`
      SELECT id, ${'tag'}::text AS tag FROM "Cart" WHERE id = ANY(${ids}) AND ${window} AND id <> ${ids[0]}`;
    expect(rows).toEqual([{ id: ids[1], tag: 'tag' }]);
    // Nested, and the same fragment used twice.
    const one = ksql`id = ${ids[2]}`;
    const either = ksql`(${one} OR id = ${ids[0]})`;
    const both = await q(sql)<{ id: string }>`SELECT id FROM "Cart" WHERE ${either} AND ${one}`;
    expect(both).toEqual([{ id: ids[2] }]);
  });

  it('rolls a throwing transaction back entirely and rethrows its error', async () => {
    const [x, y] = [randomUUID(), randomUUID()];
    const boom = new Error('boom');
    await expect(
      sql.transaction(async (tx) => {
        await run(tx)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${x}, ${when}, ${when})`;
        await run(tx)`UPDATE "Cart" SET "updatedAt" = ${when} WHERE id = ${x}`;
        await run(tx)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${y}, ${when}, ${when})`;
        expect(await q(tx)`SELECT id FROM "Cart" WHERE id IN (${x}, ${y})`).toHaveLength(2);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await q(sql)`SELECT id FROM "Cart" WHERE id IN (${x}, ${y})`).toEqual([]);

    const result = await sql.transaction(async (tx) => {
      await run(tx)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${x}, ${when}, ${when})`;
      return 'done';
    });
    expect(result).toBe('done');
    expect(await cartExists(x)).toBe(true);
  });

  it('never runs a statement from outside inside another caller’s open transaction', async () => {
    // On PGlite (one session) a statement started while a transaction is open must wait for it:
    // run in between, it would be rolled back with it and see its uncommitted rows.
    const [inside, outside] = [randomUUID(), randomUUID()];
    let opened!: () => void;
    const isOpen = new Promise<void>((r) => (opened = r));
    let seenFromOutside: unknown[] | undefined;
    const tx = sql.transaction(async (t) => {
      await run(t)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${inside}, ${when}, ${when})`;
      opened();
      await new Promise((r) => setTimeout(r, 50));
      throw new Error('rolled back');
    });
    await isOpen;
    const plain = (async () => {
      seenFromOutside = await q(sql)`SELECT id FROM "Cart" WHERE id = ${inside}`;
      await run(sql)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${outside}, ${when}, ${when})`;
    })();
    await expect(tx).rejects.toThrow('rolled back');
    await plain;
    expect(seenFromOutside).toEqual([]);
    expect(await cartExists(outside)).toBe(true);
    expect(await cartExists(inside)).toBe(false);
  });

  it('runs statements started together in a transaction in the order started: a read after a lock sees the row once the lock is granted', async () => {
    const id = randomUUID();
    await run(sql)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${id}, ${when}, ${when})`;
    const later = new Date(when.getTime() + 60_000);
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    // Another caller holds the row's lock, then moves it on and commits (on PGlite, transactions
    // take turns: the second simply runs after it).
    const holder = sql.transaction(async (t) => {
      await q(t)`SELECT id FROM "Cart" WHERE id = ${id} FOR UPDATE`;
      locked();
      await new Promise((r) => setTimeout(r, 100));
      await run(t)`UPDATE "Cart" SET "updatedAt" = ${later} WHERE id = ${id}`;
    });
    await isLocked;
    const seen = await sql.transaction(async (tx) => {
      const lock = q(tx)`SELECT id FROM "Cart" WHERE id = ${id} FOR UPDATE`;
      const read = q(tx)<{ updatedAt: Date }>`SELECT "updatedAt" FROM "Cart" WHERE id = ${id}`;
      const builder = tx.kysely.selectFrom('Cart').select('updatedAt').where('id', '=', id).execute();
      const [, rows, built] = await Promise.all([lock, read, builder]);
      return [rows[0].updatedAt, built[0].updatedAt];
    });
    await holder;
    expect(seen).toEqual([later, later]);
  });

  it.runIf(testDbKind === 'postgres')('pipelines statements started together in a transaction: all are sent before the first answers', async () => {
    const events: string[] = [];
    const query = pg.Client.prototype.query;
    const spy = vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
      const n = events.filter((e) => e.startsWith('sent')).length;
      events.push(`sent ${n}`);
      const p = (query as (...a: unknown[]) => unknown).apply(this, args);
      if (p instanceof Promise) void p.then(() => events.push(`answered ${n}`)).catch(() => undefined);
      return p as never;
    });
    try {
      await sql.transaction(async (tx) => {
        events.length = 0;
        await Promise.all([q(tx)`SELECT 1 AS a`, q(tx)`SELECT 2 AS b`, tx.kysely.selectFrom('Cart').select('id').limit(1).execute()]);
      });
    } finally {
      spy.mockRestore();
    }
    // BEGIN went out before the function ran; then the three, then COMMIT.
    expect(events.slice(0, 3)).toEqual(['sent 0', 'sent 1', 'sent 2']);
  });

  it('rolls back on a SQL error and keeps every connection usable after many failures', async () => {
    const taken = randomUUID();
    await run(sql)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${taken}, ${when}, ${when})`;
    const fresh: string[] = [];
    // More failures than the pool (5 connections in tests) holds: each must give its connection back.
    for (let i = 0; i < 20; i++) {
      const id = randomUUID();
      fresh.push(id);
      const failing = sql.transaction(async (tx) => {
        await run(tx)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${id}, ${when}, ${when})`;
        if (i % 2) throw new Error(`failure ${i}`);
        await run(tx)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${taken}, ${when}, ${when})`;
      });
      await expect(failing).rejects.toThrow(i % 2 ? `failure ${i}` : /unique|duplicate/i);
    }
    expect(await q(sql)`SELECT id FROM "Cart" WHERE id = ANY(${fresh})`).toEqual([]);
    expect(await sql.transaction((tx) => q(tx)`SELECT ${1}::int AS one`)).toEqual([{ one: 1 }]);
    expect(await database.prisma.cart.count({ where: { id: { in: [taken, ...fresh] } } })).toBe(1);
  });

  it('keeps working, and leaves no prepared statement behind, when a value is refused after its statement was prepared', async () => {
    const prepared = async () => Number((await q(sql)<{ n: number }>`SELECT count(*) AS n FROM pg_prepared_statements`)[0].n);
    const before = await prepared();
    for (let i = 0; i < 3; i++) await expect(q(sql)`SELECT ${'not a number'}::int + 1 AS n`).rejects.toThrow(/invalid input syntax/);
    expect(await q(sql)`SELECT ${'41'}::int + 1 AS n`).toEqual([{ n: 42 }]);
    // PGlite has one session, so its count is exact (the count query and the good one: 2 more).
    if (sql.driver === 'pglite') expect(await prepared()).toBe(before + 1);
  });

  it.runIf(testDbKind === 'postgres')('recovers when a migration changes a table under its prepared statements', async () => {
    await run(sql)`CREATE TABLE stale_shape (a int)`;
    await run(sql)`INSERT INTO stale_shape VALUES (1)`;
    const read = () => q(sql)<{ a: number; b?: number }>`SELECT * FROM stale_shape`;
    // Prepared on every connection of the pool (5 here).
    await Promise.all(Array.from({ length: 8 }, read));
    await run(sql)`ALTER TABLE stale_shape ADD COLUMN b int DEFAULT 2`;
    // Each connection fails at most once, then is replaced by one that prepares afresh.
    let failures = 0;
    for (let i = 0; i < 12; i++) await read().catch(() => failures++);
    expect(failures).toBeLessThanOrEqual(5);
    expect(await read()).toEqual([{ a: 1, b: 2 }]);
    expect(await sql.transaction((tx) => q(tx)`SELECT * FROM stale_shape`)).toEqual([{ a: 1, b: 2 }]);
  });

  it('runs inside a Prisma transaction when given its client', async () => {
    const [x, y] = [randomUUID(), randomUUID()];
    const boom = new Error('rollback');
    await expect(
      database.prisma.$transaction(async (tx) => {
        await tx.cart.create({ data: { id: x } });
        const s = sqlOf(tx);
        await run(s)`INSERT INTO "Cart"(id, "createdAt", "updatedAt") VALUES (${y}, ${when}, ${when})`;
        // It sees the transaction's own uncommitted row.
        expect(await q(s)`SELECT id FROM "Cart" WHERE id = ${x}`).toEqual([{ id: x }]);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await q(sql)`SELECT id FROM "Cart" WHERE id IN (${x}, ${y})`).toEqual([]);
  });
});
