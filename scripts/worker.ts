// `npm run worker`: a separate job worker process (PostgreSQL only). Runs until SIGTERM/SIGINT,
// then finishes its current jobs and exits.
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
