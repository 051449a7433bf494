// The audit log: who did what to which record, from where. Written for sign-ins, failed
// sign-ins, sign-outs and every admin action that moves money or changes an order.
import type { Prisma, PrismaClient } from '@/lib/generated/prisma/client';

export type AuditAction =
  | 'admin.sign_in'
  | 'admin.sign_in_failed'
  | 'admin.sign_in_locked'
  | 'admin.sign_out'
  | 'admin.session_revoked'
  | 'admin.created'
  | 'admin.password_changed'
  | 'admin.password_change_failed'
  | 'order.refund_requested'
  | 'order.refund_failed'
  | 'order.canceled'
  | 'order.cancel_failed'
  | 'order.receipt_resent'
  | 'order.review_approved'
  | 'order.review_rejected'
  | 'reconciliation.run'
  | 'stripe_event.replayed';

export interface AuditEntry {
  actor: string;
  action: AuditAction;
  target?: string | null;
  detail?: Prisma.InputJsonValue;
  ip?: string | null;
}

type Db = Pick<PrismaClient, 'auditLog'> | Prisma.TransactionClient;

export async function audit(db: Db, entry: AuditEntry): Promise<void> {
  await db.auditLog.create({ data: { actor: entry.actor, action: entry.action, target: entry.target ?? null, detail: entry.detail, ip: entry.ip ?? null } });
}
