'use client';

import { useRouter } from 'next/navigation';
import { useEffect } from 'react';

/** Re-renders the order page every couple of seconds until the order settles. */
export function OrderAutoRefresh({ settled, cartJustCleared }: { settled: boolean; cartJustCleared: boolean }) {
  const router = useRouter();
  // The header rendered alongside this page, before the cart was emptied: show it fresh once.
  useEffect(() => {
    if (cartJustCleared) router.refresh();
  }, [cartJustCleared, router]);
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
