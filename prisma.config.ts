import { defineConfig } from 'prisma/config';

// The CLI is only used for `generate` here; migrations are applied by lib/db/migrate.ts
// (offline, through the WebAssembly schema engine) and stay in Prisma's own layout.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost/placeholder' },
});
