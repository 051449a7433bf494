// postMessage protocol between the merchant page (stripe.ts) and the emulator's frames
// (payment-frame.ts, challenge.ts). Every message carries MARK so unrelated messages on
// the page are ignored; each side also checks event.origin and event.source.

export const MARK = '__stripeEmulator';

export interface StripeErrorShape {
  type: string;
  code?: string;
  decline_code?: string;
  message?: string;
  param?: string;
  payment_intent?: unknown;
  [key: string]: unknown;
}

/** What the card frame reports after each keystroke; never contains card data. */
export interface CardFrameState {
  empty: boolean;
  complete: boolean;
  brand: string;
}

/** The only card facts that leave the emulator's origin. */
export interface PaymentMethodSummary {
  id: string;
  object: 'payment_method';
  type: 'card';
  card: { brand: string; last4: string };
  billing_details?: unknown;
  created?: number;
  livemode?: boolean;
}

export type FrameRequest =
  | { method: 'validate' }
  | { method: 'createPaymentMethod'; billingDetails?: unknown; metadata?: unknown }
  | { method: 'createConfirmationToken'; billingDetails?: unknown; params?: unknown }
  | { method: 'focus' }
  | { method: 'blur' }
  | { method: 'clear' }
  | { method: 'update'; options: FrameOptions };

export type FrameResult =
  | { ok: true; paymentMethod?: PaymentMethodSummary; confirmationToken?: Record<string, unknown> }
  | { ok: false; error: StripeErrorShape };

/** Options the parent passes to the frame (in the URL hash, then through `update`). */
export interface FrameOptions {
  readOnly?: boolean;
  hidePostalCode?: boolean;
  defaultCountry?: string;
  defaultPostalCode?: string;
}

/** Messages from the card frame to the page. */
export type FrameToParent =
  | { [MARK]: 1; channel: string; kind: 'ready'; height: number; state: CardFrameState }
  | { [MARK]: 1; channel: string; kind: 'change'; state: CardFrameState }
  | { [MARK]: 1; channel: string; kind: 'focus' }
  | { [MARK]: 1; channel: string; kind: 'blur' }
  | { [MARK]: 1; channel: string; kind: 'escape' }
  | { [MARK]: 1; channel: string; kind: 'resize'; height: number }
  | { [MARK]: 1; channel: string; kind: 'response'; requestId: number; result: FrameResult };

/** Messages from the page to the card frame. */
export type ParentToFrame = { [MARK]: 1; channel: string; kind: 'request'; requestId: number; request: FrameRequest };

/** Message from the 3-D Secure challenge page to the page that opened it. */
export interface ChallengeToParent {
  [MARK]: 1;
  kind: 'challenge-result';
  paymentIntent: string;
  outcome: 'complete' | 'fail';
}

export function isProtocolMessage(data: unknown): data is { [MARK]: 1; kind: string } {
  return typeof data === 'object' && data !== null && (data as Record<string, unknown>)[MARK] === 1 && typeof (data as Record<string, unknown>).kind === 'string';
}
