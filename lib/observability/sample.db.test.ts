// /api/metrics' dead-letter gauge counts what the admin's dead-letter lists show: Stripe events
// that used up their retries and emails that failed for good (the soak benchmark reads it).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useDatabase } from '@/lib/services';
import { createTestDatabase } from '@/tests/helpers/db';
import { metricsText } from './metrics';
import { sampleAppGauges } from './sample';

let database: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  database = await createTestDatabase();
  // The process-wide database the gauges read (lib/services.ts db()).
  useDatabase(database);
});
afterAll(async () => {
  useDatabase(undefined);
  await database?.drop();
});

const gauge = async (queue: string) => Number(new RegExp(`^brisk_job_dead_letters\\{queue="${queue}"\\} (\\d+)$`, 'm').exec((await metricsText()).body)?.[1]);

it('counts dead Stripe events and failed emails, and nothing else', async () => {
  const event = (id: string, status: 'dead' | 'processed' | 'failed') =>
    database.prisma.stripeEvent.create({ data: { id, type: 'payment_intent.succeeded', apiCreated: new Date(), payload: {}, status } });
  await event('evt_dead_1', 'dead');
  await event('evt_dead_2', 'dead');
  await event('evt_processed', 'processed');
  // Failed but still retried: not a dead letter yet.
  await event('evt_retrying', 'failed');
  const email = (key: string, status: string) => database.prisma.email.create({ data: { dedupeKey: key, to: 'a@example.com', subject: 's', text: 't', kind: 'order_confirmation', status } });
  await email('e1', 'failed');
  await email('e2', 'sent');
  await email('e3', 'queued');

  await sampleAppGauges();
  expect(await gauge('stripe-event')).toBe(2);
  expect(await gauge('email-send')).toBe(1);
});
