import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { SubmitButton } from '@/components/admin/SubmitButton';
import { button, input, label } from '@/components/admin/ui';
import { currentAdmin, ensureAdminFromEnv } from '@/lib/admin/session';
import { signInAction } from './actions';

export const metadata: Metadata = { title: 'Sign in' };

export default async function AdminLoginPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  if (await currentAdmin()) redirect('/admin');
  const setup = await ensureAdminFromEnv();
  const sp = await searchParams;
  const retry = Number(sp.retry);
  const error =
    sp.error === 'locked'
      ? `Too many failed sign-ins. Try again in ${Number.isFinite(retry) && retry > 0 ? `${Math.ceil(retry / 60)} minute${retry > 60 ? 's' : ''}` : 'a few minutes'}.`
      : sp.error === 'invalid'
        ? 'Wrong email or password.'
        : null;
  return (
    <div className="rounded-xl border border-stone-200 bg-white p-6 shadow-sm">
      <h1 className="text-2xl font-bold">Brisk admin</h1>
      <p className="mt-1 text-sm text-stone-600">Sign in to manage orders.</p>
      {setup === 'no_password' && (
        <p role="alert" className="mt-4 rounded-md bg-amber-50 p-3 text-sm text-amber-900">
          No admin exists yet. Set ADMIN_EMAIL and ADMIN_PASSWORD and restart to create the first one.
        </p>
      )}
      {error && (
        <p role="alert" className="mt-4 rounded-md bg-red-50 p-3 text-sm text-red-900" data-testid="login-error">
          {error}
        </p>
      )}
      <form action={signInAction} className="mt-6 space-y-4">
        <div>
          <label htmlFor="email" className={label}>
            Email
          </label>
          <input id="email" name="email" type="email" autoComplete="username" required className={input} autoFocus />
        </div>
        <div>
          <label htmlFor="password" className={label}>
            Password
          </label>
          <input id="password" name="password" type="password" autoComplete="current-password" required className={input} />
        </div>
        <SubmitButton className={`${button} w-full`} pendingText="Signing in…">
          Sign in
        </SubmitButton>
      </form>
    </div>
  );
}
