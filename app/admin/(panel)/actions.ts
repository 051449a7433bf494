'use server';
// Every admin server action: requireAdmin() first (the layout's check does not cover actions),
// zod-parsed input, one call into lib/, then a redirect that carries the outcome. Next checks
// the Origin of every server action against the host, so cross-site posts are refused.
import { revalidatePath } from 'next/cache';
import { redirect } from 'next/navigation';
import { z } from 'zod';
import { parseUntrusted } from '@/lib/validation';
import { prisma, stripeGateway } from '@/lib/services';
import { audit } from '@/lib/admin/audit';
import { revokeSession, signOut } from '@/lib/admin/auth';
import { approveReview, cancelUnpaidOrder, rejectReview, resendReceipt } from '@/lib/admin/order-actions';
import { parseMajorAmount } from '@/lib/admin/orders-query';
import { clearAdminCookie, readAdminToken, requestMeta, requireAdmin } from '@/lib/admin/session';
import { replayStripeEvent } from '@/lib/jobs';
import { defaultWindow, runReconciliation } from '@/lib/orders/reconcile';
import { requestRefund } from '@/lib/orders/refunds';

const uuid = z.string().uuid();

function back(path: string, notice: string, tone: 'ok' | 'error' = 'ok'): never {
  revalidatePath(path);
  redirect(`${path}?${new URLSearchParams({ notice, tone })}`);
}

export async function signOutAction(): Promise<void> {
  const token = await readAdminToken();
  await signOut(await prisma(), token, { ip: (await requestMeta()).ip });
  await clearAdminCookie();
  redirect('/admin/login');
}

const RefundForm = z.object({ orderId: uuid, amount: z.string().max(20), refundNumber: z.coerce.number().int().min(1).max(10_000) });

export async function refundAction(formData: FormData): Promise<void> {
  const admin = await requireAdmin();
  const parsed = parseUntrusted(RefundForm, Object.fromEntries(formData));
  if (!parsed.success) redirect('/admin/orders');
  const { orderId, refundNumber } = parsed.data;
  const amount = parseMajorAmount(parsed.data.amount);
  const path = `/admin/orders/${orderId}`;
  if (amount === null) back(path, 'Enter an amount like 12.50.', 'error');
  const outcome = await requestRefund(await prisma(), stripeGateway(), { orderId, amount, refundNumber, actor: admin.email, ip: admin.ip, reason: 'requested_by_customer' });
  if (outcome.kind === 'ok') back(path, `Refund #${refundNumber} ${outcome.status === 'succeeded' ? 'succeeded' : `is ${outcome.status}`}.`);
  back(path, outcome.message, 'error');
}

const OrderForm = z.object({ orderId: uuid });

export async function cancelOrderAction(formData: FormData): Promise<void> {
  const admin = await requireAdmin();
  const parsed = parseUntrusted(OrderForm, Object.fromEntries(formData));
  if (!parsed.success) redirect('/admin/orders');
  const r = await cancelUnpaidOrder(await prisma(), stripeGateway(), parsed.data.orderId, { actor: admin.email, ip: admin.ip });
  back(`/admin/orders/${parsed.data.orderId}`, r.message, r.kind === 'ok' ? 'ok' : 'error');
}

export async function resendReceiptAction(formData: FormData): Promise<void> {
  const admin = await requireAdmin();
  const parsed = parseUntrusted(OrderForm, Object.fromEntries(formData));
  if (!parsed.success) redirect('/admin/orders');
  const r = await resendReceipt(await prisma(), parsed.data.orderId, { actor: admin.email, ip: admin.ip });
  back(`/admin/orders/${parsed.data.orderId}`, r.message, r.kind === 'ok' ? 'ok' : 'error');
}

const ReviewForm = z.object({ orderId: uuid, decision: z.enum(['approve', 'reject']), refundNumber: z.coerce.number().int().min(1).max(10_000).optional() });

export async function reviewAction(formData: FormData): Promise<void> {
  const admin = await requireAdmin();
  const parsed = parseUntrusted(ReviewForm, Object.fromEntries(formData));
  if (!parsed.success) redirect('/admin/review');
  const who = { actor: admin.email, ip: admin.ip };
  const { orderId, decision, refundNumber } = parsed.data;
  const r = decision === 'approve' ? await approveReview(await prisma(), orderId, who) : await rejectReview(await prisma(), stripeGateway(), orderId, refundNumber ?? 1, who);
  back('/admin/review', r.message, r.kind === 'ok' ? 'ok' : 'error');
}

export async function runReconciliationAction(): Promise<void> {
  const admin = await requireAdmin();
  const db = await prisma();
  const summary = await runReconciliation(db, stripeGateway(), { ...defaultWindow(), trigger: 'manual', actor: admin.email });
  await audit(db, { actor: admin.email, action: 'reconciliation.run', target: summary.runId, ip: admin.ip, detail: { status: summary.status, healed: summary.healed, unresolved: summary.unresolved } });
  back(
    '/admin/reconciliation',
    summary.status === 'succeeded' ? `Reconciliation checked ${summary.checked} objects: ${summary.healed} healed, ${summary.unresolved} to review.` : `Reconciliation failed: ${summary.error}`,
    summary.status === 'succeeded' ? 'ok' : 'error',
  );
}

const EventForm = z.object({ eventId: z.string().regex(/^evt_[A-Za-z0-9_]+$/) });

export async function replayEventAction(formData: FormData): Promise<void> {
  const admin = await requireAdmin();
  const parsed = parseUntrusted(EventForm, Object.fromEntries(formData));
  if (!parsed.success) redirect('/admin/ops');
  let ok = false;
  try {
    ok = await replayStripeEvent(parsed.data.eventId);
  } catch (err) {
    back('/admin/ops', `Could not replay: ${(err as Error).message}`, 'error');
  }
  await audit(await prisma(), { actor: admin.email, action: 'stripe_event.replayed', target: parsed.data.eventId, ip: admin.ip, detail: { queued: ok } });
  back('/admin/ops', ok ? `Event ${parsed.data.eventId} queued again.` : 'That event is not dead or failed any more.', ok ? 'ok' : 'error');
}

const SessionForm = z.object({ sessionId: z.string().regex(/^[0-9a-f]{64}$/) });

export async function revokeSessionAction(formData: FormData): Promise<void> {
  const admin = await requireAdmin();
  const parsed = parseUntrusted(SessionForm, Object.fromEntries(formData));
  if (!parsed.success) redirect('/admin/ops');
  const db = await prisma();
  const revoked = await revokeSession(db, parsed.data.sessionId);
  if (revoked) await audit(db, { actor: admin.email, action: 'admin.session_revoked', target: parsed.data.sessionId.slice(0, 12), ip: admin.ip });
  if (parsed.data.sessionId === admin.sessionId) {
    await clearAdminCookie();
    redirect('/admin/login');
  }
  back('/admin/ops', revoked ? 'Session revoked.' : 'That session had already ended.');
}
