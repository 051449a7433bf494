// startPayment: price the cart from the database, create or reuse the order, and pay it with the
// shopper's ConfirmationToken in one Stripe call: the attempt's PaymentIntent is created and
// confirmed together (`confirm: true, confirmation_token`) under an idempotency key derived from
// the order and its attempt number, so a double click, a resubmit or a retry after a timeout
// lands on the same PaymentIntent, and one attempt never has two. A later submit on the same
// live attempt (a new card after 3-D Secure was abandoned) confirms that same PaymentIntent
// again, under a key derived from it and the new token. The PaymentIntent Stripe answers with is
// applied at once through the same path as a webhook (applyPayment): no retrieve.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseUntrusted } from '@/lib/validation';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import type { PricedCart } from '@/lib/cart/cart';
import { formatMoney } from '@/lib/money';
import { logger } from '@/lib/observability/logger';
import { applyPayment, idempotencyKeyFor } from '@/lib/orders/apply';
import { declinedPayment, toPayment, type Payment } from '@/lib/stripe/payment';
import { sqlDatabase } from '@/lib/db/sql';
import {
  cartAndCheckoutState,
  createOrder,
  holdStock,
  lockCheckout,
  recordAttempt,
  updateOrderForAttempt,
  type CheckoutLine,
  type StockShortage,
} from '@/lib/orders/checkout';
import type { SubmitRateLimiter } from '@/lib/security/submit-rate';
import { checkCooldown, consumeAttempt, type ThrottleDecision } from '@/lib/security/throttle';
import { StripeUnavailableError, type StripeGateway } from '@/lib/stripe/gateway';
import { RecentResults } from '@/lib/recent-results';

// PostgreSQL refuses a NUL in text and nobody's address has control characters: say so plainly.
const PLAIN_TEXT = /^[^\u0000-\u001f\u007f]*$/;
const UNUSUAL = 'Please remove unusual characters.';

export const CheckoutDetails = z.object({
  email: z.string({ error: 'Enter a valid email address.' }).trim().toLowerCase().max(254).email('Enter a valid email address.'),
  name: z.string({ error: 'Enter your name.' }).trim().min(1, 'Enter your name.').max(120, 'Name is too long.').regex(PLAIN_TEXT, UNUSUAL),
  addressLine1: z.string({ error: 'Enter your street address.' }).trim().min(1, 'Enter your street address.').max(200, 'Address is too long.').regex(PLAIN_TEXT, UNUSUAL),
  addressLine2: z.string({ error: 'Enter a valid address.' }).trim().max(200, 'Address is too long.').regex(PLAIN_TEXT, UNUSUAL).optional().transform((v) => v || undefined),
  city: z.string({ error: 'Enter your city.' }).trim().min(1, 'Enter your city.').max(120, 'City is too long.').regex(PLAIN_TEXT, UNUSUAL),
  postalCode: z.string({ error: 'Enter your postal code.' }).trim().min(2, 'Enter your postal code.').max(16, 'Postal code is too long.').regex(/^[A-Za-z0-9 -]+$/, 'Enter a valid postal code.'),
  country: z.string({ error: 'Choose a country.' }).trim().toUpperCase().regex(/^[A-Z]{2}$/, 'Choose a country.'),
}, { error: 'Please check the form and try again.' });
export type CheckoutDetails = z.infer<typeof CheckoutDetails>;

const CARD_AGAIN = 'Please enter your card details again.';

export const StartPaymentInput = CheckoutDetails.extend({
  // What the shopper was shown; if the server's price differs, they are asked again.
  expectedAmount: z.coerce.number({ error: 'Please reload the page and try again.' }).int('Please reload the page and try again.').min(0, 'Please reload the page and try again.').max(100_000_000, 'Please reload the page and try again.'),
  // Made by Stripe.js from the Payment Element (stripe.createConfirmationToken): the card, by reference.
  confirmationToken: z.string({ error: CARD_AGAIN }).regex(/^ctoken_[A-Za-z0-9]{10,250}$/, CARD_AGAIN),
});

