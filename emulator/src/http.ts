// Small HTTP helpers shared by the API, the control API and the 3-D Secure endpoints.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './errors';

export const MAX_BODY_BYTES = 1024 * 1024;

export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, DELETE, OPTIONS',
  'Access-Control-Allow-Headers':
    'Authorization, Content-Type, Idempotency-Key, Stripe-Version, Stripe-Account, Stripe-Context, X-Stripe-Client-User-Agent, X-Stripe-Client-Telemetry, User-Agent',
  'Access-Control-Expose-Headers': 'Request-Id, Idempotent-Replayed, Idempotency-Key, Stripe-Should-Retry, Stripe-Version',
  'Access-Control-Max-Age': '600',
};

/** Reads the whole body as text; rejects bodies over MAX_BODY_BYTES with a Stripe-shaped 413. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      reject(new ApiError(413, { type: 'invalid_request_error', message: `Request body too large (limit ${MAX_BODY_BYTES} bytes).` }));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ApiError(413, { type: 'invalid_request_error', message: `Request body too large (limit ${MAX_BODY_BYTES} bytes).` }));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('request aborted')));
  });
}

export function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  headers['Content-Type'] = 'application/json';
  headers['Content-Length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(body);
}

export function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/** The origin the client used to reach us (Host header), so links we hand out work for it. */
export function originOf(req: IncomingMessage, fallback: string): string {
  const host = req.headers.host;
  if (host && /^[A-Za-z0-9.\-[\]:]+$/.test(host)) return `http://${host}`;
  return fallback;
}

/** Reads a token from `Authorization: Bearer <key>` or `Basic base64(<key>:)`. */
export function apiKeyFrom(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const space = header.indexOf(' ');
  if (space === -1) return null;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') return value;
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? decoded : decoded.slice(0, colon);
  }
  return null;
}
