// Admin sign-in, framework-free: argon2id password hashes, database sessions whose id is the
// sha-256 of the cookie token (a leaked table leaks no sessions), a fresh token at every
// sign-in, revocation, and lockouts that live in the database so every instance sees them: per
// email+address (growing to 15 minutes), and per account whatever the address, so guesses spread
// over many addresses stay bounded — capped at 5 minutes, and not applied to an address the
// account signed in from before, so nobody can keep the real admin out. The address is the one
// our server saw (lib/security/client-address.ts), never a header the client chose.
import { createHash, randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import type { PrismaClient } from '@/lib/generated/prisma/client';
import { sqlOf } from '@/lib/db/sql';
import { audit } from './audit';

// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. Algorithm 2 = Argon2id (a const enum).
const ARGON2 = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const TOUCH_EVERY_MS = 60_000;

export interface LockPolicy {
  freeFailures: number;
  windowMs: number;
  baseLockMs: number;
  maxLockMs: number;
}

/** Per email+address: failures allowed in a window before the lockout starts, and how it grows. */
export const LOGIN_THROTTLE = { freeFailures: 5, windowMs: 15 * 60_000, baseLockMs: 30_000, maxLockMs: 15 * 60_000 } as const satisfies LockPolicy;
/** Per account, from every address together: more room, and a short cap. */
export const ACCOUNT_THROTTLE = { freeFailures: 10, windowMs: 15 * 60_000, baseLockMs: 30_000, maxLockMs: 5 * 60_000 } as const satisfies LockPolicy;
/** An address the account signed in from within this long is not held by the account lock. */
export const KNOWN_ADDRESS_MS = 30 * 24 * 60 * 60_000;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

// Verifying against this when the email is unknown keeps both answers equally slow.
let dummyHash: Promise<string> | undefined;
function unknownUserHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
}

export function sessionIdFor(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Creates the first admin from ADMIN_EMAIL / ADMIN_PASSWORD when there is none yet. */
export async function ensureFirstAdmin(prisma: PrismaClient, env: { email: string; password?: string }): Promise<'exists' | 'created' | 'no_password'> {
  if ((await prisma.adminUser.count()) > 0) return 'exists';
  if (!env.password) return 'no_password';
  const email = normalizeEmail(env.email);
  try {
    await prisma.adminUser.create({ data: { email, passwordHash: await hashPassword(env.password) } });
    await audit(prisma, { actor: email, action: 'admin.created', target: email, detail: { from: 'ADMIN_EMAIL/ADMIN_PASSWORD' } });
    return 'created';
  } catch (err) {
    // Another instance created it first.
    if ((err as { code?: string }).code === 'P2002') return 'exists';
    throw err;
  }
}

/**
 * The embedded default's first start (PGlite, no ADMIN_PASSWORD): creates the first admin with a
 * generated password and returns it so `npm start` can print it once. Only the argon2 hash is
 * stored; nothing creates it again once any admin exists.
 */
export async function ensureGeneratedAdmin(prisma: PrismaClient, email: string): Promise<{ created: false } | { created: true; email: string; password: string }> {
  if ((await prisma.adminUser.count()) > 0) return { created: false };
  const normalized = normalizeEmail(email);
  // 144 random bits, URL-safe: easy to copy from a terminal.
  const password = randomBytes(18).toString('base64url');
  try {
    await prisma.adminUser.create({ data: { email: normalized, passwordHash: await hashPassword(password) } });
  } catch (err) {
    if ((err as { code?: string }).code === 'P2002') return { created: false };
    throw err;
  }
  await audit(prisma, { actor: normalized, action: 'admin.created', target: normalized, detail: { from: 'generated on first start' } });
  return { created: true, email: normalized, password };
}

export const MIN_PASSWORD_LENGTH = 8;

export type ChangePasswordResult = { ok: true } | { ok: false; reason: 'wrong_password' | 'too_short' | 'unchanged' } | { ok: false; reason: 'locked'; retryAfterSeconds: number };

/**
 * Changes a signed-in admin's password after checking the current one; every other session of
 * that admin is revoked (a stolen cookie dies with the old password), the current one is kept.
 */
export async function changePassword(
  prisma: PrismaClient,
  input: { userId: string; currentPassword: string; newPassword: string; keepSessionId?: string; ip?: string | null; now?: Date },
): Promise<ChangePasswordResult> {
  const now = input.now ?? new Date();
  if (input.newPassword.length < MIN_PASSWORD_LENGTH) return { ok: false, reason: 'too_short' };
  // Guesses of the current password (a borrowed session) are bounded like sign-ins, per account.
  const key = `admin-password:${input.userId}`;
  const locked = await lockedUntil(prisma, key, now);
  if (locked) return { ok: false, reason: 'locked', retryAfterSeconds: Math.ceil((locked.getTime() - now.getTime()) / 1000) };
  const user = await prisma.adminUser.findUnique({ where: { id: input.userId } });
  if (!user || !(await verifyPassword(user.passwordHash, input.currentPassword))) {
    if (user) {
      await recordFailure(prisma, key, now, LOGIN_THROTTLE);
      await audit(prisma, { actor: user.email, action: 'admin.password_change_failed', target: user.email, ip: input.ip });
    }
    return { ok: false, reason: 'wrong_password' };
  }
  await prisma.throttleCounter.deleteMany({ where: { key } });
  if (input.newPassword === input.currentPassword) return { ok: false, reason: 'unchanged' };
  await prisma.adminUser.update({ where: { id: user.id }, data: { passwordHash: await hashPassword(input.newPassword) } });
  await prisma.adminSession.updateMany({ where: { userId: user.id, revokedAt: null, ...(input.keepSessionId ? { id: { not: input.keepSessionId } } : {}) }, data: { revokedAt: now } });
  await audit(prisma, { actor: user.email, action: 'admin.password_changed', target: user.email, ip: input.ip });
  return { ok: true };
}

export interface SessionInfo {
  sessionId: string;
  userId: string;
  email: string;
  expiresAt: Date;
}

export async function createSession(prisma: PrismaClient, userId: string, meta: { ip?: string | null; userAgent?: string | null; now?: Date } = {}): Promise<{ token: string; expiresAt: Date }> {
  const now = meta.now ?? new Date();
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + SESSION_TTL_MS);
  await prisma.adminSession.create({
    data: { id: sessionIdFor(token), userId, createdAt: now, lastSeenAt: now, expiresAt, ip: meta.ip ?? null, userAgent: meta.userAgent?.slice(0, 300) ?? null },
  });
  return { token, expiresAt };
}

