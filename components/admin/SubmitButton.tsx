'use client';
// A submit button that says it is working while its form's server action runs.
import { useFormStatus } from 'react-dom';

export function SubmitButton({ children, pendingText, className, testId }: { children: React.ReactNode; pendingText?: string; className?: string; testId?: string }) {
  const { pending } = useFormStatus();
  return (
    <button type="submit" className={className} aria-disabled={pending} data-testid={testId}>
      {pending ? (pendingText ?? 'Working…') : children}
    </button>
  );
}
