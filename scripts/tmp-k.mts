import { sql } from 'kysely';
import { openDatabase } from '@/lib/db/client';
import { applyMigrations } from '@/lib/db/migrate';
import { sqlDatabase } from '@/lib/db/sql';
const d = await openDatabase({ dataDir: 'memory://' });
await applyMigrations(d.adapterFactory);
const direct = sqlDatabase(d.prisma);
const since = new Date();
const t = async (name: string, f: () => Promise<unknown>) => { for (let i = 0; i < 200; i++) await f(); const t0 = performance.now(); for (let i = 0; i < 2000; i++) await f(); console.log(name, ((performance.now() - t0) / 2000).toFixed(4)); };
for (let k = 0; k < 2; k++) {
await t('direct SELECT 1', () => direct.query`SELECT ${1}::int AS one`);
await t('kysely SELECT 1', () => sql`SELECT ${1}::int AS one`.execute(d.db));
await t('pglite.transaction(empty)', () => d.pglite!.transaction(async () => {}));
await t('kysely tx 10× SELECT 1 (per stmt)', () => d.db.transaction().execute(async (tx) => { for (let i = 0; i < 10; i++) await sql`SELECT ${1}::int AS one`.execute(tx); }));
await t('direct tx 10× SELECT 1 (per stmt)', () => direct.transaction(async (tx) => { for (let i = 0; i < 10; i++) await tx.query`SELECT ${1}::int AS one`; }));
await t('kysely compile only', async () => sql`SELECT ${1}::int AS one`.compile(d.db));
}
await d.close();
