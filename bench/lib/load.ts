// Bounded HTTP load against 127.0.0.1: a closed loop at fixed concurrency for a fixed time
// (maximum throughput) and an open loop at a fixed rate with a cap on requests in flight.
// Both stop by themselves; latencies are per request, from send to the end of the answer.
import http from 'node:http';
import { percentile } from './results';

export interface LoadResult {
  sent: number;
  ok: number;
  errors: number;
  /** Open loop only: sends skipped because the in-flight cap was reached. */
  skipped: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  statuses: Record<string, number>;
  /** Every request's latency, sorted (to merge slices). */
  latencies: number[];
}

export interface RequestSpec {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export function makeAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

export function send(agent: http.Agent, port: number, spec: RequestSpec, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: spec.path, agent, headers: { ...spec.headers, 'content-length': Buffer.byteLength(spec.body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve(0));
    req.end(spec.body);
  });
}

function summarize(latencies: number[], statuses: Record<string, number>, sent: number, skipped: number, seconds: number): LoadResult {
  latencies.sort((a, b) => a - b);
  const ok = Object.entries(statuses).reduce((s, [k, n]) => (k.startsWith('2') ? s + n : s), 0);
  return { sent, ok, errors: sent - ok, skipped, seconds, perSecond: ok / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), statuses, latencies };
}

/** Several slices of the same load as one result (throughput over their summed time). */
export function mergeResults(parts: LoadResult[]): LoadResult {
  const latencies = parts.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const statuses: Record<string, number> = {};
  for (const p of parts) for (const [k, n] of Object.entries(p.statuses)) statuses[k] = (statuses[k] ?? 0) + n;
  const sum = (k: 'sent' | 'ok' | 'errors' | 'skipped' | 'seconds') => parts.reduce((s, p) => s + p[k], 0);
  const okPerSecond = parts.reduce((s, p) => s + p.perSecond * p.seconds, 0) / sum('seconds');
  return { sent: sum('sent'), ok: sum('ok'), errors: sum('errors'), skipped: sum('skipped'), seconds: sum('seconds'), perSecond: okPerSecond, p50: percentile(latencies, 50), p99: percentile(latencies, 99), statuses, latencies };
}

/** As many requests as `concurrency` workers can push in `seconds`. */
export async function closedLoop(o: { port: number; concurrency: number; seconds: number; next: () => RequestSpec; timeoutMs?: number }): Promise<LoadResult> {
  const agent = makeAgent(o.concurrency);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let sent = 0;
  const start = performance.now();
  const end = start + o.seconds * 1000;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < end) {
        const spec = o.next();
        const t = performance.now();
        sent++;
        const status = await send(agent, o.port, spec, o.timeoutMs ?? 10_000);
        latencies.push(performance.now() - t);
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  return summarize(latencies, statuses, sent, 0, seconds);
}

/** `rate` requests per second for `seconds`, never more than maxInFlight at once. */
export async function openLoop(o: { port: number; rate: number; seconds: number; maxInFlight: number; next: () => RequestSpec; timeoutMs?: number }): Promise<LoadResult> {
  const agent = makeAgent(o.maxInFlight);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const pending = new Set<Promise<void>>();
  let sent = 0;
  let skipped = 0;
  const start = performance.now();
  const total = Math.round(o.rate * o.seconds);
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / o.rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    if (pending.size >= o.maxInFlight) {
      skipped++;
      continue;
    }
    const spec = o.next();
    const t = performance.now();
    sent++;
    const p = send(agent, o.port, spec, o.timeoutMs ?? 10_000).then((status) => {
      latencies.push(performance.now() - t);
      statuses[status] = (statuses[status] ?? 0) + 1;
      pending.delete(p);
    });
    pending.add(p);
  }
  await Promise.all(pending);
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  const r = summarize(latencies, statuses, sent, skipped, seconds);
  // The open loop's throughput is what it was asked for, less what it could not send.
  return { ...r, perSecond: r.ok / o.seconds };
}
