// The 3-D Secure challenge page, on the emulator's origin. Inside Stripe.js's modal it
// reports the outcome to the opener page by postMessage; opened at top level with a
// return_url it sends the shopper back there, as a redirect-based authentication would.
import { MARK, type ChallengeToParent } from './protocol';

const paymentIntent = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const query = new URLSearchParams(location.search);
const clientSecret = query.get('client_secret') ?? '';
const returnUrl = query.get('return_url');
const hash = new URLSearchParams(location.hash.slice(1));
const parentOrigin = hash.get('origin') ?? '';
const publishableKey = hash.get('key') ?? '';
const inFrame = window.parent !== window;

const completeButton = document.getElementById('test-source-authorize-3ds') as HTMLButtonElement;
const failButton = document.getElementById('test-source-fail-3ds') as HTMLButtonElement;
const status = document.getElementById('status') as HTMLElement;
const amount = document.getElementById('amount') as HTMLElement;

function formatAmount(minor: number, currency: string): string {
  try {
    const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(minor / 10 ** digits);
  } catch {
    return `${minor} ${currency.toUpperCase()}`;
  }
}

async function showAmount(): Promise<void> {
  if (!publishableKey || !clientSecret) return;
  const response = await fetch(`/v1/payment_intents/${encodeURIComponent(paymentIntent)}?client_secret=${encodeURIComponent(clientSecret)}`, {
    headers: { Authorization: `Bearer ${publishableKey}` },
  });
  if (!response.ok) return;
  const pi = (await response.json()) as { amount?: number; currency?: string };
  if (typeof pi.amount === 'number' && typeof pi.currency === 'string') amount.textContent = `Amount: ${formatAmount(pi.amount, pi.currency)}`;
}

async function finish(outcome: 'complete' | 'fail'): Promise<void> {
  completeButton.disabled = true;
  failButton.disabled = true;
  status.textContent = outcome === 'complete' ? 'Completing authentication…' : 'Failing authentication…';
  let piStatus: string | undefined;
  let reported = false;
  try {
    const response = await fetch(`/3ds/${encodeURIComponent(paymentIntent)}/${outcome}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `client_secret=${encodeURIComponent(clientSecret)}`,
    });
    const body = (await response.json().catch(() => null)) as { status?: unknown; error?: { message?: string } } | null;
    if (typeof body?.status === 'string') piStatus = body.status;
    if (!response.ok) {
      status.textContent = body?.error?.message ?? `The emulator answered HTTP ${response.status}.`;
      reported = true;
    }
  } catch {
    status.textContent = 'Could not reach the emulator.';
    reported = true;
  }
  if (inFrame && parentOrigin) {
    const message: ChallengeToParent = { [MARK]: 1, kind: 'challenge-result', paymentIntent, outcome };
    window.parent.postMessage(message, parentOrigin);
    return;
  }
  if (returnUrl) {
    const target = new URL(returnUrl);
    const succeeded = piStatus ? ['succeeded', 'processing', 'requires_capture'].includes(piStatus) : outcome === 'complete';
    target.searchParams.set('payment_intent', paymentIntent);
    target.searchParams.set('payment_intent_client_secret', clientSecret);
    target.searchParams.set('redirect_status', succeeded ? 'succeeded' : 'failed');
    location.assign(target.toString());
    return;
  }
  if (!reported) status.textContent = 'Done. You can close this window.';
}

completeButton.addEventListener('click', () => void finish('complete'));
failButton.addEventListener('click', () => void finish('fail'));
showAmount().catch(() => undefined);