export type StartPaymentResult =
  /** 3-D Secure: the browser runs stripe.handleNextAction with this secret, then shows the order. */
  | { kind: 'requires_action'; clientSecret: string; orderToken: string; paymentIntentId: string; amount: number; currency: string; attempt: number }
  /** Paid (or processing): the order page shows it; our records already have it. */
  | { kind: 'submitted'; orderToken: string; paymentIntentId: string; status: string; amount: number; currency: string; attempt: number }
  /** The card was declined (or the token refused): the cart stays, the shopper tries again with a new token. */
  | { kind: 'declined'; orderToken: string | null; code: string | null; declineCode: string | null; message: string }
  | { kind: 'invalid'; fieldErrors: Record<string, string>; message: string }
  | { kind: 'cart_empty'; message: string }
  | { kind: 'out_of_stock'; message: string }
  | { kind: 'amount_changed'; amount: number; currency: string; message: string }
  | { kind: 'already_paid'; orderToken: string; message: string }
  | { kind: 'in_progress'; orderToken: string; message: string }
  | { kind: 'busy'; retryAfterSeconds: number; message: string }
  | { kind: 'throttled'; retryAfterSeconds: number; message: string }
  | { kind: 'error'; message: string };

export interface StartPaymentDeps {
  prisma: PrismaClient;
  gateway: StripeGateway;
  clientIp?: string;
  /** How long an attempt holds its stock (default 15 minutes, STOCK_HOLD_MINUTES). */
  holdMinutes?: number;
  /** Limits how often one cart or address may submit, before any work (the server action passes one). */
  submitLimiter?: SubmitRateLimiter;
}

export const DEFAULT_HOLD_MINUTES = 15;

/** A refusal found after the transaction started writing: thrown to roll it back, then answered. */
class Refusal extends Error {
  constructor(readonly result: StartPaymentResult) {
    super(result.kind);
  }
}

export function pricingHash(cart: PricedCart): string {
  const canonical = JSON.stringify([cart.currency, cart.subtotal, cart.lines.map((l) => [l.productId, l.unitPrice, l.quantity])]);
  return createHash('sha256').update(canonical).digest('hex');
}

export { idempotencyKeyFor };

/** Confirming an attempt's existing PaymentIntent again, with another ConfirmationToken. */
export function confirmKeyFor(paymentIntentId: string, confirmationToken: string): string {
  return `brisk:confirm:${paymentIntentId}:${confirmationToken}`;
}

const FAILED_PI_STATUSES = new Set(['canceled']);

function attemptFailed(a: { status: string; failureCode: string | null; declineCode: string | null }): boolean {
  return FAILED_PI_STATUSES.has(a.status) || (a.status === 'requires_payment_method' && Boolean(a.failureCode || a.declineCode));
}

export async function startPayment(deps: StartPaymentDeps, cartId: string | null, raw: unknown): Promise<StartPaymentResult> {
  const parsed = parseUntrusted(StartPaymentInput, raw);
  if (!parsed.success) {
    const fieldErrors: Record<string, string> = {};
    for (const issue of parsed.error.issues) fieldErrors[String(issue.path[0] ?? 'form')] ??= issue.message;
    const message = fieldErrors.confirmationToken && Object.keys(fieldErrors).length === 1 ? CARD_AGAIN : 'Please check the highlighted fields.';
    return { kind: 'invalid', fieldErrors, message };
  }
  const { expectedAmount, confirmationToken, ...details } = parsed.data;
  if (!cartId) return { kind: 'cart_empty', message: 'Your cart is empty.' };
  const tooFast = deps.submitLimiter?.take({ cartId, ip: deps.clientIp });
  if (tooFast) {
    const retryAfterSeconds = Math.max(1, Math.ceil(tooFast.retryAfterMs / 1000));
    return { kind: 'throttled', retryAfterSeconds, message: `That was a lot of tries in a short time. Your cart is saved — please wait ${retryAfterSeconds} s and press Pay again.` };
  }
  return sameSubmitOnce(`${cartId}:${confirmationToken}`, () => pay(deps, cartId, expectedAmount, details, confirmationToken));
}

