import { describe, expect, it } from 'vitest';
import { testDbKind } from '@/tests/helpers/db';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import { markEmailFailed, messageIdFor, requeueStalledEmail, sendEmail, type Mailer, type OutgoingMail } from './email';

const database = databaseForThisFile();

async function queuedEmail(key: string) {
  return database.prisma.email.create({ data: { dedupeKey: key, to: 'a@example.com', subject: 'Hi', text: 'Receipt', kind: 'order_confirmation' } });
}

describe(`sendEmail (${testDbKind})`, () => {
  it('sends a queued email once, however many jobs race for it', async () => {
    const sent: OutgoingMail[] = [];
    const mailer: Mailer = { send: async (m) => void sent.push(m) };
    const email = await queuedEmail('once');
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => sendEmail(database.prisma, mailer, email.id)));
    expect(outcomes.filter((o) => o === 'sent')).toHaveLength(1);
    expect(sent).toEqual([{ to: 'a@example.com', subject: 'Hi', text: 'Receipt', html: null, messageId: messageIdFor(email.id) }]);
    expect(await database.prisma.email.findUniqueOrThrow({ where: { id: email.id } })).toMatchObject({ status: 'sent', error: null });
  });

  it('puts a failed send back in the queue with the reason, and marks it failed after the last retry', async () => {
    const email = await queuedEmail('fails');
    const mailer: Mailer = { send: async () => Promise.reject(new Error('SMTP 421 try later')) };
    await expect(sendEmail(database.prisma, mailer, email.id)).rejects.toThrow(/421/);
    expect(await database.prisma.email.findUniqueOrThrow({ where: { id: email.id } })).toMatchObject({ status: 'queued', error: 'SMTP 421 try later' });
    await markEmailFailed(database.prisma, email.id);
    expect((await database.prisma.email.findUniqueOrThrow({ where: { id: email.id } })).status).toBe('failed');
  });

  it('sends an email left `sending` by a process that died mid-send again, once requeued, under the same Message-ID', async () => {
    const sent: OutgoingMail[] = [];
    const email = await queuedEmail('crashed');
    // The first process claimed it and died before writing `sent` (the send itself may or may not have gone out).
    await database.prisma.email.update({ where: { id: email.id }, data: { status: 'sending' } });
    // Its job's retry finds nothing to claim: without a requeue the email is lost.
    expect(await sendEmail(database.prisma, { send: async (m) => void sent.push(m) }, email.id)).toBe('skipped');
    expect(await requeueStalledEmail(database.prisma, email.id)).toBe(true);
    expect(await requeueStalledEmail(database.prisma, email.id)).toBe(false);
    expect(await sendEmail(database.prisma, { send: async (m) => void sent.push(m) }, email.id)).toBe('sent');
    expect(sent.map((m) => m.messageId)).toEqual([messageIdFor(email.id)]);
    // A sent email is never requeued.
    expect(await requeueStalledEmail(database.prisma, email.id)).toBe(false);
    expect((await database.prisma.email.findUniqueOrThrow({ where: { id: email.id } })).status).toBe('sent');
  });

  it('stores the email in the database when there is no SMTP server', async () => {
    const email = await queuedEmail('stored');
    expect(await sendEmail(database.prisma, null, email.id)).toBe('stored');
    expect(await sendEmail(database.prisma, null, email.id)).toBe('skipped');
    expect((await database.prisma.email.findUniqueOrThrow({ where: { id: email.id } })).status).toBe('stored');
  });
});
