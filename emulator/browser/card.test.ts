import { describe, expect, it } from 'vitest';
import { detectBrand, formatExpiry, formatNumber, luhnValid, validateCvc, validateExpiry, validateNumber, validatePostalCode } from './card';

describe('card number', () => {
  it('detects brands by prefix', () => {
    expect(detectBrand('4242')).toBe('visa');
    expect(detectBrand('5555')).toBe('mastercard');
    expect(detectBrand('2223')).toBe('mastercard');
    expect(detectBrand('3782')).toBe('amex');
    expect(detectBrand('6011')).toBe('discover');
    expect(detectBrand('3056')).toBe('diners');
    expect(detectBrand('3566')).toBe('jcb');
    expect(detectBrand('6200')).toBe('unionpay');
    expect(detectBrand('9999')).toBe('unknown');
  });

  it('formats in the brand’s groups', () => {
    expect(formatNumber('4242424242424242')).toBe('4242 4242 4242 4242');
    expect(formatNumber('378282246310005')).toBe('3782 822463 10005');
    expect(formatNumber('42424')).toBe('4242 4');
  });

  it('checks Luhn and length with Stripe’s codes', () => {
    expect(luhnValid('4242424242424242')).toBe(true);
    expect(luhnValid('4242424242424241')).toBe(false);
    expect(validateNumber('4242 4242 4242 4242')).toMatchObject({ complete: true, error: null });
    expect(validateNumber('4242 4242').error?.code).toBe('incomplete_number');
    expect(validateNumber('4242 4242').eagerError).toBeNull();
    expect(validateNumber('4242424242424241').eagerError?.code).toBe('invalid_number');
    expect(validateNumber('').empty).toBe(true);
  });
});

describe('expiry', () => {
  const now = new Date(2026, 5, 15);

  it('formats as MM / YY and can be backspaced', () => {
    expect(formatExpiry('4', '', false)).toBe('04 / ');
    expect(formatExpiry('12', '1', false)).toBe('12 / ');
    expect(formatExpiry('12 / 3', '12 / ', false)).toBe('12 / 3');
    expect(formatExpiry('12/34', '', false)).toBe('12 / 34');
    expect(formatExpiry('12 /', '12 / ', true)).toBe('1');
  });

  it('rejects past dates and bad months', () => {
    expect(validateExpiry('12 / 34', now).complete).toBe(true);
    expect(validateExpiry('06 / 26', now).complete).toBe(true);
    expect(validateExpiry('05 / 26', now).error?.code).toBe('invalid_expiry_month_past');
    expect(validateExpiry('12 / 20', now).error?.code).toBe('invalid_expiry_year_past');
    expect(validateExpiry('13', now).error?.code).toBe('invalid_expiry_month');
    expect(validateExpiry('12 / 3', now).error?.code).toBe('incomplete_expiry');
  });
});

describe('cvc and postal code', () => {
  it('wants four digits for amex', () => {
    expect(validateCvc('123', '4242424242424242').complete).toBe(true);
    expect(validateCvc('123', '378282246310005').error?.code).toBe('incomplete_cvc');
  });

  it('wants a US ZIP for the US', () => {
    expect(validatePostalCode('94107', 'US').complete).toBe(true);
    expect(validatePostalCode('941', 'US').error?.message).toBe('Your ZIP code is incomplete.');
    expect(validatePostalCode('SW1A 1AA', 'GB').complete).toBe(true);
  });
});
