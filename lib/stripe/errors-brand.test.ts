// The gateway is one per process but Next bundles this module once per route: an error from
// another copy of the class must still be recognised as "Stripe is unavailable".
import { expect, it } from 'vitest';
import { StripeUnavailableError } from './errors';

it('recognises a StripeUnavailableError made by another copy of the module', async () => {
  // @ts-expect-error a query string loads a second, separate instance of the module
  const copy = (await import('./errors?copy')) as typeof import('./errors');
  expect(copy.StripeUnavailableError).not.toBe(StripeUnavailableError);
  const err = new copy.StripeUnavailableError('down', 'circuit_open', 1_000);
  expect(err instanceof StripeUnavailableError).toBe(true);
  expect(new Error('other') instanceof StripeUnavailableError).toBe(false);
  expect(new StripeUnavailableError('x', 'busy') instanceof Error).toBe(true);
});