// The same token submitted again for the same cart (a double POST, a replayed request) gets the
// same answer in this process without any more work: while the first is running, and for a
// minute after it reached an outcome. Answers that invite a retry (busy, errors) are not kept,
// so the retry, sent with the same token, runs again (and its Stripe call replays under the
// same idempotency key).
const SAME_SUBMIT_MS = 60_000;
const KEPT_OUTCOMES = new Set<StartPaymentResult['kind']>(['requires_action', 'submitted', 'declined', 'already_paid', 'in_progress']);
const submits = new RecentResults<string, StartPaymentResult>(SAME_SUBMIT_MS);

function sameSubmitOnce(key: string, run: () => Promise<StartPaymentResult>, now = Date.now()): Promise<StartPaymentResult> {
  return submits.share(key, run, now, (r) => KEPT_OUTCOMES.has(r.kind));
}

async function pay(deps: StartPaymentDeps, cartId: string, expectedAmount: number, details: CheckoutDetails, confirmationToken: string): Promise<StartPaymentResult> {
  const { prisma, gateway } = deps;
  try {
    const plan = await planAttempt(deps, cartId, expectedAmount, details);
    if (plan.kind === 'refused') return plan.result;
    if (plan.kind === 'already_paid') return { kind: 'already_paid', orderToken: plan.orderToken, message: 'This cart has already been paid.' };
    if (plan.kind === 'in_progress') return { kind: 'in_progress', orderToken: plan.orderToken, message: 'Your payment is being processed.' };
    if (plan.kind === 'throttled') return throttled(plan.gate);
    if (plan.kind === 'reuse') {
      // The same cart on its live attempt: that PaymentIntent, confirmed with this token.
      const attempt = { orderToken: plan.token, amount: plan.amount, currency: plan.currency, attempt: plan.attempt };
      let pi: Payment;
      try {
        pi = toPayment(
          await gateway.confirmPaymentIntent(
            plan.paymentIntentId,
            { confirmation_token: confirmationToken, expand: ['latest_charge'] },
            { idempotencyKey: confirmKeyFor(plan.paymentIntentId, confirmationToken) },
          ),
        );
      } catch (err) {
        const declined = declinedPayment(err);
        if (declined) return await declinedAnswer(prisma, declined, err, plan.token);
        // This token was used already (a copy of this submit in another instance) or the
        // PaymentIntent moved on (paid from another tab): our records and the order page say where it stands.
        if (isRefusal(err)) {
          if (plan.status === 'requires_action') return { kind: 'requires_action', clientSecret: plan.clientSecret, paymentIntentId: plan.paymentIntentId, ...attempt };
          return { kind: 'in_progress', orderToken: plan.token, message: 'Your payment is being processed.' };
        }
        throw err;
      }
      return await answer(prisma, pi, attempt);
    }
    const idempotencyKey = idempotencyKeyFor(plan.orderId, plan.attempt);
    const record = (pi: Payment) =>
      recordAttempt(prisma, { orderId: plan.orderId, attemptNumber: plan.attempt, pi, idempotencyKey, clientIp: deps.clientIp, pricingHash: plan.hash, lines: plan.lines });
    let pi: Payment;
    try {
      pi = await createOnce(gateway, idempotencyKey, {
        amount: plan.amount,
        currency: plan.currency,
        automatic_payment_methods: { enabled: true },
        confirm: true,
        confirmation_token: confirmationToken,
        description: `Brisk order ${plan.orderId.slice(0, 8)}`,
        metadata: { order_id: plan.orderId, attempt: String(plan.attempt) },
        // The charge's card and risk facts come back with the answer: nothing to fetch after.
        expand: ['latest_charge'],
      });
    } catch (err) {
      const declined = declinedPayment(err);
      if (declined) {
        await record(declined);
        return await declinedAnswer(prisma, declined, err, plan.token);
      }
      // Another submit of this attempt with another token, in another instance: that one is
      // paying (one PaymentIntent per attempt); the order page shows it.
      if (isIdempotencyMismatch(err)) return { kind: 'in_progress', orderToken: plan.token, message: 'Your payment is being processed.' };
      // The token itself was refused (expired, used): nothing was charged.
      if (isRefusal(err)) return { kind: 'declined', orderToken: plan.token, code: (err as { code?: string }).code ?? null, declineCode: null, message: CARD_AGAIN };
      throw err;
    }
    await record(pi);
    return await answer(prisma, pi, { orderToken: plan.token, amount: plan.amount, currency: plan.currency, attempt: plan.attempt });
  } catch (err) {
    if (err instanceof StripeUnavailableError) return busy(err);
    if (err instanceof Refusal) return err.result;
    throw err;
  }
}

