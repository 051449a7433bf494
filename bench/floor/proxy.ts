// Its own proxy, matching no request (so it never runs): without one, Turbopack's build of this
// folder takes the repo root's proxy.ts (and instrumentation.ts) as the floor's.
import { NextResponse } from 'next/server';

export function proxy(): NextResponse {
  return NextResponse.next();
}

export const config = { matcher: '/__floor-has-no-proxy' };
