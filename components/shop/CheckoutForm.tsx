'use client';

import { Elements, PaymentElement, useElements, useStripe } from '@stripe/react-stripe-js';
import { useRouter } from 'next/navigation';
import { useEffect, useMemo, useRef, useState } from 'react';
import { startPaymentAction } from '@/app/(shop)/checkout/actions';
import { getStripe } from '@/lib/stripe/browser';
import { formatMoney } from '@/lib/money';

interface Props {
  amount: number;
  currency: string;
  publishableKey: string;
  stripeJsUrl?: string;
}

export function CheckoutForm({ amount, currency, publishableKey, stripeJsUrl }: Props) {
  const stripePromise = useMemo(() => getStripe(publishableKey, stripeJsUrl), [publishableKey, stripeJsUrl]);
  const [currentAmount, setCurrentAmount] = useState(amount);
  return (
    <Elements stripe={stripePromise} options={{ mode: 'payment', amount: currentAmount, currency, appearance: { theme: 'stripe' } }}>
      <PaymentForm amount={currentAmount} currency={currency} onAmountChange={setCurrentAmount} />
    </Elements>
  );
}

const FIELDS = [
  { name: 'email', label: 'Email', type: 'email', autoComplete: 'email' },
  { name: 'name', label: 'Full name', type: 'text', autoComplete: 'name' },
  { name: 'addressLine1', label: 'Street address', type: 'text', autoComplete: 'address-line1' },
  { name: 'addressLine2', label: 'Apartment, suite (optional)', type: 'text', autoComplete: 'address-line2', optional: true },
  { name: 'city', label: 'City', type: 'text', autoComplete: 'address-level2' },
  { name: 'postalCode', label: 'Postal code', type: 'text', autoComplete: 'postal-code' },
] as const;

const COUNTRIES = [
  ['US', 'United States'],
  ['CA', 'Canada'],
  ['GB', 'United Kingdom'],
  ['DE', 'Germany'],
  ['FR', 'France'],
  ['NL', 'Netherlands'],
  ['AU', 'Australia'],
] as const;

type Notice = { tone: 'error' | 'busy' | 'info' | 'throttled'; text: string } | null;

