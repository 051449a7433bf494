import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { testDbKind } from '@/tests/helpers/db';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import { prismaTxKysely, type Db } from './query';

const database = databaseForThisFile();
let db: Db;
beforeAll(() => {
  db = database.db;
});

// Millisecond precision (timestamp(3)), an hour before a New York DST change: a local-time
// reading or writing anywhere would move it.
const when = new Date('2026-03-08T06:59:58.123Z');
const cartExists = async (id: string) => (await database.prisma.cart.count({ where: { id } })) === 1;
const insertCart = (q: Db, id: string) => q.insertInto('Cart').values({ id, createdAt: when, updatedAt: when }).execute();

describe(`typed SQL (Kysely, ${testDbKind})`, () => {
  it('builds statements from the schema’s types and sends values as parameters, never as SQL text', async () => {
    const id = randomUUID();
    const [inserted] = await insertCart(db, id);
    expect(inserted.numInsertedOrUpdatedRows).toBe(1n);
    const evil = `${id}' OR '1'='1`;
    expect(await db.selectFrom('Cart').select('id').where('id', '=', evil).execute()).toEqual([]);
    const { rows } = await sql<{ v: string }>`SELECT ${`x'); DROP TABLE "Cart"; --`}::text AS v`.execute(db);
    expect(rows).toEqual([{ v: `x'); DROP TABLE "Cart"; --` }]);
    expect(await cartExists(id)).toBe(true);
  });

  it('carries any text both ways byte for byte, and values larger than one answer chunk', async () => {
    const odd = 'Zoë 🛒 “quoted” \\ back\'slash 東京';
    const big = `${'Größe ✓ '.repeat(40_000)}end`;
    const { rows } = await sql<{ odd: string; empty: string; nothing: null; big: string; arr: string[] }>`
      SELECT ${odd}::text AS odd, ${''}::text AS empty, ${null}::text AS nothing, ${big}::text AS big, ${[odd, '', 'x"y']}::text[] AS arr`.execute(db);
    expect(rows).toEqual([{ odd, empty: '', nothing: null, big, arr: [odd, '', 'x"y'] }]);
  });

  it('returns timestamps as UTC Dates, json parsed and int8 as numbers, alike for rows Prisma wrote', async () => {
    const a = await database.prisma.cart.create({ data: { createdAt: when } });
    const row = await db.selectFrom('Cart').select(['createdAt', sql<string>`"createdAt"::text`.as('text')]).where('id', '=', a.id).executeTakeFirstOrThrow();
    expect(row.createdAt).toBeInstanceOf(Date);
    expect(row.createdAt.getTime()).toBe(when.getTime());
    expect(row.text).toBe('2026-03-08 06:59:58.123');

    const id = randomUUID();
    await insertCart(db, id);
    expect((await database.prisma.cart.findUniqueOrThrow({ where: { id } })).createdAt.getTime()).toBe(when.getTime());

    const counted = await db.selectFrom('Cart').select((eb) => eb.fn.countAll<number>().as('n')).where('id', 'in', [a.id, id]).executeTakeFirstOrThrow();
    expect(counted).toEqual({ n: 2 });
    const { rows } = await sql`SELECT ${JSON.stringify({ a: 1, b: [2, 'x'] })}::jsonb AS j, ${41}::int + 1 AS i, ${10n ** 15n}::int8 AS big, true AS yes`.execute(db);
    expect(rows).toEqual([{ j: { a: 1, b: [2, 'x'] }, i: 42, big: 10 ** 15, yes: true }]);
  });

  it('counts the rows an update or delete changed', async () => {
    const ids = [randomUUID(), randomUUID()];
    for (const id of ids) await insertCart(db, id);
    const updated = await db.updateTable('Cart').set({ updatedAt: new Date() }).where('id', 'in', ids).executeTakeFirst();
    expect(updated.numUpdatedRows).toBe(2n);
    const deleted = await db.deleteFrom('Cart').where('id', '=', ids[0]).executeTakeFirst();
    expect(deleted.numDeletedRows).toBe(1n);
  });

  it("reports PostgreSQL's error with its code and constraint, and carries on", async () => {
    const id = randomUUID();
    await insertCart(db, id);
    const err = await insertCart(db, id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: '23505', constraint: 'Cart_pkey', message: expect.stringMatching(/duplicate key/) });
    await expect(sql`SELECT ${'not a number'}::int`.execute(db)).rejects.toMatchObject({ code: '22P02' });
    expect((await sql<{ n: number }>`SELECT ${7}::int AS n`.execute(db)).rows).toEqual([{ n: 7 }]);
  });

  it('rolls a throwing transaction back entirely and rethrows its error; commits one that returns', async () => {
    const [x, y] = [randomUUID(), randomUUID()];
    const boom = new Error('boom');
    await expect(
      db.transaction().execute(async (tx) => {
        await insertCart(tx, x);
        // Statements started together take turns on the one connection.
        await Promise.all([insertCart(tx, y), tx.updateTable('Cart').set({ updatedAt: when }).where('id', '=', x).execute()]);
        expect(await tx.selectFrom('Cart').select('id').where('id', 'in', [x, y]).execute()).toHaveLength(2);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await db.selectFrom('Cart').select('id').where('id', 'in', [x, y]).execute()).toEqual([]);
    expect(await db.transaction().execute(async (tx) => (await insertCart(tx, x), 'done'))).toBe('done');
    expect(await cartExists(x)).toBe(true);
  });

  it('never runs a statement from outside inside another caller’s open transaction', async () => {
    const [inside, outside, prismaSide] = [randomUUID(), randomUUID(), randomUUID()];
    let opened!: () => void;
    const isOpen = new Promise<void>((r) => (opened = r));
    let seenFromOutside: unknown[] | undefined;
    let seenByPrisma: number | undefined;
    const tx = db.transaction().execute(async (t) => {
      await insertCart(t, inside);
      opened();
      await new Promise((r) => setTimeout(r, 50));
      throw new Error('rolled back');
    });
    await isOpen;
    const plain = (async () => {
      seenFromOutside = await db.selectFrom('Cart').select('id').where('id', '=', inside).execute();
      await insertCart(db, outside);
    })();
    const viaPrisma = (async () => {
      seenByPrisma = await database.prisma.cart.count({ where: { id: inside } });
      await database.prisma.cart.create({ data: { id: prismaSide } });
    })();
    await expect(tx).rejects.toThrow('rolled back');
    await Promise.all([plain, viaPrisma]);
    expect(seenFromOutside).toEqual([]);
    expect(seenByPrisma).toBe(0);
    expect(await cartExists(outside)).toBe(true);
    expect(await cartExists(prismaSide)).toBe(true);
    expect(await cartExists(inside)).toBe(false);
  });

  it('keeps every connection usable after many failed transactions, and leaves no prepared statement behind', async () => {
    const taken = randomUUID();
    await insertCart(db, taken);
    const fresh: string[] = [];
    for (let i = 0; i < 20; i++) {
      const id = randomUUID();
      fresh.push(id);
      const failing = db.transaction().execute(async (tx) => {
        await insertCart(tx, id);
        if (i % 2) throw new Error(`failure ${i}`);
        await insertCart(tx, taken);
      });
      await expect(failing).rejects.toThrow(i % 2 ? `failure ${i}` : /unique|duplicate/i);
    }
    expect(await db.selectFrom('Cart').select('id').where('id', 'in', fresh).execute()).toEqual([]);
    const prepared = async () => (await sql<{ n: number }>`SELECT count(*) AS n FROM pg_prepared_statements`.execute(db)).rows[0].n;
    const before = await prepared();
    for (let i = 0; i < 3; i++) await expect(sql`SELECT ${'nope'}::int + 1 AS n`.execute(db)).rejects.toThrow(/invalid input syntax/);
    expect((await sql`SELECT ${'41'}::int + 1 AS n`.execute(db)).rows).toEqual([{ n: 42 }]);
    // PGlite has one session, so its count is exact (the good statement: 1 more).
    if (testDbKind === 'pglite') expect(await prepared()).toBe(before + 1);
  });

  it('inside a Prisma transaction, runs through that transaction: its writes commit or roll back with it', async () => {
    const kept = randomUUID();
    const dropped = randomUUID();
    await database.prisma.$transaction(async (tx) => {
      const k = prismaTxKysely(tx);
      await insertCart(k, kept);
      // Seen inside, by Prisma and by Kysely alike.
      expect(await tx.cart.count({ where: { id: kept } })).toBe(1);
      const updated = await k.updateTable('Cart').set({ updatedAt: when }).where('id', '=', kept).executeTakeFirst();
      expect(updated.numUpdatedRows).toBe(1n);
    });
    expect(await cartExists(kept)).toBe(true);
    await expect(
      database.prisma.$transaction(async (tx) => {
        await insertCart(prismaTxKysely(tx), dropped);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await cartExists(dropped)).toBe(false);
    // Its rows come back as Prisma reads them: timestamps as Dates.
    const [row] = await database.prisma.$transaction((tx) => prismaTxKysely(tx).selectFrom('Cart').select(['id', 'createdAt']).where('id', '=', kept).execute());
    expect(row).toEqual({ id: kept, createdAt: when });
  });
});