type AttemptFacts = { orderToken: string; amount: number; currency: string; attempt: number };

/**
 * What Stripe answered, applied to the order through the webhook's own path, then told to the
 * browser: paid orders show Paid at once, and the webhook that follows has nothing to add.
 */
async function answer(prisma: PrismaClient, pi: Payment, a: AttemptFacts): Promise<StartPaymentResult> {
  await applyPayment(prisma, pi, { source: 'return_page' });
  if (pi.status === 'requires_action') return { kind: 'requires_action', clientSecret: pi.clientSecret!, paymentIntentId: pi.id, ...a };
  if (pi.status === 'requires_payment_method') {
    const err = pi.lastError;
    return { kind: 'declined', orderToken: a.orderToken, code: err?.code ?? null, declineCode: err?.declineCode ?? null, message: shopperMessage(err ?? {}) };
  }
  return { kind: 'submitted', paymentIntentId: pi.id, status: pi.status, ...a };
}

/** A declined confirmation: the PaymentIntent in Stripe's card error, applied like any other. */
async function declinedAnswer(prisma: PrismaClient, pi: Payment, err: unknown, orderToken: string): Promise<StartPaymentResult> {
  await applyPayment(prisma, pi, { source: 'return_page' });
  const e = err as { code?: string; decline_code?: string; message?: string };
  return { kind: 'declined', orderToken, code: e.code ?? null, declineCode: e.decline_code ?? null, message: shopperMessage(e) };
}

function isIdempotencyMismatch(err: unknown): boolean {
  return (err as { type?: string } | null)?.type === 'StripeIdempotencyError';
}

/** Stripe refused the request itself (a used or expired token, a PaymentIntent in another state). */
function isRefusal(err: unknown): boolean {
  return (err as { type?: string } | null)?.type === 'StripeInvalidRequestError';
}

// Stripe's card messages are written for shoppers; a few codes are not, so say them plainly.
function shopperMessage(error: { code?: string | null; message?: string | null }): string {
  if (error.code === 'payment_intent_authentication_failure') return 'Your bank could not verify this payment. Please try again or use another card.';
  return error.message ?? 'Your payment could not be completed. Please try another card.';
}

// Submits of one attempt that arrive while its PaymentIntent is being created, or before the
// attempt is recorded (clicks, or a flood), share that creation in this process instead of each
// sending it again: the same idempotency key would land on the same PaymentIntent anyway, but
// every copy cost a Stripe request (real Stripe answers 409 to a key still in flight). Stripe
// answers a repeated key with the first answer for 24 h, so our copy of it is that same answer;
// a minute covers the gap until the attempt is recorded, even on a slow database.
const CREATION_REUSE_MS = 60_000;
const creating = new RecentResults<string, Payment>(CREATION_REUSE_MS);

