// One setup for the webhook tests (lib/orders/webhook*.db.test.ts): a database of their own, the
// real Stripe SDK's gateway (signatures are checked by stripe-node, as in production), deps that
// record what was enqueued, and a signer with Stripe's test header.
import { afterAll, beforeAll } from 'vitest';
import { createStripeClient } from '@/lib/stripe/client';
import { StripeGateway } from '@/lib/stripe/gateway';
import type { WebhookDeps } from '@/lib/orders/webhook';
import { createTestDatabase } from './db';

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export function webhookHarness(opts: { secretKey: string; secrets: string[] }) {
  const stripe = createStripeClient({ secretKey: opts.secretKey });
  const gateway = new StripeGateway(stripe);
  let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database?.drop());
  const enqueued: string[] = [];
  const h = {
    stripe,
    gateway,
    /** Event ids enqueued since the last deps() call. */
    enqueued,
    get prisma() {
      if (!database) throw new Error('webhook harness: database not ready (use inside a test)');
      return database.prisma;
    },
    /** Fresh deps (and a cleared `enqueued`), with `over` applied. */
    deps(over: Partial<WebhookDeps> = {}): WebhookDeps {
      enqueued.length = 0;
      return { prisma: () => h.prisma, gateway, secrets: opts.secrets, enqueue: async (id) => void enqueued.push(id), ...over };
    },
    sign(payload: string, secret = opts.secrets[0], timestamp = nowSeconds()): string {
      return stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
    },
    /** Stored events, all or with this id. */
    stored(id?: string): Promise<number> {
      return h.prisma.stripeEvent.count(id ? { where: { id } } : undefined);
    },
  };
  return h;
}
