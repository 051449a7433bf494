import type { Metadata } from 'next';
import { SubmitButton } from '@/components/admin/SubmitButton';
import { button, input, label } from '@/components/admin/ui';
import { MIN_PASSWORD_LENGTH } from '@/lib/admin/auth';
import { requireAdmin } from '@/lib/admin/session';
import { changePasswordAction } from './actions';

export const metadata: Metadata = { title: 'Account' };

const NOTICES: Record<string, { text: string; ok: boolean }> = {
  changed: { text: 'Password changed. Your other sessions were signed out.', ok: true },
  wrong: { text: 'The current password is wrong.', ok: false },
  locked: { text: 'Too many wrong passwords. Try again in a few minutes.', ok: false },
  mismatch: { text: 'The new password and its confirmation differ.', ok: false },
  short: { text: `The new password needs at least ${MIN_PASSWORD_LENGTH} characters.`, ok: false },
  unchanged: { text: 'The new password is the same as the current one.', ok: false },
  invalid: { text: 'Fill in every field.', ok: false },
};

export default async function AccountPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const admin = await requireAdmin();
  const sp = await searchParams;
  const notice = typeof sp.notice === 'string' ? NOTICES[sp.notice] : undefined;
  return (
    <div className="max-w-md">
      <h1 className="text-2xl font-bold">Account</h1>
      <p className="mt-1 text-sm text-stone-600">
        Signed in as <span className="font-medium">{admin.email}</span>.
      </p>
      {notice && (
        <p role={notice.ok ? 'status' : 'alert'} data-testid="account-notice" className={`mt-4 rounded-md p-3 text-sm ${notice.ok ? 'bg-green-50 text-green-900' : 'bg-red-50 text-red-900'}`}>
          {notice.text}
        </p>
      )}
      <h2 className="mt-6 text-lg font-semibold">Change password</h2>
      <form action={changePasswordAction} className="mt-3 space-y-4 rounded-xl border border-stone-200 bg-white p-5">
        <div>
          <label htmlFor="currentPassword" className={label}>
            Current password
          </label>
          <input id="currentPassword" name="currentPassword" type="password" autoComplete="current-password" required className={input} />
        </div>
        <div>
          <label htmlFor="newPassword" className={label}>
            New password
          </label>
          <input id="newPassword" name="newPassword" type="password" autoComplete="new-password" minLength={MIN_PASSWORD_LENGTH} required className={input} />
        </div>
        <div>
          <label htmlFor="confirmPassword" className={label}>
            Confirm new password
          </label>
          <input id="confirmPassword" name="confirmPassword" type="password" autoComplete="new-password" minLength={MIN_PASSWORD_LENGTH} required className={input} />
        </div>
        <SubmitButton className={button} pendingText="Saving…">
          Change password
        </SubmitButton>
      </form>
    </div>
  );
}
