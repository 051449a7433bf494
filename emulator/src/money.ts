// Currencies and amount limits. Amounts are integers in the currency's smallest unit.
import { errors } from './errors';

const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);

const SUPPORTED = new Set([
  'usd', 'eur', 'gbp', 'cad', 'aud', 'nzd', 'chf', 'sek', 'nok', 'dkk', 'pln', 'czk', 'huf', 'ron', 'bgn', 'isk',
  'jpy', 'krw', 'sgd', 'hkd', 'twd', 'thb', 'myr', 'php', 'idr', 'inr', 'mxn', 'brl', 'ars', 'clp', 'cop', 'pen',
  'zar', 'aed', 'sar', 'ils', 'try', 'egp', 'ngn', 'kes', 'vnd', 'pkr', 'bif', 'djf', 'gnf', 'kmf', 'mga', 'pyg',
  'rwf', 'ugx', 'vuv', 'xaf', 'xof', 'xpf',
]);

// Stripe's minimum charge amounts (about 50 US cents), in the smallest unit.
const MINIMUM: Record<string, number> = {
  usd: 50, eur: 50, gbp: 30, cad: 50, aud: 50, nzd: 50, chf: 50, sgd: 50, jpy: 50, inr: 50, brl: 50,
  aed: 200, bgn: 100, czk: 1500, dkk: 250, hkd: 400, huf: 17500, mxn: 1000, myr: 200, nok: 300, pln: 200,
  ron: 200, sek: 300, thb: 1000,
};

export const MAX_AMOUNT = 99_999_999;

const SYMBOL: Record<string, string> = { usd: '$', eur: '€', gbp: '£', jpy: '¥', cad: '$', aud: '$', nzd: '$', sgd: '$', hkd: '$' };

export function isZeroDecimal(currency: string): boolean {
  return ZERO_DECIMAL.has(currency);
}

export function formatAmount(amount: number, currency: string): string {
  const major = isZeroDecimal(currency) ? String(amount) : (amount / 100).toFixed(2);
  const [whole, fraction] = major.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${SYMBOL[currency] ?? ''}${fraction === undefined ? grouped : `${grouped}.${fraction}`}`;
}

export function validateCurrency(currency: string, param = 'currency'): string {
  const lower = currency.toLowerCase();
  if (!SUPPORTED.has(lower)) {
    throw errors.invalid(`Invalid currency: ${currency}. Stripe currently supports these currencies: ${[...SUPPORTED].join(', ')}`, param);
  }
  return lower;
}

export function validateAmount(amount: number, currency: string, param = 'amount'): void {
  const minimum = MINIMUM[currency] ?? 50;
  if (amount < minimum) {
    throw errors.invalid(`Amount must be at least ${formatAmount(minimum, currency)} ${currency}`, param, 'amount_too_small');
  }
  if (amount > MAX_AMOUNT) {
    throw errors.invalid(`Amount must be no more than ${formatAmount(MAX_AMOUNT, currency)}`, param, 'amount_too_large');
  }
}
