import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '@/tests/helpers/db';
import {
  ACCOUNT_THROTTLE,
  ensureFirstAdmin,
  hashPassword,
  LOGIN_THROTTLE,
  lockoutMs,
  sessionIdFor,
  signIn,
  signOut,
  SESSION_TTL_MS,
  validateSession,
  verifyPassword,
} from './auth';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
  await ensureFirstAdmin(database.prisma, { email: 'Admin@Brisk.test', password: 'correct-horse-battery' });
});
afterAll(() => database.drop());

describe('admin auth', () => {
  it('hashes with argon2id and verifies only the right password', async () => {
    const h = await hashPassword('s3cret-pass');
    expect(h).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await verifyPassword(h, 's3cret-pass')).toBe(true);
    expect(await verifyPassword(h, 's3cret-pasS')).toBe(false);
    expect(await verifyPassword('not-a-hash', 'x')).toBe(false);
  });

  it('creates the first admin once, from the environment', async () => {
    expect(await ensureFirstAdmin(database.prisma, { email: 'other@brisk.test', password: 'another-password' })).toBe('exists');
    const users = await database.prisma.adminUser.findMany();
    expect(users.map((u) => u.email)).toEqual(['admin@brisk.test']);
    expect(users[0].passwordHash).not.toContain('correct-horse');
  });

  it('signs in with a new session id each time, stores only its hash, and revokes on sign-out', async () => {
    const prisma = database.prisma;
    const a = await signIn(prisma, { email: 'admin@brisk.test', password: 'correct-horse-battery', ip: '10.0.0.1' });
    if (!a.ok) throw new Error('sign-in failed');
    const b = await signIn(prisma, { email: 'ADMIN@brisk.test ', password: 'correct-horse-battery', ip: '10.0.0.1', previousToken: a.token });
    if (!b.ok) throw new Error('sign-in failed');
    expect(b.token).not.toBe(a.token);
    expect(await prisma.adminSession.findUnique({ where: { id: a.token } })).toBeNull();
    // Signing in again rotated the old session out.
    expect(await validateSession(prisma, a.token)).toBeNull();
    const s = await validateSession(prisma, b.token);
    expect(s).toMatchObject({ email: 'admin@brisk.test', sessionId: sessionIdFor(b.token) });
    expect(b.expiresAt.getTime() - Date.now()).toBeGreaterThan(SESSION_TTL_MS - 60_000);

    await signOut(prisma, b.token, { ip: '10.0.0.1' });
    expect(await validateSession(prisma, b.token)).toBeNull();
    const actions = (await prisma.auditLog.findMany({ orderBy: { createdAt: 'asc' } })).map((l) => l.action);
    expect(actions.filter((x) => x === 'admin.sign_in')).toHaveLength(2);
    expect(actions).toContain('admin.sign_out');
  });

  it('refuses expired and malformed sessions', async () => {
    const prisma = database.prisma;
    const r = await signIn(prisma, { email: 'admin@brisk.test', password: 'correct-horse-battery', now: new Date(Date.now() - SESSION_TTL_MS - 1000) });
    if (!r.ok) throw new Error('sign-in failed');
    expect(await validateSession(prisma, r.token)).toBeNull();
    expect(await validateSession(prisma, 'x'.repeat(43))).toBeNull();
    expect(await validateSession(prisma, "'; drop table x; --")).toBeNull();
  });

  it('slows down repeated failures per email and address, with a growing lock shared through the database', async () => {
    const prisma = database.prisma;
    const t0 = new Date('2030-01-01T00:00:00Z');
    const at = (ms: number) => new Date(t0.getTime() + ms);
    const attempt = (password: string, ms: number, ip = '10.9.9.9') => signIn(prisma, { email: 'admin@brisk.test', password, ip, now: at(ms) });
    for (let i = 0; i < LOGIN_THROTTLE.freeFailures - 1; i++) expect(await attempt('wrong', i)).toEqual({ ok: false, reason: 'invalid' });
    expect(await attempt('wrong', 10)).toEqual({ ok: false, reason: 'locked', retryAfterSeconds: lockoutMs(5) / 1000 });
    // Locked: even the right password is not checked.
    expect(await attempt('correct-horse-battery', 20)).toMatchObject({ ok: false, reason: 'locked' });
    // Another address is not affected.
    expect((await attempt('correct-horse-battery', 20, '10.1.1.1')).ok).toBe(true);
    // After the lock, one more failure locks for twice as long.
    expect(await attempt('wrong', 10 + lockoutMs(5) + 1)).toEqual({ ok: false, reason: 'locked', retryAfterSeconds: lockoutMs(6) / 1000 });
    expect(lockoutMs(6)).toBe(2 * lockoutMs(5));
    // A success after the lock clears the count.
    expect((await attempt('correct-horse-battery', 10 + lockoutMs(5) + 2 + lockoutMs(6))).ok).toBe(true);
    expect(await attempt('wrong', 10 + lockoutMs(5) + 3 + lockoutMs(6))).toEqual({ ok: false, reason: 'invalid' });
    expect(await prisma.auditLog.count({ where: { action: 'admin.sign_in_failed' } })).toBe(7);
    expect(await prisma.auditLog.count({ where: { action: 'admin.sign_in_locked' } })).toBe(1);
  });

  it('bounds guesses per account whatever the address: 30 wrong passwords from 30 addresses get 10 password checks', async () => {
    const prisma = database.prisma;
    const t1 = new Date('2031-01-01T00:00:00Z');
    const failedBefore = await prisma.auditLog.count({ where: { action: 'admin.sign_in_failed' } });
    const results = [];
    for (let i = 0; i < 30; i++) results.push(await signIn(prisma, { email: 'admin@brisk.test', password: `guess-${i}`, ip: `203.0.113.${i + 1}`, now: new Date(t1.getTime() + i) }));
    const firstLock = results.findIndex((r) => !r.ok && r.reason === 'locked');
    expect(firstLock).toBe(ACCOUNT_THROTTLE.freeFailures - 1);
    expect(results.slice(firstLock).every((r) => !r.ok && r.reason === 'locked')).toBe(true);
    // Only the guesses before the lock reached the password check.
    expect((await prisma.auditLog.count({ where: { action: 'admin.sign_in_failed' } })) - failedBefore).toBe(ACCOUNT_THROTTLE.freeFailures);
    const locked = await prisma.auditLog.findMany({ where: { action: 'admin.sign_in_locked', ip: '203.0.113.30' } });
    expect(locked).toHaveLength(1);
    expect(locked[0].detail).toMatchObject({ scope: 'account' });

    // The lock is short: once it is over, the admin signs in from anywhere.
    const after = new Date(t1.getTime() + 30 + lockoutMs(ACCOUNT_THROTTLE.freeFailures, ACCOUNT_THROTTLE));
    expect((await signIn(prisma, { email: 'admin@brisk.test', password: 'correct-horse-battery', ip: '192.0.2.200', now: after })).ok).toBe(true);
  });

  it('never locks an account for more than 5 minutes, however long the guessing goes on', async () => {
    const prisma = database.prisma;
    let now = new Date('2032-01-01T00:00:00Z').getTime();
    let longest = 0;
    for (let i = 0; i < 40; i++) {
      const r = await signIn(prisma, { email: 'admin@brisk.test', password: 'wrong', ip: `198.18.0.${i + 1}`, now: new Date(now) });
      if (!r.ok && r.reason === 'locked') {
        longest = Math.max(longest, r.retryAfterSeconds);
        now += r.retryAfterSeconds * 1000;
      }
      now += 1;
    }
    expect(longest).toBe(ACCOUNT_THROTTLE.maxLockMs / 1000);
    expect(ACCOUNT_THROTTLE.maxLockMs).toBeLessThanOrEqual(5 * 60_000);
    expect((await signIn(prisma, { email: 'admin@brisk.test', password: 'correct-horse-battery', ip: '198.18.1.1', now: new Date(now + ACCOUNT_THROTTLE.maxLockMs) })).ok).toBe(true);
  });

  it('lets the admin in from an address they signed in from before while the account is locked to everyone else', async () => {
    const prisma = database.prisma;
    const t2 = new Date('2033-01-01T00:00:00Z').getTime();
    expect((await signIn(prisma, { email: 'admin@brisk.test', password: 'correct-horse-battery', ip: '192.0.2.10', now: new Date(t2) })).ok).toBe(true);
    for (let i = 0; i < ACCOUNT_THROTTLE.freeFailures; i++) await signIn(prisma, { email: 'admin@brisk.test', password: 'wrong', ip: `100.64.0.${i + 1}`, now: new Date(t2 + 1000 + i) });
    expect(await signIn(prisma, { email: 'admin@brisk.test', password: 'correct-horse-battery', ip: '100.64.1.1', now: new Date(t2 + 2000) })).toMatchObject({ ok: false, reason: 'locked' });
    expect((await signIn(prisma, { email: 'admin@brisk.test', password: 'correct-horse-battery', ip: '192.0.2.10', now: new Date(t2 + 2001) })).ok).toBe(true);
    // No address at all (not served by our server) is never a known one.
    expect(await signIn(prisma, { email: 'admin@brisk.test', password: 'correct-horse-battery', ip: null, now: new Date(t2 + 2002) })).toMatchObject({ ok: false, reason: 'locked' });
  });

  it('answers an unknown email like a wrong password', async () => {
    expect(await signIn(database.prisma, { email: 'nobody@brisk.test', password: 'whatever', ip: '10.2.2.2' })).toEqual({ ok: false, reason: 'invalid' });
  });
});
