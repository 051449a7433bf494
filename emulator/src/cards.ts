// Stripe's test cards and what each one does. Messages, codes and decline codes are Stripe's own.
import type { CardBrand, CardFunding, ChargeOutcome } from './types';

export interface Decline {
  code: string;
  decline_code: string;
  message: string;
  param?: string;
  outcome: Omit<ChargeOutcome, 'advice_code' | 'network_advice_code'>;
  cvcCheck?: 'fail';
}

export interface CardBehavior {
  brand: CardBrand;
  funding: CardFunding;
  country: string;
  /** The charge needs a 3-D Secure challenge first. */
  threeDSecure: boolean;
  /** Declined when charged (after authentication, for 3-D Secure cards). */
  decline: Decline | null;
  riskLevel: ChargeOutcome['risk_level'];
  riskScore: number;
  checks: Entry['checks'];
}

function issuerDecline(code: string, declineCode: string, message: string, seller: string, riskScore = 42, param?: string): Decline {
  return {
    code,
    decline_code: declineCode,
    message,
    ...(param ? { param } : {}),
    outcome: {
      network_decline_code: declineCode === 'generic_decline' ? '05' : null,
      network_status: 'declined_by_network',
      reason: declineCode,
      risk_level: 'normal',
      risk_score: riskScore,
      seller_message: seller,
      type: 'issuer_declined',
    },
  };
}

const BANK_NO_DETAILS = 'The bank did not return any further details with this decline.';
const bankCode = (code: string) => `The bank returned the decline code \`${code}\`.`;

export const DECLINES = {
  generic: issuerDecline('card_declined', 'generic_decline', 'Your card was declined.', BANK_NO_DETAILS, 38),
  insufficientFunds: issuerDecline('card_declined', 'insufficient_funds', 'Your card has insufficient funds.', bankCode('insufficient_funds'), 44),
  lostCard: issuerDecline('card_declined', 'lost_card', 'Your card was declined.', bankCode('lost_card'), 51),
  stolenCard: issuerDecline('card_declined', 'stolen_card', 'Your card was declined.', bankCode('stolen_card'), 53),
  expiredCard: issuerDecline('expired_card', 'expired_card', 'Your card has expired.', 'The bank returned the decline code `expired_card`.', 21, 'exp_month'),
  incorrectCvc: { ...issuerDecline('incorrect_cvc', 'incorrect_cvc', "Your card's security code is incorrect.", 'The bank returned the decline code `incorrect_cvc`.', 33, 'cvc'), cvcCheck: 'fail' as const },
  processingError: issuerDecline('processing_error', 'processing_error', 'An error occurred while processing your card. Try again in a little bit.', 'The bank returned the decline code `processing_error`.', 17),
  fraudulent: {
    code: 'card_declined',
    decline_code: 'fraudulent',
    message: 'Your card was declined.',
    outcome: {
      network_decline_code: null,
      network_status: 'not_sent_to_network',
      reason: 'highest_risk_level',
      risk_level: 'highest',
      risk_score: 95,
      seller_message: 'Stripe blocked this payment as too risky.',
      type: 'blocked',
    },
  } satisfies Decline,
  authenticationRequired: issuerDecline(
    'authentication_required',
    'authentication_required',
    'Your card was declined. This transaction requires authentication.',
    bankCode('authentication_required'),
    30,
  ),
  velocityExceeded: issuerDecline('card_declined', 'card_velocity_exceeded', 'Your card was declined.', bankCode('card_velocity_exceeded'), 40),
  liveCard: issuerDecline(
    'card_declined',
    'test_mode_live_card',
    'Your card was declined. Your request was in test mode, but used a non test (live) card. For a list of valid test cards, visit: https://stripe.com/docs/testing.',
    bankCode('test_mode_live_card'),
    30,
  ),
} as const;

/** A check's result on a charge when the card forces one (AVS and CVC test cards). */
export type CheckResult = 'fail' | 'unavailable';

interface Entry {
  funding?: CardFunding;
  country?: string;
  threeDSecure?: boolean;
  decline?: Decline;
  riskLevel?: ChargeOutcome['risk_level'];
  riskScore?: number;
  checks?: { cvc?: CheckResult; line1?: CheckResult; postalCode?: CheckResult };
}

const BLOCKED_HIGHEST_RISK: Decline = { ...DECLINES.fraudulent, outcome: { ...DECLINES.fraudulent.outcome, risk_score: 82 } };

