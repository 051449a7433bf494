import { describe, expect, it } from 'vitest';
import {
  ORDER_STATUSES,
  ORDER_TRANSITIONS,
  canTransition,
  hasBeenPaid,
  isFinalPayment,
  isOpenPayment,
  isSettled,
  isTerminal,
  orderStatusForPaymentIntent,
  orderStatusForRefunds,
} from './state-machine';
import { OrderStatus } from '@/lib/generated/prisma/enums';

// The whole truth table, written out so a change to the machine has to change this too.
const ALLOWED = new Set([
  'pending→processing',
  'pending→paid',
  'pending→canceled',
  'processing→pending',
  'processing→paid',
  'processing→canceled',
  'paid→partially_refunded',
  'paid→refunded',
  'partially_refunded→refunded',
]);

const RANK: Record<OrderStatus, number> = { pending: 0, processing: 1, paid: 2, partially_refunded: 3, refunded: 4, canceled: 5 };

describe('order state machine', () => {
  for (const from of ORDER_STATUSES) {
    for (const to of ORDER_STATUSES) {
      const key = `${from}→${to}`;
      it(`${key} is ${ALLOWED.has(key) ? 'allowed' : 'refused'}`, () => {
        expect(canTransition(from, to)).toBe(ALLOWED.has(key));
      });
    }
  }

  it('never moves backwards except a failed attempt returning to pending', () => {
    for (const from of ORDER_STATUSES) {
      for (const to of ORDER_STATUSES) {
        if (!canTransition(from, to)) continue;
        if (from === 'processing' && to === 'pending') continue;
        expect(RANK[to], `${from}→${to}`).toBeGreaterThan(RANK[from]);
      }
    }
  });

  it('terminal states stay', () => {
    expect(ORDER_STATUSES.filter(isTerminal)).toEqual(['refunded', 'canceled']);
    for (const s of ORDER_STATUSES) expect(canTransition(s, s)).toBe(false);
  });

  it('maps every PaymentIntent status once', () => {
    const table: [string, boolean, OrderStatus | null][] = [
      ['succeeded', true, 'paid'],
      ['succeeded', false, 'paid'],
      ['processing', true, 'processing'],
      ['processing', false, null],
      ['requires_capture', true, 'processing'],
      ['requires_capture', false, null],
      ['requires_payment_method', true, 'pending'],
      ['requires_payment_method', false, null],
      ['requires_action', true, 'pending'],
      ['requires_action', false, null],
      ['requires_confirmation', true, 'pending'],
      ['requires_confirmation', false, null],
      ['canceled', true, null],
      ['canceled', false, null],
    ];
    for (const [status, current, want] of table) {
      expect(orderStatusForPaymentIntent(status as never, current), `${status} current=${current}`).toBe(want);
    }
  });

  it('maps refund totals to a status', () => {
    expect(orderStatusForRefunds(1000, 0)).toBe('paid');
    expect(orderStatusForRefunds(1000, 1)).toBe('partially_refunded');
    expect(orderStatusForRefunds(1000, 999)).toBe('partially_refunded');
    expect(orderStatusForRefunds(1000, 1000)).toBe('refunded');
  });

  it('lists every status the database knows, in the order an order moves through them, and no other', () => {
    expect(ORDER_STATUSES).toEqual(['pending', 'processing', 'paid', 'partially_refunded', 'refunded', 'canceled']);
    expect([...ORDER_STATUSES].sort()).toEqual(Object.values(OrderStatus).sort());
    // The table names exactly the allowed moves above, each once.
    const moves = Object.entries(ORDER_TRANSITIONS).flatMap(([from, tos]) => tos.map((to) => `${from}→${to}`));
    expect(moves.sort()).toEqual([...ALLOWED].sort());
  });

  it('counts an order as having taken money once paid, refunded or not', () => {
    expect(ORDER_STATUSES.filter(hasBeenPaid)).toEqual(['paid', 'partially_refunded', 'refunded']);
  });

  it('maps a PaymentIntent status newer than this SDK to nothing', () => {
    expect(orderStatusForPaymentIntent('requires_reauthorization' as never, true)).toBeNull();
  });

  it('never puts a paid order below paid, nor beyond refunded', () => {
    expect(orderStatusForRefunds(1000, -5)).toBe('paid');
    expect(orderStatusForRefunds(1000, 1500)).toBe('refunded');
    expect(orderStatusForRefunds(0, 0)).toBe('paid');
  });
});

describe('status sets', () => {
  it('settles exactly the paid orders and the canceled ones, and nothing still waiting for a payment', () => {
    expect(ORDER_STATUSES.filter(isSettled)).toEqual(['paid', 'partially_refunded', 'refunded', 'canceled']);
    expect(ORDER_STATUSES.filter((s) => hasBeenPaid(s))).toEqual(['paid', 'partially_refunded', 'refunded']);
  });

  it("puts each of Stripe's PaymentIntent statuses in exactly one of open and final", () => {
    const stripe = ['requires_payment_method', 'requires_confirmation', 'requires_action', 'processing', 'requires_capture', 'canceled', 'succeeded'];
    for (const s of stripe) expect([isOpenPayment(s), isFinalPayment(s)].filter(Boolean)).toHaveLength(1);
    expect(stripe.filter(isFinalPayment)).toEqual(['canceled', 'succeeded']);
    expect(isOpenPayment('unknown_future_status')).toBe(false);
  });
});
