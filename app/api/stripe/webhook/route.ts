// POST /api/stripe/webhook: raw body in, verified event stored and enqueued, 2xx out within
// milliseconds. The logic is lib/orders/webhook.ts.
import { config } from '@/lib/config';
import { db, stripeGateway } from '@/lib/services';
import { enqueueStripeEvent, enqueueStripeEvents } from '@/lib/jobs';
import { jobsLog } from '@/lib/jobs/log';
import { StripeEventInbox } from '@/lib/orders/event-inbox';
import { contentLengthTooLarge, receiveStripeWebhook } from '@/lib/orders/webhook';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

// One per route module: concurrent deliveries share one insert and one enqueue. Only this route
// uses it, so a module variable is enough (a development reload starts a new one; the old one
// still flushes what it holds).
let current: StripeEventInbox | undefined;
function inbox(): StripeEventInbox {
  current ??= new StripeEventInbox({
    prisma: async () => (await db()).prisma,
    enqueue: enqueueStripeEvents,
    onEnqueueError: (err) => jobsLog.error({ err, stage: 'enqueue' }, 'webhook could not complete a step'),
  });
  return current;
}

export async function POST(request: Request): Promise<Response> {
  const contentLength = request.headers.get('content-length');
  // Refuse a declared oversize body before reading it.
  if (contentLengthTooLarge(contentLength)) return Response.json({ error: 'payload too large' }, { status: 413 });
  const rawBody = await request.text();
  const cfg = config();
  const result = await receiveStripeWebhook(
    { rawBody, signature: request.headers.get('stripe-signature'), contentLength },
    {
      prisma: async () => (await db()).prisma,
      gateway: stripeGateway(),
      secrets: [cfg.STRIPE_WEBHOOK_SECRET, cfg.STRIPE_WEBHOOK_SECRET_PREVIOUS],
      enqueue: enqueueStripeEvent,
      inbox: inbox(),
      onError: (stage, err) => jobsLog.error({ err, stage }, 'webhook could not complete a step'),
    },
  );
  return Response.json(result.body, { status: result.status });
}
