// A transparent HTTP proxy in front of the emulator that remembers when each /v1 request
// arrived, so tests and benchmarks can count exactly what left the gateway for "Stripe".
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CountingProxy {
  url: string;
  /** Arrival times (performance.now()) of /v1 requests, with method and path. */
  requests: { at: number; method: string; path: string; idempotencyKey?: string; budgetGrant?: { grantedAt: number; windowEndsAt: number } }[];
  reset(): void;
  /** Most requests seen within any window of `ms`. */
  maxInWindow(ms: number): number;
  close(): Promise<void>;
}

export async function startCountingProxy(target: string, port = 0): Promise<CountingProxy> {
  const upstream = new URL(target);
  const requests: CountingProxy['requests'] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const idempotencyKey = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined;
    // The budget grant the gateway paced this request by (epoch ms on the app's clock).
    const grant = /^(\d+)\/(\d+)$/.exec(String(req.headers['brisk-budget-grant'] ?? ''));
    const budgetGrant = grant ? { grantedAt: Number(grant[1]), windowEndsAt: Number(grant[2]) } : undefined;
    if (path.startsWith('/v1/')) requests.push({ at: performance.now(), method: req.method ?? 'GET', path, idempotencyKey, budgetGrant });
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path, headers: req.headers, agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    // A reset upstream is a reset here too, as a failing network would do.
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', r);
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    requests,
    reset: () => void requests.splice(0),
    maxInWindow(ms) {
      const t = requests.map((r) => r.at).sort((a, b) => a - b);
      let best = 0;
      for (let i = 0, j = 0; i < t.length; i++) {
        while (t[i] - t[j] >= ms) j++;
        best = Math.max(best, i - j + 1);
      }
      return best;
    },
    close: () =>
      new Promise((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
