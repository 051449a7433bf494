// The order's double-entry ledger: accounts, and the lines of one transaction (each txKey sums
// to zero). Amounts are integers in minor units of the line's currency.
import { randomUUID } from 'node:crypto';

/** Ledger accounts. Debits positive, credits negative; each txKey sums to zero. */
export const ACCOUNTS = {
  stripeBalance: 'stripe_balance',
  sales: 'sales',
  refunds: 'refunds',
  // Money taken that the order must not keep (a superseded attempt succeeding, a second
  // payment, a payment after cancellation): a liability until its automatic refund succeeds.
  unexpectedPayments: 'unexpected_payments',
} as const;

export interface LedgerLine {
  id: string;
  txKey: string;
  account: string;
  amount: number;
  currency: string;
  memo: string;
}

/** The lines of one ledger transaction; refuses one that does not balance. */
export function ledgerLines(txKey: string, currency: string, memo: string, lines: [account: string, amount: number][]): LedgerLine[] {
  if (lines.reduce((s, [, a]) => s + a, 0) !== 0) throw new Error(`ledger transaction ${txKey} does not balance`);
  return lines.map(([account, amount]) => ({ id: randomUUID(), txKey, account, amount, currency, memo }));
}
