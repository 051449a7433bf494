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
  liveCard: issuerDecline(
    'card_declined',
    'test_mode_live_card',
    'Your card was declined. Your request was in test mode, but used a non test (live) card. For a list of valid test cards, visit: https://stripe.com/docs/testing.',
    bankCode('test_mode_live_card'),
    30,
  ),
} as const;

interface Entry {
  funding?: CardFunding;
  country?: string;
  threeDSecure?: boolean;
  decline?: Decline;
  riskLevel?: ChargeOutcome['risk_level'];
  riskScore?: number;
}

const TEST_CARDS: Record<string, Entry> = {
  // Succeed
  '4242424242424242': {},
  '4000056655665556': { funding: 'debit' },
  '5555555555554444': {},
  '2223003122003222': {},
  '5200828282828210': { funding: 'debit' },
  '5105105105105100': { funding: 'prepaid' },
  '378282246310005': {},
  '371449635398431': {},
  '6011111111111117': {},
  '3056930009020004': {},
  '36227206271667': {},
  '3566002020360505': {},
  '6200000000000005': {},
  '4000000000009235': { riskLevel: 'elevated', riskScore: 65 },
  // Declines
  '4000000000000002': { decline: DECLINES.generic },
  '4000000000009995': { decline: DECLINES.insufficientFunds },
  '4000000000009987': { decline: DECLINES.lostCard },
  '4000000000009979': { decline: DECLINES.stolenCard },
  '4000000000000069': { decline: DECLINES.expiredCard },
  '4000000000000127': { decline: DECLINES.incorrectCvc },
  '4000000000000119': { decline: DECLINES.processingError },
  '4100000000000019': { decline: DECLINES.fraudulent },
  // 3-D Secure
  '4000002500003155': { threeDSecure: true },
  '4000002760003184': { threeDSecure: true },
  '4000000000003220': { threeDSecure: true },
  '4000008260003178': { threeDSecure: true, decline: DECLINES.insufficientFunds },
};

/** `pm_card_*` shortcuts: each use creates a fresh PaymentMethod for this card number. */
export const PAYMENT_METHOD_SHORTCUTS: Record<string, string> = {
  pm_card_visa: '4242424242424242',
  pm_card_visa_debit: '4000056655665556',
  pm_card_mastercard: '5555555555554444',
  pm_card_mastercard_debit: '5200828282828210',
  pm_card_mastercard_prepaid: '5105105105105100',
  pm_card_amex: '378282246310005',
  pm_card_discover: '6011111111111117',
  pm_card_diners: '3056930009020004',
  pm_card_jcb: '3566002020360505',
  pm_card_unionpay: '6200000000000005',
  pm_card_chargeDeclined: '4000000000000002',
  pm_card_chargeDeclinedInsufficientFunds: '4000000000009995',
  pm_card_chargeDeclinedLostCard: '4000000000009987',
  pm_card_chargeDeclinedStolenCard: '4000000000009979',
  pm_card_chargeDeclinedExpiredCard: '4000000000000069',
  pm_card_chargeDeclinedIncorrectCvc: '4000000000000127',
  pm_card_chargeDeclinedProcessingError: '4000000000000119',
  pm_card_chargeDeclinedFraudulent: '4100000000000019',
  pm_card_radarBlock: '4100000000000019',
  pm_card_riskLevelElevated: '4000000000009235',
  pm_card_authenticationRequired: '4000002760003184',
  pm_card_threeDSecure2Required: '4000000000003220',
  pm_card_authenticationRequiredChargeDeclinedInsufficientFunds: '4000008260003178',
};

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
    return { ...base, funding: 'credit', threeDSecure: false, decline: DECLINES.liveCard, riskLevel: 'normal', riskScore: 30 };
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