export function isPlausibleToken(token: string | undefined | null): token is string {
  return typeof token === 'string' && /^[A-Za-z0-9_-]{43}$/.test(token);
}

export async function validateSession(prisma: PrismaClient, token: string | undefined | null, now = new Date()): Promise<SessionInfo | null> {
  if (!isPlausibleToken(token)) return null;
  const session = await prisma.adminSession.findUnique({ where: { id: sessionIdFor(token) }, include: { user: { select: { id: true, email: true } } } });
  if (!session || session.revokedAt || session.expiresAt <= now) return null;
  if (now.getTime() - session.lastSeenAt.getTime() > TOUCH_EVERY_MS) {
    await prisma.adminSession.update({ where: { id: session.id }, data: { lastSeenAt: now } });
  }
  return { sessionId: session.id, userId: session.user.id, email: session.user.email, expiresAt: session.expiresAt };
}

export async function revokeSession(prisma: PrismaClient, sessionId: string, now = new Date()): Promise<boolean> {
  const r = await prisma.adminSession.updateMany({ where: { id: sessionId, revokedAt: null }, data: { revokedAt: now } });
  return r.count === 1;
}

export async function revokeSessionByToken(prisma: PrismaClient, token: string, now = new Date()): Promise<boolean> {
  return isPlausibleToken(token) ? revokeSession(prisma, sessionIdFor(token), now) : false;
}

export function throttleKey(email: string, ip: string | null | undefined): string {
  return `admin-login:${normalizeEmail(email).slice(0, 254)}|${ip ?? 'unknown'}`;
}

export function accountThrottleKey(email: string): string {
  return `admin-login-account:${normalizeEmail(email).slice(0, 254)}`;
}

/** Lock length after `failures` failures in the window: none for the first few, then doubling. */
export function lockoutMs(failures: number, policy: LockPolicy = LOGIN_THROTTLE): number {
  const over = failures - policy.freeFailures;
  if (over < 0) return 0;
  return Math.min(policy.maxLockMs, policy.baseLockMs * 2 ** over);
}

async function lockedUntil(prisma: PrismaClient, key: string, now: Date): Promise<Date | null> {
  const row = await prisma.throttleCounter.findUnique({ where: { key } });
  return row?.blockedUntil && row.blockedUntil > now ? row.blockedUntil : null;
}