/**
 * Stripe's documented test cards (docs.stripe.com/testing) with the outcome each one documents,
 * and, by the same name, the `pm_card_*` PaymentMethod and `tok_*` token for each.
 */
const TEST_CARDS: Record<string, Entry & { names?: string[] }> = {
  // By brand: the charge succeeds.
  '4242424242424242': { names: ['visa', 'us'] },
  '4000056655665556': { funding: 'debit', names: ['visa_debit'] },
  '5555555555554444': { names: ['mastercard'] },
  '2223003122003222': {},
  '5200828282828210': { funding: 'debit', names: ['mastercard_debit'] },
  '5105105105105100': { funding: 'prepaid', names: ['mastercard_prepaid'] },
  '378282246310005': { names: ['amex', 'amex_threeDSecureNotSupported'] },
  '371449635398431': {},
  '6011111111111117': { names: ['discover'] },
  '6011000990139424': {},
  '6011981111111113': { funding: 'debit' },
  '3056930009020004': { names: ['diners'] },
  '36227206271667': {},
  '6555900000604105': {},
  '3566002020360505': { names: ['jcb'] },
  '6200000000000005': { names: ['unionpay'] },
  '6200000000000047': { funding: 'debit' },
  '6205500000000000004': {},
  // By country (a Visa issued there).
  '4000000760000002': { country: 'BR', names: ['br'] },
  '4000001240000000': { country: 'CA', names: ['ca'] },
  '4000004840008001': { country: 'MX', names: ['mx'] },
  '4000000400000008': { country: 'AT', names: ['at'] },
  '4000000560000004': { country: 'BE', names: ['be'] },
  '4000002080000001': { country: 'DK', names: ['dk'] },
  '4000002460000001': { country: 'FI', names: ['fi'] },
  '4000002500000003': { country: 'FR', names: ['fr'] },
  '4000002760000016': { country: 'DE', names: ['de'] },
  '4000003720000005': { country: 'IE', names: ['ie'] },
  '4000003800000008': { country: 'IT', names: ['it'] },
  '4000005280000002': { country: 'NL', names: ['nl'] },
  '4000005780000007': { country: 'NO', names: ['no'] },
  '4000007240000007': { country: 'ES', names: ['es'] },
  '4000007520000008': { country: 'SE', names: ['se'] },
  '4000007560000009': { country: 'CH', names: ['ch'] },
  '4000008260000000': { country: 'GB', names: ['gb'] },
  '4000000360000006': { country: 'AU', names: ['au'] },
  '4000003920000003': { country: 'JP', names: ['jp'] },
  '4000007020000003': { country: 'SG', names: ['sg'] },
  // Declines.
  '4000000000000002': { decline: DECLINES.generic, names: ['chargeDeclined', 'visa_chargeDeclined'] },
  '4000000000009995': { decline: DECLINES.insufficientFunds, names: ['chargeDeclinedInsufficientFunds', 'visa_chargeDeclinedInsufficientFunds'] },
  '4000000000009987': { decline: DECLINES.lostCard, names: ['chargeDeclinedLostCard', 'visa_chargeDeclinedLostCard'] },
  '4000000000009979': { decline: DECLINES.stolenCard, names: ['chargeDeclinedStolenCard', 'visa_chargeDeclinedStolenCard'] },
  '4000000000006975': { decline: DECLINES.velocityExceeded, names: ['chargeDeclinedVelocityLimitExceeded', 'visa_chargeDeclinedVelocityLimitExceeded'] },
  '4000000000000069': { decline: DECLINES.expiredCard, names: ['chargeDeclinedExpiredCard'] },
  '4000000000000127': { decline: DECLINES.incorrectCvc, names: ['chargeDeclinedIncorrectCvc'] },
  '4000000000000119': { decline: DECLINES.processingError, names: ['chargeDeclinedProcessingError'] },
  // Attaching it to a customer works; every charge is declined.
  '4000000000000341': { decline: DECLINES.generic, names: ['chargeCustomerFail'] },
  // Fraud prevention (Radar).
  '4100000000000019': { decline: DECLINES.fraudulent, names: ['radarBlock', 'chargeDeclinedFraudulent'] },
  '4000000000004954': { decline: BLOCKED_HIGHEST_RISK, names: ['riskLevelHighest'] },
  '4000000000009235': { riskLevel: 'elevated', riskScore: 65, names: ['riskLevelElevated'] },
  '4000000000000101': { checks: { cvc: 'fail' }, names: ['cvcCheckFail'] },
  '4000000000000036': { checks: { postalCode: 'fail' }, names: ['avsZipFail'] },
  '4000000000000028': { checks: { line1: 'fail' }, names: ['avsLine1Fail'] },
  '4000000000000010': { checks: { line1: 'fail', postalCode: 'fail' }, names: ['avsFail'] },
  '4000000000000044': { checks: { line1: 'unavailable', postalCode: 'unavailable' }, names: ['avsUnchecked'] },
  // 3-D Secure.
  '4000002500003155': { threeDSecure: true, names: ['authenticationRequiredOnSetup'] },
  '4000002760003184': { threeDSecure: true, names: ['authenticationRequired'] },
  '4000008260003178': { threeDSecure: true, decline: DECLINES.insufficientFunds, names: ['authenticationRequiredChargeDeclinedInsufficientFunds'] },
  '4000000000003220': { threeDSecure: true, names: ['threeDSecure2Required'] },
  '4000000000003063': { threeDSecure: true, names: ['threeDSecureRequired'] },
  '4000008400001629': { threeDSecure: true, decline: DECLINES.generic, names: ['threeDSecureRequiredChargeDeclined'] },
  '4000000000003055': { names: ['threeDSecureOptional'] },
};

