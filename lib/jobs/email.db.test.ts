import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDbKind } from '@/tests/helpers/db';
import { markEmailFailed, requeueLostEmails, sendEmail, type Mailer, type OutgoingMail } from './email';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database?.drop());

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
    expect(sent).toEqual([{ to: 'a@example.com', subject: 'Hi', text: 'Receipt', html: null }]);
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

  it('an email whose sender died mid-send is queued again once its claim is older than the send timeout, and then sent', async () => {
    const sent: OutgoingMail[] = [];
    const email = await queuedEmail('lost-in-crash');
    // The sender claimed it and the process was killed before it finished.
    const dying: Mailer = { send: () => new Promise(() => undefined) };
    void sendEmail(database.prisma, dying, email.id);
    await expect.poll(async () => (await database.prisma.email.findUniqueOrThrow({ where: { id: email.id } })).status).toBe('sending');
    // Within the timeout the claim stands: nothing is sent twice.
    expect(await requeueLostEmails(database.prisma, new Date(Date.now() - 60_000))).toBe(0);
    expect(await sendEmail(database.prisma, { send: async (m) => void sent.push(m) }, email.id)).toBe('skipped');
    // Past it, the sweep puts it back and the next job sends it.
    expect(await requeueLostEmails(database.prisma, new Date(Date.now() + 1000))).toBe(1);
    expect(await sendEmail(database.prisma, { send: async (m) => void sent.push(m) }, email.id)).toBe('sent');
    expect(sent).toHaveLength(1);
    expect((await database.prisma.email.findUniqueOrThrow({ where: { id: email.id } })).status).toBe('sent');
  });

  it('stores the email in the database when there is no SMTP server', async () => {
    const email = await queuedEmail('stored');
    expect(await sendEmail(database.prisma, null, email.id)).toBe('stored');
    expect(await sendEmail(database.prisma, null, email.id)).toBe('skipped');
    expect((await database.prisma.email.findUniqueOrThrow({ where: { id: email.id } })).status).toBe('stored');
  });
});
