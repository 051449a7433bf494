// Sending a stored Email. The row's status is the idempotency record: only a `queued` email is
// claimed (→ `sending`) and sent, so a retried or duplicated job never sends twice. A process
// that dies mid-send leaves the row `sending`: the sweep puts it back in the queue once no job
// holds it (requeueStalledEmail), and it is sent again under the same Message-ID. Without
// SMTP_URL the database is the mailbox: the email is marked `stored` for the admin to read.
import 'server-only';
import nodemailer from 'nodemailer';
import { z } from 'zod';
import type { AppConfig } from '@/lib/config';
import type { PrismaClient } from '@/lib/generated/prisma/client';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string | null;
  /**
   * The same for every try of one Email row: a send repeated after a crash (the server took
   * it, the process died before writing `sent`) reaches the mailbox as the same message, which
   * mail clients and servers recognise.
   */
  messageId?: string;
}

export interface Mailer {
  send(mail: OutgoingMail): Promise<void>;
}

export const EmailJobData = z.object({ emailId: z.string().uuid() });
export type EmailJobData = z.infer<typeof EmailJobData>;

export function smtpMailer(url: string, from = 'Brisk <orders@brisk.local>'): Mailer {
  const transport = nodemailer.createTransport(url);
  return {
    async send(mail) {
      await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html ?? undefined, messageId: mail.messageId });
    },
  };
}

/** SMTP_URL's mailer (From: MAIL_FROM), or null when it is unset: emails are stored only. */
export function smtpMailerFromConfig(cfg: Pick<AppConfig, 'SMTP_URL' | 'MAIL_FROM'>): Mailer | null {
  return cfg.SMTP_URL ? smtpMailer(cfg.SMTP_URL, cfg.MAIL_FROM) : null;
}

/** The Message-ID of an Email row's every send. */
export function messageIdFor(emailId: string): string {
  return `<${emailId}@brisk.mail>`;
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
    await mailer.send({ to: email.to, subject: email.subject, text: email.text, html: email.html, messageId: messageIdFor(email.id) });
  } catch (err) {
    // Back to the queue with the reason; the job's retry (or the sweep) tries again.
    await prisma.email.update({ where: { id: emailId }, data: { status: 'queued', error: err instanceof Error ? err.message.slice(0, 1_000) : String(err) } });
    throw err;
  }
  await prisma.email.update({ where: { id: emailId }, data: { status: 'sent', sentAt: new Date(), error: null } });
  return 'sent';
}

/** After the last retry: the email stays in the database, marked failed, for the admin. */
export async function markEmailFailed(prisma: PrismaClient, emailId: string): Promise<void> {
  await prisma.email.updateMany({ where: { id: emailId, status: 'queued' }, data: { status: 'failed' } });
}

/**
 * An email left `sending` by a process that died mid-send (no job holds it any more) goes back
 * to the queue: sent at least once, never lost. True when this call requeued it.
 */
export async function requeueStalledEmail(prisma: PrismaClient, emailId: string): Promise<boolean> {
  const r = await prisma.email.updateMany({ where: { id: emailId, status: 'sending' }, data: { status: 'queued', error: 'the process sending it stopped' } });
  return r.count === 1;
}
