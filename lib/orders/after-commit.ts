// What runs after an order transaction commits: the job system registers enqueuers when it
// starts. Without them, committed work (a `queued` email, a `reserved` refund, a superseded
// attempt) waits for the minutely sweep, which finds it from the rows.
//
// Kept on globalThis because Next.js bundles lib/ once per route: the copy that
// instrumentation.ts starts the jobs from is not the copy a page or server action runs, and a
// module-level variable set in one is invisible to the other (receipts then waited for the
// sweep whenever the order page, not the webhook, marked an order paid).
export interface AfterCommitHooks {
  emailQueued?: (emailId: string) => Promise<unknown> | unknown;
  refundReserved?: (refundId: string) => Promise<unknown> | unknown;
  attemptSuperseded?: (orderId: string, attemptNumber: number) => Promise<unknown> | unknown;
}

const slot = globalThis as unknown as { __briskAfterCommit?: AfterCommitHooks };

export function setAfterCommitHooks(next: AfterCommitHooks): void {
  slot.__briskAfterCommit = { ...next };
}

export function afterCommitHooks(): AfterCommitHooks {
  return slot.__briskAfterCommit ?? {};
}
