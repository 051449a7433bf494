// GET /api/health: 200 when this instance can serve (database reachable, schema current, the
// worker running where it should), 503 otherwise. The public sees only { ready }; the full
// report (which part is not ready, queues, webhook lag, the gateway) needs METRICS_TOKEN or a
// request from this machine.
import { config } from '@/lib/config';
import { db } from '@/lib/services';
import { healthDetailsAllowed } from '@/lib/observability/access';
import { readHealth } from '@/lib/observability/health';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(request: Request): Promise<Response> {
  const cfg = config();
  const report = await readHealth({ prisma: async () => (await db()).prisma, workerExpected: cfg.WORKER_MODE === 'inline' });
  const body = healthDetailsAllowed(request.headers, cfg.METRICS_TOKEN) ? report : { ready: report.ready };
  return Response.json(body, { status: report.ready ? 200 : 503, headers: { 'cache-control': 'no-store' } });
}
