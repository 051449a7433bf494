// `npm run worker`: a separate job worker process (PostgreSQL only). Runs until SIGTERM/SIGINT,
// then finishes its current jobs and exits. Run with --conditions=react-server (as npm run worker
// does): the job modules are marked `import 'server-only'`, which throws under plain Node.js;
// under that condition the package is its empty module, as inside Next.js's server bundles.
import { WorkerNeedsPostgresError, startJobsFromEnvironment } from '@/lib/jobs/runtime';

try {
  await startJobsFromEnvironment('worker');
  console.log('Brisk worker running; SIGTERM or Ctrl-C stops it after its current jobs.');
} catch (err) {
  if (err instanceof WorkerNeedsPostgresError) {
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}
