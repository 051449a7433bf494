// GET /api/metrics: Prometheus text format for every metric in the process registry, for
// whoever holds METRICS_TOKEN (Bearer), or from this machine when no token is set.
import { config } from '@/lib/config';
import { metricsAccess } from '@/lib/observability/access';
import { sampleAppGauges } from '@/lib/observability/sample';
import { metricsText } from '@/lib/observability/metrics';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(request: Request): Promise<Response> {
  const access = metricsAccess(request.headers, config().METRICS_TOKEN);
  if (access === 'needs_token') {
    return new Response('Metrics need the bearer token (METRICS_TOKEN).\n', { status: 401, headers: { 'www-authenticate': 'Bearer realm="metrics"', 'cache-control': 'no-store', 'content-type': 'text/plain; charset=utf-8' } });
  }
  if (access === 'local_only') {
    return new Response('Metrics answer only on this machine; set METRICS_TOKEN to read them from elsewhere.\n', { status: 403, headers: { 'cache-control': 'no-store', 'content-type': 'text/plain; charset=utf-8' } });
  }
  await sampleAppGauges();
  const { contentType, body } = await metricsText();
  return new Response(body, { headers: { 'content-type': contentType, 'cache-control': 'no-store' } });
}
