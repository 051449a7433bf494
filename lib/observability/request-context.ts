// A request id that follows one shopper request (a checkout, a webhook, a job) through every
// await, so the gateway's logs and spans can be joined to the request that caused them.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export interface RequestContext {
  requestId: string;
  /** What started it: 'checkout', 'webhook', 'job:<name>', … */
  origin?: string;
}

// One store per process, on globalThis: the gateway is shared by every Next.js bundle
// (lib/services.ts) and reads the id through the copy of this module it was built with, while
// a route or a job sets it through the copy of its own bundle; they must be the same store.
const g = globalThis as unknown as { __briskRequestContext?: AsyncLocalStorage<RequestContext> };
const storage = (g.__briskRequestContext ??= new AsyncLocalStorage<RequestContext>());

/** Runs `fn` with a request id (a new one unless given); nested calls keep the outer id. */
export function withRequestContext<T>(fn: () => T, ctx: Partial<RequestContext> = {}): T {
  const outer = storage.getStore();
  if (outer && !ctx.requestId) return fn();
  return storage.run({ requestId: ctx.requestId ?? randomUUID(), origin: ctx.origin ?? outer?.origin }, fn);
}

export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}
