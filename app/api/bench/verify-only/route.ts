// The webhook benchmark's floor: the same build and secrets as POST /api/stripe/webhook, but it
// answers right after verifying the signature and stores nothing. It exists only when the
// server was started with BRISK_BENCH_ROUTES=1 (bench/webhook.bench.ts); otherwise 404.
import { config } from '@/lib/config';
import { WEBHOOK_TOLERANCE_SECONDS } from '@/lib/orders/webhook';
import { stripeGateway } from '@/lib/services';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function POST(request: Request): Promise<Response> {
  const cfg = config();
  if (!cfg.BRISK_BENCH_ROUTES) return new Response('Not Found', { status: 404 });
  const rawBody = await request.text();
  const signature = request.headers.get('stripe-signature');
  const secrets = [cfg.STRIPE_WEBHOOK_SECRET, cfg.STRIPE_WEBHOOK_SECRET_PREVIOUS].filter((s): s is string => Boolean(s));
  if (!signature || secrets.length === 0) return Response.json({ error: 'missing Stripe-Signature header' }, { status: 400 });
  try {
    stripeGateway().constructEvent(rawBody, signature, secrets, WEBHOOK_TOLERANCE_SECONDS);
  } catch {
    return Response.json({ error: 'invalid signature' }, { status: 400 });
  }
  return Response.json({ received: true }, { status: 200 });
}
