'use client';
// Loads Stripe.js once per page load. With the emulator, its Stripe.js is loaded first, so the
// same <Elements>/<PaymentElement> code runs against both; `pure` never injects js.stripe.com
// by itself at import time.
import type { Stripe } from '@stripe/stripe-js';
import { loadStripe } from '@stripe/stripe-js/pure';

let stripePromise: Promise<Stripe | null> | undefined;

function injectScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if ((window as { Stripe?: unknown }).Stripe) return resolve();
    const script = document.createElement('script');
    script.src = src;
    script.async = true;
    const nonce = document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content;
    if (nonce) script.nonce = nonce;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error('Stripe.js could not be loaded'));
    document.head.appendChild(script);
  });
}

export function getStripe(publishableKey: string, stripeJsUrl?: string): Promise<Stripe | null> {
  // Server render of the checkout: Stripe.js only ever runs in the browser.
  if (typeof window === 'undefined') return Promise.resolve(null);
  stripePromise ??= (stripeJsUrl ? injectScript(stripeJsUrl) : Promise.resolve()).then(() => loadStripe(publishableKey));
  return stripePromise;
}