/** The documented test card numbers (for the table-driven test). */
export const TEST_CARD_NUMBERS: readonly string[] = Object.keys(TEST_CARDS);

function shortcuts(prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [number, entry] of Object.entries(TEST_CARDS)) for (const name of entry.names ?? []) out[`${prefix}${name}`] = number;
  return out;
}

/** `pm_card_*` shortcuts: each use creates a fresh PaymentMethod for this card number. */
export const PAYMENT_METHOD_SHORTCUTS: Readonly<Record<string, string>> = shortcuts('pm_card_');

/** Test tokens (`card[token]=tok_visa` when creating a PaymentMethod): the card number each stands for. */
export const TEST_TOKENS: Readonly<Record<string, string>> = shortcuts('tok_');

export function brandOf(number: string): CardBrand {
  if (/^4/.test(number)) return 'visa';
  if (/^(5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720))/.test(number)) return 'mastercard';
  if (/^3[47]/.test(number)) return 'amex';
  if (/^(6011|65|64[4-9])/.test(number)) return 'discover';
  if (/^(36|30[0-5]|38)/.test(number)) return 'diners';
  if (/^35/.test(number)) return 'jcb';
  if (/^62/.test(number)) return 'unionpay';
  return 'unknown';
}

/** `card.display_brand`: the brand as Stripe names it to shoppers (its documented values). */
const DISPLAY_BRANDS: Partial<Record<CardBrand, string>> = { amex: 'american_express', diners: 'diners_club', unionpay: 'union_pay' };

export function displayBrandOf(brand: CardBrand): string {
  return DISPLAY_BRANDS[brand] ?? brand;
}

export function luhnValid(number: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = number.length - 1; i >= 0; i--) {
    let d = number.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

export function behaviorOf(number: string): CardBehavior {
  const entry = TEST_CARDS[number];
  const base = { brand: brandOf(number), country: 'US' };
  if (!entry) {
    // Stripe declines real card numbers in test mode.
    return { ...base, funding: 'credit', threeDSecure: false, decline: DECLINES.liveCard, riskLevel: 'normal', riskScore: 30, checks: undefined };
  }
  const decline = entry.decline ?? null;
  return {
    ...base,
    funding: entry.funding ?? 'credit',
    country: entry.country ?? 'US',
    threeDSecure: entry.threeDSecure ?? false,
    decline,
    riskLevel: entry.riskLevel ?? decline?.outcome.risk_level ?? 'normal',
    riskScore: entry.riskScore ?? decline?.outcome.risk_score ?? 32,
    checks: entry.checks,
  };
}

export function successOutcome(card: CardBehavior): ChargeOutcome {
  const elevated = card.riskLevel === 'elevated';
  return {
    advice_code: null,
    network_advice_code: null,
    network_decline_code: null,
    network_status: 'approved_by_network',
    reason: elevated ? 'elevated_risk_level' : null,
    risk_level: card.riskLevel,
    risk_score: card.riskScore,
    seller_message: elevated
      ? 'Stripe evaluated this payment as having elevated risk, and placed it in your manual review queue.'
      : 'Payment complete.',
    type: elevated ? 'manual_review' : 'authorized',
  };
}

export function declineOutcome(decline: Decline): ChargeOutcome {
  return { advice_code: null, network_advice_code: null, ...decline.outcome };
}
