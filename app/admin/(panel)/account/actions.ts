'use server';
// Changing the signed-in admin's password: the session is checked on the server, the input
// parsed with zod, the current password verified before the new one is stored (argon2id).
import { redirect } from 'next/navigation';
import { z } from 'zod';
import { parseUntrusted } from '@/lib/validation';
import { changePassword, MIN_PASSWORD_LENGTH } from '@/lib/admin/auth';
import { requireAdmin } from '@/lib/admin/session';
import { prisma } from '@/lib/services';

const PasswordForm = z
  .object({
    currentPassword: z.string().min(1).max(1024),
    newPassword: z.string().min(MIN_PASSWORD_LENGTH).max(1024),
    confirmPassword: z.string().max(1024),
  })
  .refine((f) => f.newPassword === f.confirmPassword, { path: ['confirmPassword'] });

function done(notice: 'changed' | 'wrong' | 'locked' | 'mismatch' | 'short' | 'unchanged' | 'invalid'): never {
  redirect(`/admin/account?${new URLSearchParams({ notice })}`);
}

export async function changePasswordAction(formData: FormData): Promise<void> {
  const admin = await requireAdmin();
  const parsed = parseUntrusted(PasswordForm, {
    currentPassword: formData.get('currentPassword'),
    newPassword: formData.get('newPassword'),
    confirmPassword: formData.get('confirmPassword'),
  });
  if (!parsed.success) {
    const paths = parsed.error.issues.map((i) => i.path[0]);
    done(paths.includes('newPassword') ? 'short' : paths.includes('confirmPassword') ? 'mismatch' : 'invalid');
  }
  const r = await changePassword(await prisma(), {
    userId: admin.userId,
    currentPassword: parsed.data.currentPassword,
    newPassword: parsed.data.newPassword,
    keepSessionId: admin.sessionId,
    ip: admin.ip,
  });
  if (r.ok) done('changed');
  done(r.reason === 'locked' ? 'locked' : r.reason === 'wrong_password' ? 'wrong' : r.reason === 'too_short' ? 'short' : 'unchanged');
}
