import { describe, expect, it } from 'vitest';
import { signValue, verifySignedValue } from './signed-value';
import { formatMoney } from './money';

describe('signed cookie values', () => {
  const secret = 'x'.repeat(40);
  it('round-trips and rejects tampering, other purposes and other secrets', () => {
    const s = signValue('cart-123', secret, 'cart');
    expect(verifySignedValue(s, secret, 'cart')).toBe('cart-123');
    expect(verifySignedValue(s.replace('cart-123', 'cart-124'), secret, 'cart')).toBeNull();
    expect(verifySignedValue(s, secret, 'admin')).toBeNull();
    expect(verifySignedValue(s, 'y'.repeat(40), 'cart')).toBeNull();
    for (const junk of ['', '.', 'abc', 'a.b.c', '%%%', 'x'.repeat(10_000), undefined, null]) {
      expect(verifySignedValue(junk, secret, 'cart')).toBeNull();
    }
  });
});

describe('money', () => {
  it('formats minor units per currency, zero-decimal ones included', () => {
    expect(formatMoney(1600, 'usd')).toBe('$16.00');
    expect(formatMoney(5, 'usd')).toBe('$0.05');
    expect(formatMoney(1600, 'jpy')).toBe('¥1,600');
    expect(formatMoney(123456, 'eur', 'de-DE').replace(/\s/g, ' ')).toBe('1.234,56 €');
  });
});