/** Counts a failure atomically (one statement, safe across instances) and sets the lock it earns. */
async function recordFailure(prisma: PrismaClient, key: string, now: Date, policy: LockPolicy): Promise<{ failures: number; blockedUntil: Date | null }> {
  const windowEnd = new Date(now.getTime() + policy.windowMs);
  const row = await sqlOf(prisma)
    .kysely.insertInto('ThrottleCounter')
    .values({ key, count: 1, declines: 0, windowEnd, blockedUntil: null, updatedAt: now })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet((eb) => {
        const windowOver = eb('ThrottleCounter.windowEnd', '<', now);
        return {
          count: eb.case().when(windowOver).then(eb.lit(1)).else(eb('ThrottleCounter.count', '+', eb.lit(1))).end(),
          windowEnd: eb.case().when(windowOver).then(eb.val(windowEnd)).else(eb.ref('ThrottleCounter.windowEnd')).end(),
          updatedAt: now,
        };
      }),
    )
    .returning('count')
    .executeTakeFirstOrThrow();
  const failures = row.count;
  const lock = lockoutMs(failures, policy);
  if (lock === 0) return { failures, blockedUntil: null };
  const blockedUntil = new Date(now.getTime() + lock);
  // The window must outlast the lock, or the count would reset while still locked.
  await prisma.throttleCounter.update({ where: { key }, data: { blockedUntil, windowEnd: new Date(Math.max(windowEnd.getTime(), blockedUntil.getTime() + policy.windowMs)) } });
  return { failures, blockedUntil };
}

export type SignInResult =
  | { ok: true; token: string; expiresAt: Date; email: string }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'locked'; retryAfterSeconds: number };

export interface SignInInput {
  email: string;
  password: string;
  ip?: string | null;
  userAgent?: string | null;
  /** The token of the session the browser already holds, revoked so the id always rotates. */
  previousToken?: string | null;
  now?: Date;
}

/** True when this account has signed in from this address recently (not spoofable: our server's address). */
async function isKnownAddress(prisma: PrismaClient, userId: string | undefined, ip: string | null | undefined, now: Date): Promise<boolean> {
  if (!userId || !ip) return false;
  const seen = await prisma.adminSession.findFirst({ where: { userId, ip, createdAt: { gte: new Date(now.getTime() - KNOWN_ADDRESS_MS) } }, select: { id: true } });
  return seen !== null;
}

const secondsUntil = (until: Date, now: Date) => Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));

export async function signIn(prisma: PrismaClient, input: SignInInput): Promise<SignInResult> {
  const now = input.now ?? new Date();
  const email = normalizeEmail(input.email);
  const key = throttleKey(email, input.ip);
  const accountKey = accountThrottleKey(email);
  const user = await prisma.adminUser.findUnique({ where: { email } });
  const locked = await lockedUntil(prisma, key, now);
  // The account lock holds back guesses from everywhere, except from where the admin signed in before.
  const accountLocked = locked ? null : await lockedUntil(prisma, accountKey, now);
  if (locked || (accountLocked && !(await isKnownAddress(prisma, user?.id, input.ip, now)))) {
    const retryAfterSeconds = secondsUntil((locked ?? accountLocked)!, now);
    await audit(prisma, { actor: email, action: 'admin.sign_in_locked', detail: { retryAfterSeconds, scope: locked ? 'address' : 'account' }, ip: input.ip });
    return { ok: false, reason: 'locked', retryAfterSeconds };
  }
  const valid = user ? await verifyPassword(user.passwordHash, input.password) : (await verifyPassword(await unknownUserHash(), input.password), false);
  if (!user || !valid) {
    const byAddress = await recordFailure(prisma, key, now, LOGIN_THROTTLE);
    const byAccount = await recordFailure(prisma, accountKey, now, ACCOUNT_THROTTLE);
    await audit(prisma, { actor: email, action: 'admin.sign_in_failed', detail: { failures: byAddress.failures, accountFailures: byAccount.failures, knownUser: Boolean(user) }, ip: input.ip });
    const until = [byAddress.blockedUntil, byAccount.blockedUntil].filter((d): d is Date => d !== null).sort((a, b) => b.getTime() - a.getTime())[0];
    if (until) return { ok: false, reason: 'locked', retryAfterSeconds: secondsUntil(until, now) };
    return { ok: false, reason: 'invalid' };
  }
  await prisma.throttleCounter.deleteMany({ where: { key } });
  if (input.previousToken) await revokeSessionByToken(prisma, input.previousToken, now);
  const session = await createSession(prisma, user.id, { ip: input.ip, userAgent: input.userAgent, now });
  await audit(prisma, { actor: email, action: 'admin.sign_in', target: sessionIdFor(session.token).slice(0, 12), ip: input.ip });
  return { ok: true, token: session.token, expiresAt: session.expiresAt, email };
}

export async function signOut(prisma: PrismaClient, token: string | null | undefined, meta: { ip?: string | null } = {}): Promise<void> {
  if (!isPlausibleToken(token)) return;
  const session = await validateSession(prisma, token);
  await revokeSessionByToken(prisma, token);
  if (session) await audit(prisma, { actor: session.email, action: 'admin.sign_out', target: session.sessionId.slice(0, 12), ip: meta.ip });
}
