// A shop to test against, for one test file: a fresh migrated database (PGlite, or PostgreSQL
// in the second pass) with the catalog seeded, the Stripe emulator on its own port, the
// official SDK pointed at it and a gateway with short retry delays. Call at the top of the file;
// its fields are set before the file's own beforeAll hooks run.
import { afterAll, beforeAll } from 'vitest';
import type Stripe from 'stripe';
import { startEmulator } from '@/emulator/src/server';
import { seedCatalog } from '@/lib/db/seed';
import { createStripeClient } from '@/lib/stripe/client';
import { StripeGateway } from '@/lib/stripe/gateway';
import { createTestDatabase } from './db';

export interface TestShop {
  database: Awaited<ReturnType<typeof createTestDatabase>>;
  emulator: Awaited<ReturnType<typeof startEmulator>>;
  stripe: Stripe;
  gateway: StripeGateway;
}

export function setUpTestShop(): TestShop {
  const shop = {} as TestShop;
  beforeAll(async () => {
    shop.database = await createTestDatabase();
    await seedCatalog(shop.database.prisma);
    shop.emulator = await startEmulator({ port: 0 });
    shop.stripe = createStripeClient({ secretKey: shop.emulator.secretKey, apiBase: shop.emulator.url });
    shop.gateway = new StripeGateway(shop.stripe, { baseDelayMs: 20, maxDelayMs: 50 });
  });
  afterAll(async () => {
    await shop.emulator?.close();
    await shop.database?.drop();
  });
  return shop;
}
