// The risk review of a paid order, as the order's owner records it: the score (lib/risk, pure
// rules and the signal query), the hold on its fulfilment, the timeline entry.
import type { Prisma, PrismaClient } from '@/lib/generated/prisma/client';
import { gatherRiskInput, scoreRisk, type RiskAssessment } from '@/lib/risk/score';
import { lockOrder } from './apply';
import { hasBeenPaid } from './state-machine';

/**
 * Scores a paid order once and, above the threshold, holds it for review. Call it after the
 * order becomes paid; calling it again does nothing (a decided review is never reopened).
 */
export async function assessOrderRisk(prisma: PrismaClient, orderId: string, opts: { now?: Date; force?: boolean } = {}): Promise<RiskAssessment | null> {
  const order = await prisma.order.findUnique({ where: { id: orderId }, select: { status: true, riskReasons: true, reviewStatus: true } });
  if (!order || !hasBeenPaid(order.status)) return null;
  if (order.riskReasons !== null && !opts.force) return null;
  const input = await gatherRiskInput(prisma, orderId, opts.now);
  if (!input) return null;
  const result = scoreRisk(input);
  await prisma.$transaction(async (tx) => {
    const current = await lockOrder(tx, orderId);
    if (current.riskReasons !== null && !opts.force) return;
    const hold = result.review && current.reviewStatus === 'none';
    await tx.order.update({
      where: { id: orderId },
      data: { riskScore: result.score, riskLevel: result.level, riskReasons: result.reasons as unknown as Prisma.InputJsonValue, ...(hold ? { reviewStatus: 'pending_review' } : {}) },
    });
    if (hold) {
      // Only a fulfillment that has not started yet can wait; the paid transition created it.
      const existing = await tx.fulfillment.findUnique({ where: { orderId }, select: { status: true } });
      if (!existing) await tx.fulfillment.create({ data: { orderId, status: 'on_hold', note: 'risk review' } });
      else if (existing.status === 'pending') await tx.fulfillment.update({ where: { orderId }, data: { status: 'on_hold', note: 'risk review' } });
    }
    await tx.orderEvent.create({ data: { orderId, kind: 'risk_assessed', source: 'risk', detail: { score: result.score, level: result.level, held: hold, reasons: result.reasons.map((r) => r.code) } } });
  });
  return result;
}
