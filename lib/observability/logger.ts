// pino JSON logs. Every line carries the current request id, and everything logged passes
// through redactSecrets first: API keys, webhook secrets, client secrets, auth headers,
// cookies and anything that looks like a card number never reach the log.
import pino, { type Logger } from 'pino';
import { config, logLevel } from '@/lib/config';
import { currentRequestContext } from './request-context';

const REDACTED = '[redacted]';

// Keys whose values are secret whatever they contain.
const SECRET_KEY = /^(authorization|proxy-authorization|cookie|set-cookie|client_secret|password|passwd|secret|api[_-]?key|secret[_-]?key|stripe[_-]?secret[_-]?key|webhook[_-]?secret|stripe-signature|card\[number\]|card\[cvc\]|card_number|cardnumber|cvc|cvv|pan|app_secret|smtp_url|database_url)$/i;
// Keys that are secret only inside a `card` object (`number` alone is often an order number).
const CARD_FIELD = /^(number|cvc|exp_month|exp_year)$/i;

const SECRET_PATTERNS: [RegExp, string][] = [
  [/\b(sk|rk)_(test|live)_[A-Za-z0-9_]+/g, '$1_$2_[redacted]'],
  [/\bwhsec_[A-Za-z0-9_+/=]+/g, 'whsec_[redacted]'],
  [/\b(pi|seti)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+/g, '$1_[client_secret redacted]'],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [redacted]'],
  [/(card\[(?:number|cvc)\]=)[^&\s]*/gi, '$1[redacted]'],
  [/(postgres(?:ql)?:\/\/[^:/\s]+:)[^@\s]+@/gi, '$1[redacted]@'],
];

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

// 13-19 digits, optionally grouped by spaces or dashes, that pass Luhn: a card number.
const CARD_LIKE = /\b\d(?:[ -]?\d){12,18}\b/g;

/** Scrubs secrets and card numbers out of one string. */
export function redactString(s: string): string {
  let out = s;
  for (const [re, replacement] of SECRET_PATTERNS) out = out.replace(re, replacement);
  return out.replace(CARD_LIKE, (m) => (luhnValid(m.replace(/[ -]/g, '')) ? '[card number redacted]' : m));
}

/** A deep copy of `value` with every secret and card number replaced. Safe on cycles. */
export function redactSecrets<T>(value: T, seen = new WeakSet<object>(), parentKey = ''): T {
  if (typeof value === 'string') return redactString(value) as T;
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value as object)) return '[circular]' as T;
  seen.add(value as object);
  if (value instanceof Error) {
    const e = value as Error & Record<string, unknown>;
    const out: Record<string, unknown> = { type: e.name, message: redactString(e.message) };
    if (e.stack) out.stack = redactString(e.stack);
    for (const k of ['code', 'type', 'statusCode', 'requestId', 'reason'] as const) if (e[k] !== undefined) out[k] = redactSecrets(e[k], seen, k);
    return out as T;
  }
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, seen, parentKey)) as T;
  if (value instanceof Date) return value;
  if (value instanceof Headers) return redactSecrets(Object.fromEntries(value.entries()), seen, parentKey) as unknown as T;
  const out: Record<string, unknown> = {};
  const inCard = /^card$/i.test(parentKey);
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEY.test(k) || (inCard && CARD_FIELD.test(k)) ? REDACTED : redactSecrets(v, seen, k);
  }
  return out as T;
}

function loggerOptions(level: string): pino.LoggerOptions {
  return {
    level,
    base: { service: 'brisk' },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const ctx = currentRequestContext();
      return ctx ? { requestId: ctx.requestId, ...(ctx.origin ? { origin: ctx.origin } : {}) } : {};
    },
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => redactSecrets(obj),
    },
    hooks: {
      // Messages are strings, which pino does not pass through formatters.log.
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? redactString(a) : a)) as Parameters<typeof method>);
      },
    },
    serializers: { err: (e: unknown) => redactSecrets(e) },
  };
}

// Not on globalThis: a second copy of this module (Next.js bundles it once per router and for
// instrumentation.ts) builds a second logger writing the same lines to the same stdout, which is
// harmless; what must be one per process, the request context it reads, is (request-context.ts).
let instance: Logger | undefined;

/** The logger; `logger().child({ component: 'stripe' })` for a part of the app. */
export function logger(): Logger {
  instance ??= pino(loggerOptions(logLevel(config())));
  return instance;
}

/** A logger writing redacted JSON lines to `write` (tests, tools). */
export function createLogger(write: (line: string) => void, level = 'info'): Logger {
  return pino(loggerOptions(level), { write });
}
