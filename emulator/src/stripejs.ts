// Placeholder: the Stripe.js / Payment Element part of the emulator is being built here.
// Contract with server.ts: return true when the request was handled.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface StripeJsContext {
  /** Public base URL of the emulator, e.g. http://127.0.0.1:12111 */
  origin: string;
}

export function handleStripeJsRequest(_req: IncomingMessage, _res: ServerResponse, _url: URL, _ctx: StripeJsContext): boolean {
  return false;
}
