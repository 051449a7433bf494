// The embedded default's first admin (issue 15 §1): created once with a generated password that
// only its argon2 hash keeps, never again once an admin exists; and the password change that
// checks the current password, bounds guesses and signs out the admin's other sessions.
import { describe, expect, it } from 'vitest';
import { databaseForThisFile } from '@/tests/helpers/test-database';
import { changePassword, createSession, ensureGeneratedAdmin, signIn, validateSession, LOGIN_THROTTLE } from './auth';

const database = databaseForThisFile();

describe('first admin with a generated password', () => {
  let password = '';

  it('is created once, stored hashed, and the password signs in', async () => {
    const first = await ensureGeneratedAdmin(database.prisma, 'Admin@Brisk.Local');
    expect(first.created).toBe(true);
    if (!first.created) return;
    password = first.password;
    expect(password.length).toBeGreaterThanOrEqual(20);
    const row = await database.prisma.adminUser.findUniqueOrThrow({ where: { email: 'admin@brisk.local' } });
    expect(row.passwordHash).toMatch(/^\$argon2id\$/);
    expect(row.passwordHash).not.toContain(password);
    expect(JSON.stringify(await database.prisma.auditLog.findMany())).not.toContain(password);
    expect((await signIn(database.prisma, { email: 'admin@brisk.local', password, ip: '10.0.0.1' })).ok).toBe(true);
    // Never again: the second start finds the admin and prints nothing.
    expect(await ensureGeneratedAdmin(database.prisma, 'admin@brisk.local')).toEqual({ created: false });
    expect(await database.prisma.adminUser.count()).toBe(1);
  });

  it('changes the password only with the right current one, and signs out the other sessions', async () => {
    const user = await database.prisma.adminUser.findUniqueOrThrow({ where: { email: 'admin@brisk.local' } });
    const mine = await createSession(database.prisma, user.id);
    const other = await createSession(database.prisma, user.id);
    const mineId = (await validateSession(database.prisma, mine.token))!.sessionId;

    expect(await changePassword(database.prisma, { userId: user.id, currentPassword: 'wrong-password', newPassword: 'a-new-password-1' })).toEqual({ ok: false, reason: 'wrong_password' });
    expect(await changePassword(database.prisma, { userId: user.id, currentPassword: password, newPassword: 'short' })).toEqual({ ok: false, reason: 'too_short' });
    expect(await changePassword(database.prisma, { userId: user.id, currentPassword: password, newPassword: password })).toEqual({ ok: false, reason: 'unchanged' });
    expect(await changePassword(database.prisma, { userId: user.id, currentPassword: password, newPassword: 'a-new-password-1', keepSessionId: mineId })).toEqual({ ok: true });

    expect((await signIn(database.prisma, { email: 'admin@brisk.local', password, ip: '10.0.0.2' })).ok).toBe(false);
    expect((await signIn(database.prisma, { email: 'admin@brisk.local', password: 'a-new-password-1', ip: '10.0.0.3' })).ok).toBe(true);
    expect(await validateSession(database.prisma, mine.token)).not.toBeNull();
    expect(await validateSession(database.prisma, other.token)).toBeNull();
    const actions = (await database.prisma.auditLog.findMany({ where: { action: { startsWith: 'admin.password' } } })).map((a) => a.action);
    expect(actions).toContain('admin.password_changed');
    expect(actions).toContain('admin.password_change_failed');
  });

  it('bounds guesses of the current password per account', async () => {
    const user = await database.prisma.adminUser.findUniqueOrThrow({ where: { email: 'admin@brisk.local' } });
    let last;
    for (let i = 0; i <= LOGIN_THROTTLE.freeFailures + 1; i++) {
      last = await changePassword(database.prisma, { userId: user.id, currentPassword: `guess-${i}`, newPassword: 'another-password-2' });
    }
    expect(last).toMatchObject({ ok: false, reason: 'locked' });
    // Even the right password waits out the lock.
    expect(await changePassword(database.prisma, { userId: user.id, currentPassword: 'a-new-password-1', newPassword: 'another-password-2' })).toMatchObject({ ok: false, reason: 'locked' });
  });
});
