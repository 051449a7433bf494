// The money invariant as properties of the one function that decides what a success means.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ORDER_STATUSES, hasBeenPaid } from './state-machine';
import { STRAY_REASON_TEXT, decideSucceededPayment, type AttemptFacts, type OrderFacts, type PaymentDecision, type SucceededPayment } from './payment-decision';

const currency = fc.constantFrom('usd', 'eur', 'jpy');
const order: fc.Arbitrary<OrderFacts> = fc.record({
  status: fc.constantFrom(...ORDER_STATUSES),
  attemptCount: fc.integer({ min: 1, max: 4 }),
  total: fc.integer({ min: 50, max: 100_000 }),
  currency,
  paymentIntentId: fc.option(fc.constantFrom('pi_a', 'pi_b', 'pi_c'), { nil: null }),
});
const attempt: fc.Arbitrary<AttemptFacts | null> = fc.option(
  fc.record({
    attemptNumber: fc.integer({ min: 1, max: 4 }),
    amount: fc.option(fc.integer({ min: 50, max: 100_000 }), { nil: null }),
    currency: fc.option(currency, { nil: null }),
    superseded: fc.boolean(),
  }),
  { nil: null },
);
const payment: fc.Arbitrary<SucceededPayment> = fc.record({
  paymentIntentId: fc.constantFrom('pi_a', 'pi_b', 'pi_c'),
  amountReceived: fc.integer({ min: 0, max: 100_000 }),
  currency,
  metadataAttempt: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
});

