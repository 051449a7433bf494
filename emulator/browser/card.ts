// Card-field rules for the emulated Payment Element: brand detection, formatting and
// validation with Stripe's own error codes and messages. Runs inside the card iframe only.

export type CardBrand = 'visa' | 'mastercard' | 'amex' | 'discover' | 'diners' | 'jcb' | 'unionpay' | 'unknown';

interface BrandRule {
  brand: CardBrand;
  prefix: RegExp;
  lengths: number[];
  /** Digit groups used when formatting the number. */
  gaps: number[];
  cvcLength: number;
}

// Order matters: the first matching prefix wins.
const BRANDS: BrandRule[] = [
  { brand: 'amex', prefix: /^3[47]/, lengths: [15], gaps: [4, 10], cvcLength: 4 },
  { brand: 'diners', prefix: /^(36|30[0-5]|3095|3[89])/, lengths: [14, 16], gaps: [4, 10], cvcLength: 3 },
  { brand: 'jcb', prefix: /^35/, lengths: [16], gaps: [4, 8, 12], cvcLength: 3 },
  { brand: 'discover', prefix: /^(6011|64[4-9]|65)/, lengths: [16], gaps: [4, 8, 12], cvcLength: 3 },
  { brand: 'unionpay', prefix: /^62/, lengths: [16, 17, 18, 19], gaps: [4, 8, 12], cvcLength: 3 },
  { brand: 'mastercard', prefix: /^(5[1-5]|222[1-9]|22[3-9]|2[3-6]|27[01]|2720)/, lengths: [16], gaps: [4, 8, 12], cvcLength: 3 },
  { brand: 'visa', prefix: /^4/, lengths: [16], gaps: [4, 8, 12], cvcLength: 3 },
];

const UNKNOWN: BrandRule = { brand: 'unknown', prefix: /^/, lengths: [16], gaps: [4, 8, 12], cvcLength: 3 };

function ruleFor(digits: string): BrandRule {
  return BRANDS.find((rule) => rule.prefix.test(digits)) ?? UNKNOWN;
}

export function detectBrand(digits: string): CardBrand {
  return digits ? ruleFor(digits).brand : 'unknown';
}

export function maxNumberLength(digits: string): number {
  const { lengths } = ruleFor(digits);
  return lengths[lengths.length - 1];
}

export function cvcLengthFor(digits: string): number {
  return ruleFor(digits).cvcLength;
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits.length > 0 && sum % 10 === 0;
}

export function onlyDigits(value: string): string {
  return value.replace(/\D/g, '');
}

export function formatNumber(digits: string): string {
  const { gaps } = ruleFor(digits);
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (gaps.includes(i)) out += ' ';
    out += digits[i];
  }
  return out;
}

/**
 * Formats expiry input as "MM / YY". `deleting` is true when the user pressed
 * backspace, so "12 / " can shrink back to "1" instead of being re-padded.
 */
export function formatExpiry(raw: string, previous: string, deleting: boolean): string {
  let digits = onlyDigits(raw).slice(0, 4);
  if (deleting && previous.endsWith(' / ') && digits.length === 2 && onlyDigits(previous).length === 2) {
    digits = digits.slice(0, 1);
  }
  if (digits.length === 1 && digits > '1') digits = '0' + digits;
  if (digits.length > 2) return `${digits.slice(0, 2)} / ${digits.slice(2)}`;
  if (digits.length === 2) return deleting ? digits : `${digits} / `;
  return digits;
}

export interface FieldError {
  code: string;
  message: string;
}

export type FieldName = 'number' | 'expiry' | 'cvc' | 'postalCode';

export interface CardValues {
  number: string;
  expiry: string;
  cvc: string;
  country: string;
  postalCode: string;
}

export interface FieldState {
  empty: boolean;
  complete: boolean;
  /** An error worth showing while the user is still typing (invalid, never merely incomplete). */
  eagerError: FieldError | null;
  /** The error to show on blur or submit: includes "incomplete". */
  error: FieldError | null;
}

const MESSAGES = {
  incomplete_number: 'Your card number is incomplete.',
  invalid_number: 'Your card number is invalid.',
  incomplete_expiry: "Your card's expiration date is incomplete.",
  invalid_expiry_month: "Your card's expiration month is invalid.",
  invalid_expiry_month_past: "Your card's expiration date is in the past.",
  invalid_expiry_year_past: "Your card's expiration year is in the past.",
  invalid_expiry_year: "Your card's expiration year is invalid.",
  incomplete_cvc: "Your card's security code is incomplete.",
  incomplete_zip: 'Your ZIP code is incomplete.',
  incomplete_postal_code: 'Your postal code is incomplete.',
} as const;

type ErrorCode = keyof typeof MESSAGES;

function err(code: ErrorCode): FieldError {
  return { code, message: MESSAGES[code] };
}

function state(empty: boolean, error: FieldError | null, eager: boolean): FieldState {
  return { empty, complete: !empty && !error, eagerError: eager ? error : null, error };
}

export function validateNumber(value: string): FieldState {
  const digits = onlyDigits(value);
  if (!digits) return state(true, err('incomplete_number'), false);
  const { lengths } = ruleFor(digits);
  const max = lengths[lengths.length - 1];
  if (digits.length > max) return state(false, err('invalid_number'), true);
  if (!lengths.includes(digits.length)) return state(false, err('incomplete_number'), false);
  if (!luhnValid(digits)) return state(false, err('invalid_number'), digits.length === max);
  return state(false, null, false);
}

export function validateExpiry(value: string, now: Date = new Date()): FieldState {
  const digits = onlyDigits(value);
  if (!digits) return state(true, err('incomplete_expiry'), false);
  const month = Number(digits.slice(0, 2));
  if (digits.length >= 2 && (month < 1 || month > 12)) return state(false, err('invalid_expiry_month'), true);
  if (digits.length < 4) return state(false, err('incomplete_expiry'), false);
  const year = 2000 + Number(digits.slice(2, 4));
  const thisYear = now.getFullYear();
  if (year < thisYear) return state(false, err('invalid_expiry_year_past'), true);
  if (year === thisYear && month < now.getMonth() + 1) return state(false, err('invalid_expiry_month_past'), true);
  if (year > thisYear + 50) return state(false, err('invalid_expiry_year'), true);
  return state(false, null, false);
}

export function validateCvc(value: string, numberValue: string): FieldState {
  const digits = onlyDigits(value);
  if (!digits) return state(true, err('incomplete_cvc'), false);
  if (digits.length < cvcLengthFor(onlyDigits(numberValue))) return state(false, err('incomplete_cvc'), false);
  return state(false, null, false);
}

export function validatePostalCode(value: string, country: string): FieldState {
  const trimmed = value.trim();
  const code: ErrorCode = country === 'US' ? 'incomplete_zip' : 'incomplete_postal_code';
  if (!trimmed) return state(true, err(code), false);
  if (country === 'US' && !/^\d{5}(-?\d{4})?$/.test(trimmed)) return state(false, err(code), false);
  return state(false, null, false);
}

/** Parses "MM / YY" into numbers for the PaymentMethod request. */
export function parseExpiry(value: string): { month: number; year: number } {
  const digits = onlyDigits(value);
  return { month: Number(digits.slice(0, 2)), year: 2000 + Number(digits.slice(2, 4)) };
}
