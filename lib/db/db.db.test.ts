import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testDbKind } from '@/tests/helpers/db';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import { migrationsDir, readMigrationList } from './migrate';
import { seedCatalog } from './seed';

const database = databaseForThisFile();

describe(`database (${testDbKind})`, () => {
  it('records every migration as prisma migrate deploy would, with its checksum', async () => {
    const rows = await database.prisma.$queryRawUnsafe<{ migration_name: string; checksum: string; finished_at: Date | null }[]>(
      'SELECT migration_name, checksum, finished_at FROM _prisma_migrations ORDER BY migration_name',
    );
    const dirs = readMigrationList().migrationDirectories.map((d) => d.path);
    expect(rows.map((r) => r.migration_name)).toEqual(dirs);
    for (const r of rows) {
      const sql = readFileSync(join(migrationsDir, r.migration_name, 'migration.sql'));
      expect(r.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
      expect(r.finished_at).not.toBeNull();
    }
  });

  it('seeds at least 12 products with images, and seeding twice changes nothing', async () => {
    const first = await seedCatalog(database.prisma);
    expect(first.created).toBeGreaterThanOrEqual(12);
    const before = await database.prisma.product.findMany({ orderBy: { slug: 'asc' } });
    await database.prisma.product.update({ where: { slug: before[0].slug }, data: { stock: 3 } });
    const second = await seedCatalog(database.prisma);
    expect(second.created).toBe(0);
    const after = await database.prisma.product.findMany({ orderBy: { slug: 'asc' } });
    expect(after.length).toBe(before.length);
    expect(after.find((p) => p.slug === before[0].slug)?.stock).toBe(3);
    for (const p of after) {
      expect(p.image).toMatch(/^\/products\/[a-z0-9-]+\.svg$/);
      expect(readFileSync(join(import.meta.dirname, '..', '..', 'public', p.image)).length).toBeGreaterThan(100);
      expect(Number.isInteger(p.price) && p.price > 0).toBe(true);
    }
  });
});
