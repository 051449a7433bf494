// GET /api/metrics: Prometheus text format for every metric in the process registry.
import { sampleAppGauges } from '@/lib/observability/sample';
import { metricsText } from '@/lib/observability/metrics';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(): Promise<Response> {
  await sampleAppGauges();
  const { contentType, body } = await metricsText();
  return new Response(body, { headers: { 'content-type': contentType, 'cache-control': 'no-store' } });
}
