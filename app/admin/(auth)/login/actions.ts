'use server';
import { redirect } from 'next/navigation';
import { z } from 'zod';
import { parseUntrusted } from '@/lib/validation';
import { prisma } from '@/lib/services';
import { signIn } from '@/lib/admin/auth';
import { ensureAdminFromEnv, readAdminToken, requestMeta, writeAdminCookie } from '@/lib/admin/session';

// No control characters: PostgreSQL refuses a NUL in text, which would fail the request.
const SignInForm = z.object({ email: z.string().trim().min(3).max(254).regex(/^[^\u0000-\u001f\u007f]+$/), password: z.string().min(1).max(1024) });

export async function signInAction(formData: FormData): Promise<void> {
  const parsed = parseUntrusted(SignInForm, { email: formData.get('email'), password: formData.get('password') });
  if (!parsed.success) redirect('/admin/login?error=invalid');
  await ensureAdminFromEnv();
  const meta = await requestMeta();
  const result = await signIn(await prisma(), { ...parsed.data, ip: meta.ip, userAgent: meta.userAgent, previousToken: await readAdminToken() });
  if (!result.ok) {
    redirect(result.reason === 'locked' ? `/admin/login?error=locked&retry=${result.retryAfterSeconds}` : '/admin/login?error=invalid');
  }
  await writeAdminCookie(result.token, result.expiresAt);
  redirect('/admin');
}
