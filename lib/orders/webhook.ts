// The Stripe webhook, framework-free: verify the signature over the exact bytes, store the
// event by its id, enqueue its processing, answer. Everything slow happens in the worker.
import 'server-only';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import type { StripeEventEnvelope } from '@/lib/stripe/payment';
import type { StripeGateway } from '@/lib/stripe/gateway';
import type { StripeEventInbox } from './event-inbox';
import { recordStripeEvent } from './stripe-events';

export const WEBHOOK_MAX_BYTES = 1024 * 1024;
export const WEBHOOK_TOLERANCE_SECONDS = 300;

export interface WebhookRequest {
  rawBody: string;
  signature: string | null;
  /** The Content-Length header as sent, if any. */
  contentLength?: string | null;
}

export interface WebhookDeps {
  /** The database; a rejection (or a failing insert) means "unreachable": 503 so Stripe retries. */
  prisma: () => PrismaClient | Promise<PrismaClient>;
  gateway: Pick<StripeGateway, 'constructEvent'>;
  /** STRIPE_WEBHOOK_SECRET, then STRIPE_WEBHOOK_SECRET_PREVIOUS during a rotation. */
  secrets: (string | undefined)[];
  enqueue: (eventId: string) => Promise<unknown>;
  /**
   * Group commit of concurrent deliveries (the route's): answered once stored, enqueued right
   * after (the sweep covers a crash in between). Without it, one insert and one enqueue per
   * request, both before the answer.
   */
  inbox?: Pick<StripeEventInbox, 'add'>;
  onError?: (stage: 'database' | 'enqueue', err: unknown) => void;
}

export interface WebhookResponse {
  status: number;
  body: Record<string, unknown>;
}

/** True when a declared Content-Length already rules the body out (checked before reading it). */
export function contentLengthTooLarge(contentLength: string | null | undefined): boolean {
  const n = contentLength ? Number(contentLength) : NaN;
  return Number.isFinite(n) && n > WEBHOOK_MAX_BYTES;
}

function signedInFuture(signature: string, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
  const t = Number(/(?:^|,)\s*t=(\d{1,12})(?:,|$)/.exec(signature)?.[1]);
  return Number.isFinite(t) && t > nowSeconds + WEBHOOK_TOLERANCE_SECONDS;
}

/** The fields storing an event relies on: an evt_ id, a type, a creation time and an object. */
export function isWellFormedEvent(event: unknown): event is StripeEventEnvelope {
  if (!event || typeof event !== 'object' || Array.isArray(event)) return false;
  const e = event as { id?: unknown; type?: unknown; created?: unknown; data?: { object?: unknown } | null };
  return (
    typeof e.id === 'string' &&
    /^evt_[A-Za-z0-9_]{1,250}$/.test(e.id) &&
    typeof e.type === 'string' &&
    /^[A-Za-z0-9_.]{1,255}$/.test(e.type) &&
    typeof e.created === 'number' &&
    Number.isInteger(e.created) &&
    e.created >= 0 &&
    e.created < 32_503_680_000 &&
    typeof e.data === 'object' &&
    e.data !== null &&
    typeof e.data.object === 'object' &&
    e.data.object !== null
  );
}

export async function receiveStripeWebhook(req: WebhookRequest, deps: WebhookDeps): Promise<WebhookResponse> {
  if (contentLengthTooLarge(req.contentLength) || Buffer.byteLength(req.rawBody, 'utf8') > WEBHOOK_MAX_BYTES) {
    return { status: 413, body: { error: 'payload too large' } };
  }
  const secrets = deps.secrets.filter((s): s is string => Boolean(s));
  if (secrets.length === 0) return { status: 500, body: { error: 'webhook secret is not configured' } };
  if (!req.signature) return { status: 400, body: { error: 'missing Stripe-Signature header' } };

  // stripe-node bounds only a signature's age; one dated in the future would stay replayable
  // for longer than the tolerance, so refuse that too.
  if (signedInFuture(req.signature)) return { status: 400, body: { error: 'invalid signature' } };

  let event: unknown;
  try {
    event = deps.gateway.constructEvent(req.rawBody, req.signature, secrets, WEBHOOK_TOLERANCE_SECONDS);
  } catch {
    // Covers a wrong secret, a tampered body and a timestamp outside the tolerance.
    return { status: 400, body: { error: 'invalid signature' } };
  }
  // Signed but not an event we could ever store (a 503 would have Stripe retry it for days).
  if (!isWellFormedEvent(event)) return { status: 400, body: { error: 'malformed event' } };

  if (deps.inbox) {
    try {
      const { inserted } = await deps.inbox.add(event, req.rawBody);
      return inserted ? { status: 200, body: { received: true } } : { status: 200, body: { received: true, duplicate: true } };
    } catch (err) {
      deps.onError?.('database', err);
      return { status: 503, body: { error: 'temporarily unavailable' } };
    }
  }

  let inserted: boolean;
  let toProcess: boolean;
  try {
    const prisma = await deps.prisma();
    ({ inserted, toProcess } = await recordStripeEvent(prisma, event, { rawBody: req.rawBody, settle: true }));
  } catch (err) {
    deps.onError?.('database', err);
    return { status: 503, body: { error: 'temporarily unavailable' } };
  }
  if (!inserted) return { status: 200, body: { received: true, duplicate: true } };
  // Stored processed: it can change nothing, so there is nothing to queue.
  if (!toProcess) return { status: 200, body: { received: true } };

  try {
    await deps.enqueue(event.id);
  } catch (err) {
    // The event is stored: the sweep enqueues it. Stripe must not resend it for this.
    deps.onError?.('enqueue', err);
  }
  return { status: 200, body: { received: true } };
}
