import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { testDbKind } from '@/tests/helpers/db';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import { prismaTxKysely } from './query';
import { sqlDatabase, type SqlDatabase } from './sql';
import { statement } from './statement';

const database = databaseForThisFile();
let db: SqlDatabase;
beforeAll(() => {
  db = sqlDatabase(database.prisma);
});

const when = new Date('2026-03-08T06:59:58.123Z');
const insertCart = statement((db, p: { id: string; at: Date }) => db.insertInto('Cart').values({ id: p.id, createdAt: p.at, updatedAt: p.at }));
// A constant ('pending', 'processing') beside parameters, and one parameter used twice.
const cartsLike = statement((db, p: { a: string; b: string | null }) =>
  db
    .selectFrom('Cart')
    .select(['id', sql<boolean>`${p.b}::text IS NULL`.as('noB'), sql<string[]>`ARRAY['pending', 'processing']`.as('constants')])
    .where((eb) => eb.or([eb('id', '=', p.a), eb('id', '=', sql<string>`${p.b}::text`)]))
    .orderBy('id'),
);

describe(`statements compiled once (${testDbKind})`, () => {
  it('binds each call’s own values to the one compiled text, on the database, a transaction and a Prisma transaction', async () => {
    const [x, y] = [randomUUID(), randomUUID()].sort();
    expect((await insertCart(db, { id: x, at: when })).numAffectedRows).toBe(1n);
    await db.transaction((tx) => insertCart(tx, { id: y, at: when }));
    expect((await cartsLike(db, { a: x, b: null })).rows).toEqual([{ id: x, noB: true, constants: ['pending', 'processing'] }]);
    expect((await cartsLike(db, { a: x, b: y })).rows.map((r) => r.id)).toEqual([x, y]);
    const inPrisma = await database.prisma.$transaction(async (tx) => (await cartsLike({ kysely: prismaTxKysely(tx) } as never, { a: y, b: null })).rows);
    expect(inPrisma.map((r) => r.id)).toEqual([y]);
    const row = await database.prisma.cart.findUniqueOrThrow({ where: { id: x } });
    expect(row.createdAt.toISOString()).toBe(when.toISOString());
  });

  it('sends values as parameters, never as SQL text', async () => {
    const evil = `${randomUUID()}' OR '1'='1`;
    expect((await cartsLike(db, { a: evil, b: evil })).rows).toEqual([]);
  });

  it('refuses a parameter that would shape the statement instead of being one of its values', async () => {
    const asText = statement((db, p: { id: string }) => db.selectFrom('Cart').select('id').where('id', '=', `cart-${p.id}`));
    await expect(asText(db, { id: 'x' })).rejects.toThrow(/parameter "id" was used as/);
    const asShape = statement((db, p: { ids: string[] }) => db.selectFrom('Cart').select('id').where('id', 'in', p.ids.length ? p.ids : ['none']));
    await expect(asShape(db, { ids: ['x'] })).rejects.toThrow(/parameter "ids" is not one of the statement's values/);
  });
});
