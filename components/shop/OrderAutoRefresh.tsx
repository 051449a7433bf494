'use client';

import { useRouter } from 'next/navigation';
import { useEffect } from 'react';

/** Re-renders the order page every couple of seconds until the order settles. */
export function OrderAutoRefresh({ settled }: { settled: boolean }) {
  const router = useRouter();
  useEffect(() => {
    if (settled) return;
    const started = Date.now();
    const t = setInterval(() => {
      if (Date.now() - started > 5 * 60_000) return clearInterval(t);
      router.refresh();
    }, 1500);
    return () => clearInterval(t);
  }, [settled, router]);
  return null;
}
