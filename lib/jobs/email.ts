// Sending a stored Email. The row's status is the idempotency record: only a `queued` email is
// claimed (→ `sending`) and sent, so a retried or duplicated job never sends twice. Without
// SMTP_URL the database is the mailbox: the email is marked `stored` for the admin to read.
import nodemailer from 'nodemailer';
import { z } from 'zod';
import type { PrismaClient } from '@/lib/generated/prisma/client';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string | null;
}

export interface Mailer {
  send(mail: OutgoingMail): Promise<void>;
}

export const EmailJobData = z.object({ emailId: z.string().uuid() });
export type EmailJobData = z.infer<typeof EmailJobData>;

export function smtpMailer(url: string, from = process.env.MAIL_FROM ?? 'Brisk <orders@brisk.local>'): Mailer {
  const transport = nodemailer.createTransport(url);
  return {
    async send(mail) {
      await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html ?? undefined });
    },
  };
}

export type SendOutcome = 'sent' | 'stored' | 'skipped';

export async function sendEmail(prisma: PrismaClient, mailer: Mailer | null, emailId: string): Promise<SendOutcome> {
  if (!mailer) {
    const r = await prisma.email.updateMany({ where: { id: emailId, status: 'queued' }, data: { status: 'stored', error: null } });
    return r.count === 1 ? 'stored' : 'skipped';
  }
  const claimed = await prisma.email.updateMany({ where: { id: emailId, status: 'queued' }, data: { status: 'sending', claimedAt: new Date() } });
  if (claimed.count !== 1) return 'skipped';
  const email = await prisma.email.findUniqueOrThrow({ where: { id: emailId } });
  try {
    await mailer.send({ to: email.to, subject: email.subject, text: email.text, html: email.html });
  } catch (err) {
    // Back to the queue with the reason; the job's retry (or the sweep) tries again.
    await prisma.email.update({ where: { id: emailId }, data: { status: 'queued', error: err instanceof Error ? err.message.slice(0, 1_000) : String(err) } });
    throw err;
  }
  await prisma.email.update({ where: { id: emailId }, data: { status: 'sent', sentAt: new Date(), error: null } });
  return 'sent';
}

/**
 * Emails a sender claimed and never finished (the process died mid-send) back to `queued`, so
 * the sweep sends them. A claim is lost once it is older than the send job's own timeout; an
 * email that did leave before the crash may then go out twice, which beats never.
 */
export async function requeueLostEmails(prisma: PrismaClient, claimedBefore: Date): Promise<number> {
  const r = await prisma.email.updateMany({ where: { status: 'sending', OR: [{ claimedAt: { lt: claimedBefore } }, { claimedAt: null, createdAt: { lt: claimedBefore } }] }, data: { status: 'queued', claimedAt: null } });
  return r.count;
}

/** After the last retry: the email stays in the database, marked failed, for the admin. */
export async function markEmailFailed(prisma: PrismaClient, emailId: string): Promise<void> {
  await prisma.email.updateMany({ where: { id: emailId, status: 'queued' }, data: { status: 'failed' } });
}
