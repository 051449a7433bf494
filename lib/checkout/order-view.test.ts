// How long an order link shows the shopper's details: 30 days from when the order settled.
import { describe, expect, it } from 'vitest';
import { ORDER_DETAILS_DAYS, orderDetailsExpired } from './order-view';

const DAY = 86_400_000;
const now = new Date('2026-06-30T12:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);
const order = (o: Partial<Parameters<typeof orderDetailsExpired>[0]>) => ({ status: 'paid', paidAt: null, canceledAt: null, updatedAt: now, ...o });

describe('orderDetailsExpired', () => {
  it('shows the details for exactly 30 days after payment, and hides them after', () => {
    expect(orderDetailsExpired(order({ paidAt: ago(ORDER_DETAILS_DAYS * DAY) }), now)).toBe(false);
    expect(orderDetailsExpired(order({ paidAt: ago(ORDER_DETAILS_DAYS * DAY + 1) }), now)).toBe(true);
    // Refunded later: the window still runs from the payment.
    expect(orderDetailsExpired(order({ status: 'refunded', paidAt: ago(ORDER_DETAILS_DAYS * DAY + 1), updatedAt: now }), now)).toBe(true);
  });

  it('counts from the cancellation for an order never paid, else from its last change', () => {
    expect(orderDetailsExpired(order({ status: 'canceled', canceledAt: ago(ORDER_DETAILS_DAYS * DAY + 1), updatedAt: now }), now)).toBe(true);
    expect(orderDetailsExpired(order({ status: 'canceled', canceledAt: ago(DAY), updatedAt: ago(90 * DAY) }), now)).toBe(false);
    expect(orderDetailsExpired(order({ status: 'partially_refunded', updatedAt: ago(ORDER_DETAILS_DAYS * DAY + 1) }), now)).toBe(true);
  });

  it('never hides an order still open, however old', () => {
    for (const status of ['pending', 'processing']) expect(orderDetailsExpired(order({ status, updatedAt: ago(365 * DAY) }), now)).toBe(false);
  });
});
