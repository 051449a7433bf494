import { sql, CompiledQuery } from 'kysely';
import { openDatabase } from '@/lib/db/client';
import { applyMigrations } from '@/lib/db/migrate';
import { sqlDatabase } from '@/lib/db/sql';
const d = await openDatabase({ dataDir: 'memory://' });
await applyMigrations(d.adapterFactory);
const direct = sqlDatabase(d.prisma);
const id = 'x';
const t = async (name: string, f: () => Promise<unknown>) => { for (let i = 0; i < 300; i++) await f(); const t0 = performance.now(); for (let i = 0; i < 3000; i++) await f(); console.log(name, ((performance.now() - t0) / 3000 * 1000).toFixed(1), 'µs'); };
const q = d.db.selectFrom('Product').select(['id', 'stock']).where('id', '=', id);
const compiled = q.compile();
for (let k = 0; k < 2; k++) {
await t('direct tx 10× pk', () => direct.transaction(async (tx) => { for (let i = 0; i < 10; i++) await tx.query`SELECT id, stock FROM "Product" WHERE id = ${id}`; }));
await t('kysely tx 10× pk builder', () => d.db.transaction().execute(async (tx) => { for (let i = 0; i < 10; i++) await tx.selectFrom('Product').select(['id', 'stock']).where('id', '=', id).execute(); }));
await t('kysely tx 10× pk precompiled', () => d.db.transaction().execute(async (tx) => { for (let i = 0; i < 10; i++) await tx.executeQuery(compiled); }));
await t('kysely tx 10× raw sql', () => d.db.transaction().execute(async (tx) => { for (let i = 0; i < 10; i++) await sql`SELECT id, stock FROM "Product" WHERE id = ${id}`.execute(tx); }));
}
await d.close();
