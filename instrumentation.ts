// Next.js calls register() once per server start. The in-process job worker starts here, in
// the Node.js runtime only; Node-only modules stay behind the dynamic import.
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { startJobsFromEnvironment } = await import('./lib/jobs/runtime');
  try {
    await startJobsFromEnvironment('server');
  } catch (err) {
    // The shop can still take webhooks (stored, swept later); say loudly why jobs are not running.
    console.error('Brisk: background jobs did not start:', err);
  }
}
