// An EventGateway for tests whose events never reach Stripe: any call is a test bug and says so.
import type { EventGateway } from '@/lib/orders/stripe-events';

const notUsed = async (): Promise<never> => {
  throw new Error('not used');
};

export const unusedEventGateway: EventGateway = { retrievePaymentIntent: notUsed, retrieveCharge: notUsed, listRefunds: notUsed };
