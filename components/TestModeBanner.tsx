// "Test mode: no real payments", on every shop and admin page whenever the payments are not
// real (demo mode, the bundled Stripe emulator, Stripe test keys): rendered on the server,
// announced politely to screen readers, and plain text for everyone else.
export function TestModeBanner({ show }: { show: boolean }) {
  if (!show) return null;
  return (
    <div role="status" data-testid="test-mode-banner" className="border-b border-amber-300 bg-amber-100 px-4 py-2 text-center text-sm font-medium text-amber-950">
      <strong>Test mode: no real payments.</strong> Orders placed here are not charged and will not be shipped.
    </div>
  );
}