describe('decideSucceededPayment', () => {
  it('pays an order only with exactly its total, in its currency, from its current attempt', () => {
    fc.assert(
      // Amounts and currencies often equal the order's, so the other conditions are what decide.
      fc.property(order, attempt, payment, fc.boolean(), fc.boolean(), (o, a0, p0, sameAmount, sameCurrency) => {
        const a = a0 && { ...a0, amount: sameAmount ? o.total : a0.amount, currency: sameCurrency ? o.currency : a0.currency };
        const p = { ...p0, amountReceived: sameAmount ? o.total : p0.amountReceived, currency: sameCurrency ? o.currency : p0.currency };
        if (decideSucceededPayment(o, a, p).kind !== 'pay') return;
        expect(p.amountReceived).toBe(o.total);
        expect(p.currency).toBe(o.currency);
        expect(hasBeenPaid(o.status) || o.status === 'canceled').toBe(false);
        const n = a?.attemptNumber ?? p.metadataAttempt;
        if (n !== null) expect(n).toBe(o.attemptCount);
        else expect(o.paymentIntentId).toBe(p.paymentIntentId);
        expect(a?.superseded ?? false).toBe(false);
        if (a?.amount != null) expect(a.amount).toBe(o.total);
      }),
      { numRuns: 5000 },
    );
  });

  it('never lets a second PaymentIntent pay an order: once paid, any other success is stray', () => {
    fc.assert(
      fc.property(order, attempt, payment, (o, a, p) => {
        const paid = { ...o, status: 'paid' as const, paymentIntentId: 'pi_paid' };
        expect(decideSucceededPayment(paid, a, p)).toEqual({ kind: 'stray', reason: 'already_paid' });
        expect(decideSucceededPayment(paid, a, { ...p, paymentIntentId: 'pi_paid' })).toEqual({ kind: 'already_applied' });
      }),
    );
  });

  it('a success on a superseded attempt is stray, whatever its amount', () => {
    fc.assert(
      fc.property(order, payment, fc.integer({ min: 1, max: 3 }), (o, p, back) => {
        const open = { ...o, status: 'pending' as const, attemptCount: 4 };
        const old: AttemptFacts = { attemptNumber: 4 - back, amount: open.total, currency: open.currency, superseded: true };
        expect(decideSucceededPayment(open, old, { ...p, amountReceived: open.total, currency: open.currency })).toEqual({ kind: 'stray', reason: 'superseded' });
      }),
    );
  });

  it('the $6-for-$86 case: the first attempt paid after the cart was repriced', () => {
    const o: OrderFacts = { status: 'pending', attemptCount: 2, total: 8600, currency: 'usd', paymentIntentId: 'pi_2' };
    expect(decideSucceededPayment(o, { attemptNumber: 1, amount: 600, currency: 'usd', superseded: true }, { paymentIntentId: 'pi_1', amountReceived: 600, currency: 'usd', metadataAttempt: 1 })).toEqual({
      kind: 'stray',
      reason: 'superseded',
    });
    expect(decideSucceededPayment(o, { attemptNumber: 2, amount: 8600, currency: 'usd', superseded: false }, { paymentIntentId: 'pi_2', amountReceived: 8600, currency: 'usd', metadataAttempt: 2 })).toEqual({ kind: 'pay' });
    expect(decideSucceededPayment(o, { attemptNumber: 2, amount: 8600, currency: 'usd', superseded: false }, { paymentIntentId: 'pi_2', amountReceived: 600, currency: 'usd', metadataAttempt: 2 })).toEqual({
      kind: 'stray',
      reason: 'amount_mismatch',
    });
    expect(decideSucceededPayment(o, { attemptNumber: 2, amount: 8600, currency: 'usd', superseded: false }, { paymentIntentId: 'pi_2', amountReceived: 8600, currency: 'eur', metadataAttempt: 2 })).toEqual({
      kind: 'stray',
      reason: 'currency_mismatch',
    });
  });

  it('pays whenever everything fits: the current attempt, its price, the money received, the currency', () => {
    fc.assert(
      fc.property(order, fc.boolean(), fc.boolean(), fc.boolean(), (o0, knownRow, pricedRow, metadata) => {
        const o = { ...o0, status: 'pending' as const, paymentIntentId: 'pi_cur' };
        const a: AttemptFacts | null = knownRow ? { attemptNumber: o.attemptCount, amount: pricedRow ? o.total : null, currency: pricedRow ? o.currency : null, superseded: false } : null;
        const p: SucceededPayment = { paymentIntentId: 'pi_cur', amountReceived: o.total, currency: o.currency, metadataAttempt: metadata ? o.attemptCount : null };
        expect(decideSucceededPayment(o, a, p)).toEqual({ kind: 'pay' });
        expect(decideSucceededPayment({ ...o, status: 'processing' }, a, p)).toEqual({ kind: 'pay' });
      }),
    );
  });

  it('names why each other success is stray', () => {
    const o: OrderFacts = { status: 'pending', attemptCount: 2, total: 8600, currency: 'usd', paymentIntentId: 'pi_2' };
    const a: AttemptFacts = { attemptNumber: 2, amount: 8600, currency: 'usd', superseded: false };
    const p: SucceededPayment = { paymentIntentId: 'pi_2', amountReceived: 8600, currency: 'usd', metadataAttempt: 2 };
    const cases: [string, PaymentDecision][] = [];
    const d = (what: string, ...args: Parameters<typeof decideSucceededPayment>) => cases.push([what, decideSucceededPayment(...args)]);
    d('canceled order', { ...o, status: 'canceled' }, a, p);
    d('refunded order, same PaymentIntent', { ...o, status: 'refunded' }, a, p);
    d('partially refunded order, another PaymentIntent', { ...o, status: 'partially_refunded', paymentIntentId: 'pi_1' }, a, p);
    d('current number but superseded row', o, { ...a, superseded: true }, p);
    d('no row, metadata names an older attempt', o, null, { ...p, metadataAttempt: 1 });
    d('no row nor metadata, another PaymentIntent', o, null, { ...p, paymentIntentId: 'pi_other', metadataAttempt: null });
    d('no row nor metadata, the order\'s PaymentIntent', o, null, { ...p, metadataAttempt: null });
    d('attempt priced in another currency', o, { ...a, currency: 'eur' }, p);
    d('attempt priced at another amount', o, { ...a, amount: 600 }, p);
    d('one cent more received', o, a, { ...p, amountReceived: 8601 });
    expect(Object.fromEntries(cases)).toEqual({
      'canceled order': { kind: 'stray', reason: 'order_canceled' },
      'refunded order, same PaymentIntent': { kind: 'already_applied' },
      'partially refunded order, another PaymentIntent': { kind: 'stray', reason: 'already_paid' },
      'current number but superseded row': { kind: 'stray', reason: 'superseded' },
      'no row, metadata names an older attempt': { kind: 'stray', reason: 'superseded' },
      'no row nor metadata, another PaymentIntent': { kind: 'stray', reason: 'superseded' },
      'no row nor metadata, the order\'s PaymentIntent': { kind: 'pay' },
      'attempt priced in another currency': { kind: 'stray', reason: 'currency_mismatch' },
      'attempt priced at another amount': { kind: 'stray', reason: 'amount_mismatch' },
      'one cent more received': { kind: 'stray', reason: 'amount_mismatch' },
    });
  });

  it('gives the admin a distinct explanation for every stray reason', () => {
    const texts = Object.values(STRAY_REASON_TEXT);
    expect(Object.keys(STRAY_REASON_TEXT).sort()).toEqual(['already_paid', 'amount_mismatch', 'currency_mismatch', 'order_canceled', 'out_of_stock', 'superseded']);
    expect(new Set(texts).size).toBe(texts.length);
    for (const t of texts) expect(t.length).toBeGreaterThan(10);
  });
});
