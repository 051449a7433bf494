// GET /admin/orders/export?…filters: the filtered orders as CSV, streamed in batches.
import { ordersCsvStream, parseOrderFilters } from '@/lib/admin/orders-query';
import { currentAdmin, isSameOriginRequest } from '@/lib/admin/session';
import { prisma } from '@/lib/services';

export const dynamic = 'force-dynamic';

export async function GET(request: Request): Promise<Response> {
  // Route handlers sit outside the layout: check the session here too.
  const admin = await currentAdmin();
  if (!admin) return Response.redirect(new URL('/admin/login', request.url), 303);
  if (!isSameOriginRequest(request)) return new Response('Cross-site request refused', { status: 403 });
  const { filters } = parseOrderFilters(new URL(request.url).searchParams);
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
  return new Response(ordersCsvStream(await prisma(), filters), {
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="brisk-orders-${stamp}.csv"`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    },
  });
}