function PaymentForm({ amount, currency, onAmountChange }: { amount: number; currency: string; onAmountChange: (a: number) => void }) {
  const stripe = useStripe();
  const elements = useElements();
  const router = useRouter();
  const [submitting, setSubmitting] = useState(false);
  const [ready, setReady] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [retryIn, setRetryIn] = useState(0);
  const inFlight = useRef(false);
  const unusedToken = useRef<string | null>(null);

  useEffect(() => {
    if (retryIn <= 0) return;
    const t = setTimeout(() => setRetryIn((s) => s - 1), 1000);
    return () => clearTimeout(t);
  }, [retryIn]);

  async function pay(form: HTMLFormElement) {
    if (!stripe || !elements || inFlight.current) return;
    inFlight.current = true;
    setSubmitting(true);
    setNotice(null);
    try {
      // Deferred intent, confirmed on the server: the card becomes a ConfirmationToken here, and
      // the server creates and confirms the PaymentIntent with it in one Stripe call.
      const { error: submitError } = await elements.submit();
      if (submitError) {
        setNotice({ tone: 'error', text: submitError.message ?? 'Please complete your card details.' });
        return;
      }
      // A token the server never got to use (busy, an error) is sent again with the retry, so
      // a payment Stripe took before the answer was lost is found under the same key, never taken
      // twice; after any answer that used it, the next Pay makes a new one.
      let confirmationToken = unusedToken.current;
      if (!confirmationToken) {
        const created = await stripe.createConfirmationToken({ elements, params: { return_url: `${window.location.origin}/checkout` } });
        if (created.error) {
          setNotice({ tone: 'error', text: created.error.message ?? 'Please check your card details.' });
          return;
        }
        confirmationToken = created.confirmationToken.id;
        unusedToken.current = confirmationToken;
      }
      const data = Object.fromEntries(new FormData(form).entries());
      const result = await startPaymentAction({ ...data, expectedAmount: amount, confirmationToken });
      if (result.kind !== 'busy' && result.kind !== 'error' && result.kind !== 'throttled') unusedToken.current = null;
      switch (result.kind) {
        case 'requires_action':
          break;
        case 'submitted':
        case 'already_paid':
        case 'in_progress':
          router.push(`/orders/${result.orderToken}`);
          return;
        case 'declined':
          setFieldErrors({});
          setNotice({ tone: 'error', text: result.message });
          return;
        case 'invalid':
          // The fields were refused before anything was sent to Stripe: the token is still unused.
          if (!result.fieldErrors.confirmationToken) unusedToken.current = confirmationToken;
          setFieldErrors(result.fieldErrors);
          setNotice({ tone: 'error', text: result.message });
          return;
        case 'amount_changed':
          onAmountChange(result.amount);
          elements.update({ amount: result.amount });
          setNotice({ tone: 'info', text: result.message });
          router.refresh();
          return;
        case 'busy':
          setRetryIn(result.retryAfterSeconds);
          setNotice({ tone: 'busy', text: result.message });
          return;
        case 'throttled':
          // Card-testing defence: the server's message says how long; no countdown in the button.
          setNotice({ tone: 'throttled', text: result.message });
          return;
        default:
          setNotice({ tone: 'error', text: result.message });
          return;
      }
      // 3-D Secure: the bank's challenge, then the order page (which shows how it ended).
      setFieldErrors({});
      const { error } = await stripe.handleNextAction({ clientSecret: result.clientSecret });
      // The bank said no: try again here. Anything else (Stripe.js could not look), the order
      // page finds out how it ended.
      if (error && (error.type === 'card_error' || error.code === 'payment_intent_authentication_failure')) {
        setNotice({ tone: 'error', text: error.code === 'payment_intent_authentication_failure' ? 'Your bank could not verify this payment. Please try again or use another card.' : (error.message ?? 'Your payment could not be completed. Please try another card.') });
        return;
      }
      router.push(`/orders/${result.orderToken}`);
    } catch {
      setNotice({ tone: 'busy', text: 'We could not reach the payment service. Your cart is saved — please try again.' });
      setRetryIn(3);
    } finally {
      inFlight.current = false;
      setSubmitting(false);
    }
  }

  const disabled = !stripe || !ready || submitting || retryIn > 0;
  return (
    <form
      noValidate={false}
      onSubmit={(e) => {
        e.preventDefault();
        void pay(e.currentTarget);
      }}
      className="space-y-6"
      aria-describedby={notice ? 'checkout-notice' : undefined}
    >
      <fieldset className="grid gap-4 sm:grid-cols-2">
        <legend className="mb-2 text-lg font-semibold">Contact and shipping</legend>
        {FIELDS.map((f) => (
          <label key={f.name} className={`flex flex-col text-sm font-medium ${f.name === 'email' || f.name === 'addressLine1' ? 'sm:col-span-2' : ''}`}>
            {f.label}
            <input
              name={f.name}
              type={f.type}
              autoComplete={f.autoComplete}
              required={!('optional' in f)}
              maxLength={200}
              aria-invalid={Boolean(fieldErrors[f.name])}
              aria-describedby={fieldErrors[f.name] ? `${f.name}-error` : undefined}
              className="mt-1 rounded-md border border-stone-300 px-3 py-2 aria-[invalid=true]:border-red-600"
            />
            {fieldErrors[f.name] && (
              <span id={`${f.name}-error`} className="mt-1 text-red-700">
                {fieldErrors[f.name]}
              </span>
            )}
          </label>
        ))}
        <label className="flex flex-col text-sm font-medium">
          Country
          <select name="country" autoComplete="country" defaultValue="US" className="mt-1 rounded-md border border-stone-300 px-3 py-2">
            {COUNTRIES.map(([code, label]) => (
              <option key={code} value={code}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </fieldset>

      <fieldset>
        <legend className="mb-2 text-lg font-semibold">Payment</legend>
        <div className="rounded-md border border-stone-300 bg-white p-3" data-testid="payment-element">
          <PaymentElement
            onReady={() => setReady(true)}
            // Other card details: the next Pay makes a token of those.
            onChange={() => {
              unusedToken.current = null;
            }}
            options={{ layout: 'tabs' }}
          />
        </div>
      </fieldset>

      {notice && (
        <div
          id="checkout-notice"
          role={notice.tone === 'error' ? 'alert' : 'status'}
          data-testid={notice.tone === 'busy' ? 'payments-busy' : notice.tone === 'throttled' ? 'checkout-throttled' : 'checkout-notice'}
          className={`rounded-md p-4 ${notice.tone === 'error' ? 'bg-red-50 text-red-800' : notice.tone === 'busy' || notice.tone === 'throttled' ? 'bg-amber-50 text-amber-900' : 'bg-sky-50 text-sky-900'}`}
        >
          {notice.text}
          {notice.tone === 'busy' && retryIn > 0 && <span className="ml-1">You can retry in {retryIn} s.</span>}
        </div>
      )}

      <button type="submit" disabled={disabled} className="w-full rounded-md bg-amber-700 px-6 py-3 text-lg font-semibold text-white hover:bg-amber-800 disabled:opacity-60" data-testid="pay-button">
        {submitting ? 'Processing…' : retryIn > 0 ? `Retry in ${retryIn} s` : `Pay ${formatMoney(amount, currency)}`}
      </button>
      <p className="text-center text-xs text-stone-500">Card details are entered in Stripe&apos;s secure field and never reach our servers.</p>
    </form>
  );
}
