// Brisk's HTTP server: Next.js's request handler on node:http, with two jobs Next cannot do.
//
// 1. The client's address. Next.js does not expose the TCP peer's address to route handlers,
//    server actions or pages, and X-Forwarded-For is whatever the client wrote. Here, where the
//    socket is, the address is worked out once per request (the peer's, unless TRUSTED_PROXIES
//    vouches for an X-Forwarded-For entry) and handed to Next in x-brisk-client-ip. Any copy of
//    that header the client sent is replaced, so it cannot be forged through this server.
// 2. Refusing bad page posts. Next answers cross-origin actions, undecodable action bodies and
//    bodies over the limit with 500 and an error log; they are refused here with 403, 400, 411
//    or 413 and logged as a refusal (lib/security/action-guard.ts).
// 3. Admission control (lib/http/admission.ts): at most HTTP_MAX_IN_FLIGHT requests are worked on
//    at once; the rest wait in line up to HTTP_QUEUE_TIMEOUT_MS, and one that cannot be served in
//    that time is answered 503 with Retry-After at once, instead of an overloaded process letting
//    connections time out. /api/health, /api/metrics and static files are never held back.
//
// `npm start` (scripts/start.ts), the Playwright specs, benchmarks and chaos runs all serve
// through this file: PORT, BRISK_HOST (default: all interfaces), TRUSTED_PROXIES, APP_URL.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import next from 'next';
import pino from 'pino';
import { checkActionBody, checkPagePost, isPagePost, type GuardDecision, type PostHeaders } from '../lib/security/action-guard';
import { Admission, admissionSettingsFrom, bypassesAdmission, type ShedReason } from '../lib/http/admission';
import { metrics } from '../lib/observability/metrics';
import { CLIENT_ADDRESS_HEADER, CLIENT_LOCAL_HEADER, internalHeadersFor, INTERNAL_HEADERS, markClientAddressServer, parseTrustedProxies, TrustedProxiesError } from '../lib/security/client-address';

const root = resolve(import.meta.dirname, '..');
const port = Number(process.env.PORT ?? 3000);
// Not HOSTNAME: containers set it to the machine's name.
const hostname = process.env.BRISK_HOST || undefined;
const appUrl = process.env.APP_URL || undefined;
const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { service: 'brisk', component: 'http' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } });

let trusted: ReturnType<typeof parseTrustedProxies>;
try {
  trusted = parseTrustedProxies(process.env.TRUSTED_PROXIES);
} catch (err) {
  console.error(`Brisk cannot start, its configuration is invalid:\n  - TRUSTED_PROXIES ${err instanceof TrustedProxiesError ? err.message : String(err)}`);
  process.exit(1);
}

