// The admin session as Next.js sees it: the cookie, and requireAdmin(), the one check every
// admin layout, page, server action and route handler runs on the server.
import 'server-only';
import { cookies, headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { isSecureRequest } from '@/lib/cart/session';
import { config } from '@/lib/config';
import { prisma } from '@/lib/services';
import { clientAddressFrom } from '@/lib/security/client-address';
import { ensureFirstAdmin, validateSession, type SessionInfo } from './auth';

export const ADMIN_COOKIE = 'brisk_admin';

export interface AdminContext extends SessionInfo {
  ip: string | null;
}

export async function requestMeta(): Promise<{ ip: string | null; userAgent: string | null }> {
  const h = await headers();
  return { ip: clientAddressFrom(h), userAgent: h.get('user-agent') };
}

export async function readAdminToken(): Promise<string | null> {
  return (await cookies()).get(ADMIN_COOKIE)?.value ?? null;
}

export async function writeAdminCookie(token: string, expiresAt: Date): Promise<void> {
  (await cookies()).set(ADMIN_COOKIE, token, {
    httpOnly: true,
    sameSite: 'lax',
    secure: await isSecureRequest(),
    // Only admin pages and actions need it.
    path: '/admin',
    expires: expiresAt,
  });
}

export async function clearAdminCookie(): Promise<void> {
  (await cookies()).delete({ name: ADMIN_COOKIE, path: '/admin' });
}

/** The signed-in admin, or null. */
export async function currentAdmin(): Promise<AdminContext | null> {
  const session = await validateSession(await prisma(), await readAdminToken());
  if (!session) return null;
  return { ...session, ip: (await requestMeta()).ip };
}

/** The signed-in admin; otherwise the request ends in a redirect to the sign-in page. */
export async function requireAdmin(): Promise<AdminContext> {
  const admin = await currentAdmin();
  if (!admin) redirect('/admin/login');
  return admin;
}

/** Creates the first admin from the environment on first use of the sign-in page. */
export async function ensureAdminFromEnv(): Promise<'exists' | 'created' | 'no_password'> {
  const cfg = config();
  return ensureFirstAdmin(await prisma(), { email: cfg.ADMIN_EMAIL, password: cfg.ADMIN_PASSWORD });
}

/**
 * Cross-site request check for route handlers (server actions get Next's own Origin check):
 * a browser says where a request comes from in Sec-Fetch-Site and Origin; anything but our
 * own origin is refused.
 */
export function isSameOriginRequest(request: Request): boolean {
  const site = request.headers.get('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return false;
  const origin = request.headers.get('origin');
  if (!origin) return true;
  const host = request.headers.get('x-forwarded-host') ?? request.headers.get('host');
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
