// A transparent HTTP proxy between a server and the Stripe emulator that records every /v1
// request: when it arrived, how long "Stripe" took to answer it in full (from the request's
// arrival here to the end of the emulator's answer), and which PaymentIntent it was about (named
// in the path, or the id of the object answered). What a server step waited on Stripe is then
// the sum of these for the step's PaymentIntent within the step's request; the hop from the
// server to this proxy (loopback) stays in the server's time.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StripeCall {
  /** performance.now() at arrival and at the end of the answer. */
  at: number;
  end: number;
  ms: number;
  method: string;
  path: string;
  status: number;
  idempotencyKey?: string;
  /** The PaymentIntent the call named or answered with. */
  paymentIntent?: string;
}

export interface TimingProxy {
  url: string;
  calls: StripeCall[];
  reset(): void;
  close(): Promise<void>;
}

export async function startTimingProxy(target: string, port = 0): Promise<TimingProxy> {
  const upstream = new URL(target);
  const calls: StripeCall[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const server = http.createServer((req, res) => {
    const at = performance.now();
    const path = req.url ?? '/';
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers: req.headers, agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => {
        if (chunks.length < 4) chunks.push(c);
        res.write(c);
      });
      up.on('end', () => {
        res.end();
        if (!path.startsWith('/v1/')) return;
        const end = performance.now();
        const head = Buffer.concat(chunks).toString('utf8', 0, 2048);
        const answered = head.match(/"id"\s*:\s*"(pi_[A-Za-z0-9]+)"/)?.[1];
        const key = req.headers['idempotency-key'];
        calls.push({
          at,
          end,
          ms: end - at,
          method: req.method ?? 'GET',
          path,
          status: up.statusCode ?? 0,
          idempotencyKey: typeof key === 'string' ? key : undefined,
          paymentIntent: path.match(/\/v1\/payment_intents\/(pi_[A-Za-z0-9]+)/)?.[1] ?? answered,
        });
      });
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', r);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    reset: () => void calls.splice(0),
    close: () =>
      new Promise((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