type CreateParams = Parameters<StripeGateway['createPaymentIntent']>[0];

function createOnce(gateway: Pick<StripeGateway, 'createPaymentIntent'>, idempotencyKey: string, params: CreateParams, now = Date.now()): Promise<Payment> {
  // A failed creation is not reused: the next submit asks again.
  return creating.share(idempotencyKey, async () => toPayment(await gateway.createPaymentIntent(params, { idempotencyKey })), now);
}

/** Why this cart cannot be paid as it stands (priced from the database, never from input). */
function refuseCart(cart: PricedCart, expectedAmount: number): StartPaymentResult | null {
  if (!cart.id || cart.lines.length === 0) return { kind: 'cart_empty', message: 'Your cart is empty.' };
  const short = cart.lines.find((l) => l.quantity > l.stock);
  if (short) {
    return { kind: 'out_of_stock', message: short.stock === 0 ? `${short.name} just sold out. Please remove it from your cart.` : `Only ${short.stock} ${short.name} left. Please update your cart.` };
  }
  if (cart.subtotal !== expectedAmount) {
    return { kind: 'amount_changed', amount: cart.subtotal, currency: cart.currency, message: `Your cart changed: the total is now ${formatMoney(cart.subtotal, cart.currency)}. Press Pay again to continue.` };
  }
  return null;
}

type Plan =
  | { kind: 'refused'; result: StartPaymentResult }
  | { kind: 'already_paid'; orderToken: string }
  | { kind: 'in_progress'; orderToken: string }
  | { kind: 'throttled'; gate: Exclude<ThrottleDecision, { ok: true }> }
  | { kind: 'reuse'; token: string; attempt: number; paymentIntentId: string; clientSecret: string; status: string; amount: number; currency: string }
  | { kind: 'attempt'; orderId: string; token: string; attempt: number; amount: number; currency: string; hash: string; lines: CheckoutLine[]; superseded: number | null };

/**
 * Prices the cart and decides, under the cart's lock, whether this submit reuses the current
 * attempt or starts one.
 */
