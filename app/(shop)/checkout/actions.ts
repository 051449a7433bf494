'use server';

import { headers } from 'next/headers';
import { readCartId } from '@/lib/cart/session';
import { config } from '@/lib/config';
import { startPayment, type StartPaymentResult } from '@/lib/checkout/start-payment';
import { prisma, stripeGateway } from '@/lib/services';
import { logger } from '@/lib/observability/logger';
import { SubmitRateLimiter } from '@/lib/security/submit-rate';
import { withRequestContext } from '@/lib/observability/request-context';
import { clientAddressFrom } from '@/lib/security/client-address';

// One per process: every checkout submit passes this action.
const submitLimiter = new SubmitRateLimiter();

export async function startPaymentAction(input: unknown): Promise<StartPaymentResult> {
  const h = await headers();
  const clientIp = clientAddressFrom(h) ?? undefined;
  // One request id from here through the gateway's logs and spans (the load balancer's if it sent one).
  return withRequestContext(
    async () => {
      try {
        return await startPayment({ prisma: await prisma(), gateway: stripeGateway(), clientIp, holdMinutes: config().STOCK_HOLD_MINUTES, submitLimiter }, await readCartId(), input);
      } catch (err) {
        logger().error({ err }, 'startPayment failed');
        return { kind: 'error', message: 'Something went wrong on our side. Your cart is saved — please try again.' };
      }
    },
    { requestId: /^[A-Za-z0-9_-]{8,64}$/.test(h.get('x-request-id') ?? '') ? h.get('x-request-id')! : undefined, origin: 'checkout' },
  );
}
