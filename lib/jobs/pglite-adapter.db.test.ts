// pg-boss's PGlite adapter with prepared statements: the same jobs, rows and errors as pg-boss's
// own adapter, with its parameterized statements parsed once. PGlite only (PostgreSQL uses pg).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgBoss, fromPglite } from 'pg-boss';
import { createTestDatabase } from '@/tests/helpers/db';
import { preparedPgliteAdapter } from './pglite-adapter';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let boss: PgBoss;
beforeAll(async () => {
  database = await createTestDatabase('pglite');
  boss = new PgBoss({ db: preparedPgliteAdapter(database.pglite!, database.db), backend: 'pglite', schema: 'adaptertest', supervise: false, schedule: false });
  await boss.start();
  await boss.createQueue('adapter-q', { retryLimit: 2, retryDelay: 1 });
});
afterAll(async () => {
  await boss?.stop({ graceful: false }).catch(() => undefined);
  await database?.drop();
});

const preparedCount = async () => (await database.pglite!.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement ILIKE '%adaptertest.%'`)).rows[0].n;

describe('preparedPgliteAdapter (pglite)', () => {
  it('enqueues, fetches and completes jobs, returning the rows pg-boss’s own adapter returns', async () => {
    const before = await preparedCount();
    await boss.insert('adapter-q', [{ data: { eventId: 'evt_a', n: 1 } }, { data: { eventId: 'evt_b', n: 2 }, priority: 3 }]);
    // The job insert is now a prepared statement, and stays one statement however often it runs.
    expect(await preparedCount()).toBeGreaterThan(before);
    const afterFirst = await preparedCount();
    await boss.insert('adapter-q', [{ data: { eventId: 'evt_c', n: 3 } }]);
    expect(await preparedCount()).toBe(afterFirst);

    // The same job read through both adapters: ids, json data, numbers, booleans and dates alike.
    const plain = new PgBoss({ db: fromPglite(database.pglite!), backend: 'pglite', schema: 'adaptertest', supervise: false, schedule: false, migrate: false } as never);
    await plain.start();
    const ids = [(await boss.findJobs('adapter-q', { data: { eventId: 'evt_a' } }))[0].id];
    try {
      const mine = await boss.findJobs('adapter-q', { data: { eventId: 'evt_b' } });
      const theirs = await plain.findJobs('adapter-q', { data: { eventId: 'evt_b' } });
      expect(mine).toEqual(theirs);
      expect(mine[0]).toMatchObject({ name: 'adapter-q', data: { eventId: 'evt_b', n: 2 }, priority: 3, state: 'created', retryLimit: 2 });
      expect(mine[0].createdOn).toBeInstanceOf(Date);
      const one = await boss.getJobById('adapter-q', ids[0]);
      expect(one).toEqual(await plain.getJobById('adapter-q', ids[0]));
    } finally {
      await plain.stop({ graceful: false }).catch(() => undefined);
    }

    const fetched = await boss.fetch('adapter-q', { batchSize: 10 });
    expect(fetched.map((j) => (j.data as { eventId: string }).eventId).sort()).toEqual(['evt_a', 'evt_b', 'evt_c']);
    await boss.complete('adapter-q', fetched.map((j) => j.id));
    expect((await boss.getJobById('adapter-q', ids[0]))?.state).toBe('completed');
  });

  it('reports a failed statement and keeps the session usable', async () => {
    const db = preparedPgliteAdapter(database.pglite!, database.db);
    await expect(db.executeSql('SELECT 1 / $1::int AS x', [0])).rejects.toThrow(/division by zero/);
    await expect(db.executeSql('SELECT $1::int + 1 AS x', [41])).resolves.toMatchObject({ rows: [{ x: 42 }] });
    expect(await database.pglite!.query('SELECT 1 AS ok')).toMatchObject({ rows: [{ ok: 1 }] });
    // Not in a transaction left behind by the failure.
    expect((await database.pglite!.query<{ s: string }>(`SELECT current_setting('transaction_isolation') AS s`)).rows).toHaveLength(1);
    expect(database.pglite!.isInTransaction()).toBe(false);
  });

  it('leaves array values and parameterless multi-statement text to pg-boss’s adapter', async () => {
    const db = preparedPgliteAdapter(database.pglite!, database.db);
    const before = await preparedCount();
    const { rows } = await db.executeSql('SELECT $1::text[] AS a', [['x', 'y,z']]);
    expect(rows).toEqual([{ a: ['x', 'y,z'] }]);
    const multi = await db.executeSql('SELECT 1 AS one; SELECT 2 AS two');
    expect(multi.rows).toEqual([{ one: 1 }, { two: 2 }]);
    expect(await preparedCount()).toBe(before);
  });
});
