// GET /api/health: 200 when this instance can serve (database reachable, schema current, the
// worker running where it should), 503 otherwise; the JSON says which part is not.
import { config } from '@/lib/config';
import { db } from '@/lib/db/client';
import { readHealth } from '@/lib/observability/health';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(): Promise<Response> {
  const report = await readHealth({ prisma: async () => (await db()).prisma, workerExpected: config().WORKER_MODE === 'inline' });
  return Response.json(report, { status: report.ready ? 200 : 503, headers: { 'cache-control': 'no-store' } });
}