async function planAttempt(deps: StartPaymentDeps, cartId: string, expectedAmount: number, details: CheckoutDetails): Promise<Plan> {
  const db = sqlDatabase(deps.prisma);
  const holdUntil = new Date(Date.now() + (deps.holdMinutes ?? DEFAULT_HOLD_MINUTES) * 60_000);
  return db.transaction(async (tx): Promise<Plan> => {
    // Locks first, then where the checkout stands, started together (lib/orders/checkout.ts).
    // The order they are started in is the order they run in: the locks, then the read.
    const locks = lockCheckout(tx, cartId, db.serialTransactions);
    const [{ cart, state }] = await Promise.all([cartAndCheckoutState(tx, cartId), ...locks]);
    const refusal = refuseCart(cart, expectedAmount);
    if (refusal) return { kind: 'refused', result: refusal };
    // Stripe is known to be down (breaker open): answer at once, before any order work.
    const unavailable = deps.gateway.unavailable();
    if (unavailable) return { kind: 'refused', result: busy(unavailable) };
    const hash = pricingHash(cart);
    // This cart's contents, paid in the last ten minutes: a resubmit must not charge again.
    const paid = state.paid.find((p) => p.pricingHash === hash);
    if (paid) return { kind: 'already_paid' as const, orderToken: paid.publicToken };
    const order = state.open;
    if (order?.status === 'processing') return { kind: 'in_progress' as const, orderToken: order.publicToken };
    const lines = cart.lines.map((l) => ({ productId: l.productId, name: l.name, unitPrice: l.unitPrice, quantity: l.quantity }));
    // Card-testing defence: a new attempt counts against the cart, the email and the client
    // address; reusing the current attempt (a double click, a retry) only respects a cool-down.
    const subject = { cartId: cart.id, email: details.email, ip: deps.clientIp };
    if (!order) {
      const gate = await consumeAttempt(tx, subject);
      if (!gate.ok) return { kind: 'throttled' as const, gate };
      const created = await createOrder(tx, { cartId, details, currency: cart.currency, subtotal: cart.subtotal, hash, lines });
      refuseShortage(await holdStock(tx, created.id, 1, lines, holdUntil));
      return { kind: 'attempt' as const, orderId: created.id, token: created.publicToken, attempt: 1, amount: cart.subtotal, currency: cart.currency, hash, lines, superseded: null };
    }
    const last = order.lastAttempt;
    const repriced = order.pricingHash !== hash;
    const live = last && last.attemptNumber === order.attemptCount && !attemptFailed(last);
    // The same cart on a live attempt: the same PaymentIntent, from our records.
    if (!repriced && live && last.clientSecret) {
      const gate = await checkCooldown(tx, subject);
      if (!gate.ok) return { kind: 'throttled' as const, gate };
      await updateOrderForAttempt(db, tx, { orderId: order.id, details, subtotal: cart.subtotal, hash, attempt: order.attemptCount, lines: null });
      refuseShortage(await holdStock(tx, order.id, order.attemptCount, lines, holdUntil));
      return { kind: 'reuse' as const, token: order.publicToken, attempt: order.attemptCount, paymentIntentId: last.paymentIntentId, clientSecret: last.clientSecret, status: last.status, amount: cart.subtotal, currency: cart.currency };
    }
    // A new attempt when the cart changed or the last one failed; otherwise the current number
    // again (its PaymentIntent was never recorded: the same idempotency key finds it).
    let attempt = order.attemptCount;
    if (repriced || live || (last && last.attemptNumber === attempt && attemptFailed(last))) attempt += 1;
    const gate = attempt !== order.attemptCount ? await consumeAttempt(tx, subject) : await checkCooldown(tx, subject);
    if (!gate.ok) return { kind: 'throttled' as const, gate };
    const superseded = attempt !== order.attemptCount && last?.attemptNumber === order.attemptCount ? order.attemptCount : null;
    await updateOrderForAttempt(db, tx, { orderId: order.id, details, subtotal: cart.subtotal, hash, attempt, lines: repriced ? lines : null, superseded });
    refuseShortage(await holdStock(tx, order.id, attempt, lines, holdUntil));
    return { kind: 'attempt' as const, orderId: order.id, token: order.publicToken, attempt, amount: cart.subtotal, currency: cart.currency, hash, lines, superseded };
  });
}

/** A line that cannot be held refuses the whole checkout: the transaction rolls back, nothing is written. */
function refuseShortage(short: StockShortage | null): void {
  if (!short) return;
  throw new Refusal({
    kind: 'out_of_stock',
    message: short.left === 0 ? `${short.name} just sold out. Please remove it from your cart.` : `Only ${short.left} ${short.name} left. Please update your cart.`,
  });
}

function throttled(gate: Exclude<ThrottleDecision, { ok: true }>): StartPaymentResult {
  logger().warn({ scope: gate.scope, reason: gate.reason, retryAfterSeconds: gate.retryAfterSeconds }, 'checkout throttled (card-testing defence)');
  const minutes = Math.ceil(gate.retryAfterSeconds / 60);
  const wait = gate.retryAfterSeconds < 90 ? 'a minute' : `${minutes} minutes`;
  return {
    kind: 'throttled',
    retryAfterSeconds: gate.retryAfterSeconds,
    message: `For your security, we have paused payments from this checkout after several unsuccessful attempts. Your cart is saved — please try again in ${wait}, or contact us if you need help.`,
  };
}

function busy(err: StripeUnavailableError): StartPaymentResult {
  return { kind: 'busy', retryAfterSeconds: Math.max(1, Math.ceil(err.retryAfterMs / 1000)), message: 'Payments are busy right now. Your cart is saved — please try again in a moment.' };
}