let admission: Admission | null;
try {
  const settings = admissionSettingsFrom(process.env);
  let shedSince = 0;
  let shedCount = 0;
  admission = settings
    ? new Admission(settings, undefined, (reason: ShedReason) => {
        metrics().httpShed.inc({ reason });
        // One log line a second at most while shedding, with the count since the last one.
        shedCount++;
        const now = Date.now();
        if (now - shedSince >= 1000) {
          log.warn({ shed: shedCount, reason, ...admission?.stats() }, 'overloaded: requests answered busy (503)');
          shedSince = now;
          shedCount = 0;
        }
      })
    : null;
} catch (err) {
  console.error(`Brisk cannot start, its configuration is invalid:\n  - ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

const BUSY_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Busy — Brisk</title></head><body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5"><h1>We are very busy right now</h1><p>Your cart is saved. Please try again in a few seconds.</p><p><a href="">Try again</a></p></body></html>`;

function busy(req: IncomingMessage, res: ServerResponse, retryAfterSeconds: number): void {
  const html = req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
  res.writeHead(503, { 'content-type': html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'retry-after': String(retryAfterSeconds) });
  res.end(html ? BUSY_PAGE : 'Busy: please try again shortly.');
}

// instrumentation.ts stops the job worker on SIGTERM and then exits the process (lib/jobs/runtime.ts).
process.env.NEXT_MANUAL_SIG_HANDLE ??= '1';
markClientAddressServer();

function refuse(req: IncomingMessage, res: ServerResponse, d: Extract<GuardDecision, { ok: false }>, client: string | null): void {
  log.warn({ status: d.status, refusal: d.kind, reason: d.reason, method: req.method, path: (req.url ?? '').split('?')[0].slice(0, 200), client }, 'page post refused');
  res.writeHead(d.status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
  res.end(d.status === 403 ? 'Forbidden' : d.status === 413 ? 'Request body too large' : d.status === 411 ? 'Length required' : 'Bad request');
}

/**
 * Reads a body of `length` bytes to judge it, then puts it back at the front of the stream, so
 * Next (its proxy and its action handler) reads it as if nobody had. null when the client sent
 * less than it declared.
 */
function peekBody(req: IncomingMessage, length: number): Promise<Buffer | null> {
  if (length === 0) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolveBody) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (body: Buffer | null) => {
      req.off('readable', onReadable);
      req.off('end', onEnd);
      req.off('error', onError);
      resolveBody(body);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = req.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= length) {
          const body = Buffer.concat(chunks);
          // Before 'end' is emitted (it waits for an empty buffer), so the stream ends after it again.
          req.unshift(body);
          return finish(body);
        }
      }
    };
    const onEnd = () => finish(null);
    // A client that goes away mid-body is refused like a short body, not logged as our error.
    const onError = () => finish(null);
    req.on('readable', onReadable);
    req.once('end', onEnd);
    req.once('error', onError);
  });
}

async function main(): Promise<void> {
  const app = next({ dev: false, dir: root, hostname: hostname ?? 'localhost', port });
  const handle = app.getRequestHandler();
  await app.prepare();

  const server = createServer(async (req, res) => {
    // The only place the client's address is decided. Node lower-cases header names.
    const { address: client, local } = internalHeadersFor(req.socket.remoteAddress, req.headers, trusted);
    for (const name of INTERNAL_HEADERS) delete req.headers[name];
    if (client) req.headers[CLIENT_ADDRESS_HEADER] = client;
    if (local) req.headers[CLIENT_LOCAL_HEADER] = '1';
    const path = (req.url ?? '/').split('?')[0];
    if (admission && !bypassesAdmission(path)) {
      const admitted = await admission.enter();
      if (!admitted.ok) return busy(req, res, admitted.retryAfterSeconds);
      // Freed when the answer is sent or the client goes away, whichever comes first.
      res.once('close', admitted.release);
      if (req.socket.destroyed) return admitted.release();
    }
    try {
      if (isPagePost(req.method, path)) {
        const h = req.headers as PostHeaders;
        const decision = checkPagePost(h, appUrl);
        if (!decision.ok) return refuse(req, res, decision, client);
        if (decision.readBody) {
          // checkPagePost has made sure of a Content-Length of at most MAX_ACTION_BODY_BYTES.
          const body = await peekBody(req, Number(h['content-length']));
          if (!body) return refuse(req, res, { ok: false, status: 400, kind: 'malformed', reason: 'the body is shorter than its Content-Length' }, client);
          const checked = await checkActionBody(h, body);
          if (!checked.ok) return refuse(req, res, checked, client);
        }
      }
      await handle(req, res);
    } catch (err) {
      log.error({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Internal Server Error');
    }
  });
  server.keepAliveTimeout = 65_000;

  const stop = () => {
    // Stop taking requests; instrumentation.ts stops the jobs and exits. If nothing exits the
    // process in time (instrumentation not loaded), leave anyway.
    server.close();
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 15_000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  server.listen(port, hostname, () => {
    const shown = hostname && hostname !== '0.0.0.0' && hostname !== '::' ? hostname : 'localhost';
    // scripts/start.ts and the test harnesses wait for this line.
    console.log(`✓ Ready on http://${shown}:${port} (client address: ${trusted.kind === 'none' ? 'the TCP peer; no proxy trusted' : `X-Forwarded-For from trusted proxies (${process.env.TRUSTED_PROXIES})`})`);
  });
}

main().catch((err) => {
  console.error(`[brisk] the HTTP server could not start: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.exit(1);
});
