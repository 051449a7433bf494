// npm run db:migrate | db:seed | db:migration -- <name>
// Migrations are applied offline through Prisma's WebAssembly schema engine, on PGlite
// (DATABASE_URL unset) or PostgreSQL (DATABASE_URL=postgresql://…).
import { migrationFactory, openDatabase, pgliteDataDir } from '../lib/db/client';
import { applyMigrations, createMigration } from '../lib/db/migrate';
import { seedCatalog } from '../lib/db/seed';
import { ensureGeneratedAdmin } from '../lib/admin/auth';

export interface MigrateOptions {
  seed: boolean;
  log?: (line: string) => void;
  /**
   * The embedded default's first admin: on PGlite without ADMIN_PASSWORD, create it with a
   * generated password when no admin exists, and return that password (once) for the console.
   */
  firstAdmin?: { email: string; password?: string };
}

export async function migrateAndSeed(opts: MigrateOptions): Promise<{ generatedAdmin?: { email: string; password: string } }> {
  const log = opts.log ?? console.log;
  const url = process.env.DATABASE_URL || undefined;
  const database = await openDatabase(url ? { url, poolMax: 2 } : { dataDir: pgliteDataDir(process.env.DATA_DIR ?? '.data') });
  try {
    const m = migrationFactory(database);
    const applied = await applyMigrations(m.factory).finally(() => m.close());
    log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database schema is up to date.');
    if (opts.seed) {
      const { created } = await seedCatalog(database.prisma);
      if (created) log(`Seeded ${created} products.`);
    }
    if (opts.firstAdmin && !opts.firstAdmin.password && database.kind === 'pglite') {
      const admin = await ensureGeneratedAdmin(database.prisma, opts.firstAdmin.email);
      if (admin.created) return { generatedAdmin: { email: admin.email, password: admin.password } };
    }
    return {};
  } finally {
    await database.close();
  }
}

async function main(): Promise<void> {
  const [command, name] = process.argv.slice(2);
  if (command === 'migrate') return void (await migrateAndSeed({ seed: false }));
  if (command === 'seed') return void (await migrateAndSeed({ seed: true }));
  if (command === 'new-migration') {
    if (!name) throw new Error('usage: npm run db:migration -- <name>');
    const scratch = await openDatabase({ dataDir: 'memory://' });
    const created = await createMigration(scratch.adapterFactory, name);
    await scratch.close();
    console.log(created ? `Created prisma/migrations/${created}/migration.sql` : 'schema.prisma matches the migrations; nothing to create.');
    return;
  }
  throw new Error('usage: tsx scripts/db.ts migrate|seed|new-migration <name>');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
