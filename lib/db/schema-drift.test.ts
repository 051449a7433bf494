import { expect, it } from 'vitest';
import { openDatabase } from './client';
import { applyMigrations, pendingSchemaChanges } from './migrate';

it('schema.prisma and the migrated database agree (run `npm run db:migration -- <name>` after editing the schema)', async () => {
  const database = await openDatabase({ dataDir: 'memory://' });
  try {
    await applyMigrations(database.adapterFactory);
    expect(await pendingSchemaChanges(database.adapterFactory)).toBe('');
  } finally {
    await database.close();
  }
});
