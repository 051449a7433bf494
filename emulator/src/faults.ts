// Fault injection in front of (or, with `after`, behind) the emulated API, plus the latency
// and Stripe's rate limiter. Path patterns: a rule's `path` matches that path and everything
// under it (`/v1/payment_intents` matches `/v1/payment_intents/pi_1/confirm`); `*` matches one
// path segment (`/v1/payment_intents/*/confirm`); a trailing `$` demands an exact match.
import { errors, type StripeErrorBody } from './errors';
import { newId } from './ids';

export interface FaultRule {
  id: string;
  object: 'fault_rule';
  method: string | null;
  path: string | null;
  status: number | null;
  code: string | null;
  message: string | null;
  should_retry: boolean | null;
  delay_ms: number;
  reset_connection: boolean;
  after: boolean;
  /** How many more times it applies; null = until deleted. */
  times: number | null;
  probability: number;
  hits: number;
}

export interface FaultResponse {
  status: number;
  body: { error: StripeErrorBody };
  headers: Record<string, string>;
}

function optionalNumber(input: Record<string, unknown>, key: string, min: number, max: number, integer = true): number | null {
  const v = input[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw errors.invalid(`${key} must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}`, key);
  }
  return v;
}

function optionalBoolean(input: Record<string, unknown>, key: string): boolean | null {
  const v = input[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'boolean') throw errors.invalid(`${key} must be a boolean`, key);
  return v;
}

function optionalString(input: Record<string, unknown>, key: string): string | null {
  const v = input[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v === '') throw errors.invalid(`${key} must be a non-empty string`, key);
  return v;
}

const RULE_FIELDS = new Set(['method', 'path', 'status', 'code', 'message', 'should_retry', 'delay_ms', 'reset_connection', 'after', 'times', 'probability']);

export function parseFaultRule(input: Record<string, unknown>): FaultRule {
  for (const key of Object.keys(input)) {
    if (!RULE_FIELDS.has(key)) throw errors.unknownParam(key);
  }
  const method = optionalString(input, 'method');
  const path = optionalString(input, 'path');
  if (path !== null && !path.startsWith('/')) throw errors.invalid('path must start with /', 'path');
  return {
    id: newId('flt', 14),
    object: 'fault_rule',
    method: method ? method.toUpperCase() : null,
    path,
    status: optionalNumber(input, 'status', 100, 599),
    code: optionalString(input, 'code'),
    message: optionalString(input, 'message'),
    should_retry: optionalBoolean(input, 'should_retry'),
    delay_ms: optionalNumber(input, 'delay_ms', 0, 600_000) ?? 0,
    reset_connection: optionalBoolean(input, 'reset_connection') ?? false,
    after: optionalBoolean(input, 'after') ?? false,
    times: optionalNumber(input, 'times', 1, Number.MAX_SAFE_INTEGER),
    probability: optionalNumber(input, 'probability', 0, 1, false) ?? 1,
    hits: 0,
  };
}

function pathMatches(pattern: string, path: string): boolean {
  const exact = pattern.endsWith('$');
  const want = (exact ? pattern.slice(0, -1) : pattern).replace(/\/+$/, '').split('/');
  const have = path.replace(/\/+$/, '').split('/');
  if (exact ? have.length !== want.length : have.length < want.length) return false;
  for (let i = 0; i < want.length; i++) {
    if (want[i] !== '*' && want[i] !== have[i]) return false;
  }
  return true;
}

/** What a rule does to a request it catches: fail it, drop the connection, or only delay it. */
export function ruleFails(rule: FaultRule): boolean {
  return rule.reset_connection || rule.status !== null || rule.delay_ms === 0;
}

export function faultResponse(rule: FaultRule): FaultResponse {
  const status = rule.status ?? 500;
  const type: StripeErrorBody['type'] = status === 402 ? 'card_error' : status >= 500 ? 'api_error' : 'invalid_request_error';
  const code = rule.code ?? (status === 429 ? 'rate_limit' : status === 409 ? 'lock_timeout' : undefined);
  const message =
    rule.message ??
    (code === 'rate_limit'
      ? 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.'
      : `Injected fault (emulator rule ${rule.id}).`);
  const body: StripeErrorBody = { type, message };
  if (code) body.code = code;
  if (status === 402 && code === 'card_declined') body.decline_code = 'generic_decline';
  const headers: Record<string, string> = {};
  if (rule.should_retry !== null) headers['Stripe-Should-Retry'] = String(rule.should_retry);
  return { status, body: { error: body }, headers };
}

export interface Latency {
  mean_ms: number;
  jitter_ms: number;
}

export class Faults {
  private rules: FaultRule[] = [];
  latency: Latency = { mean_ms: 0, jitter_ms: 0 };

  add(rule: FaultRule): FaultRule {
    this.rules.push(rule);
    return rule;
  }

  list(): FaultRule[] {
    return [...this.rules];
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  clear(): void {
    this.rules = [];
  }

  get count(): number {
    return this.rules.length;
  }

  /** Finds the first rule for this request and stage, spending one of its `times`. */
  match(method: string, path: string, after: boolean): FaultRule | null {
    if (this.rules.length === 0) return null;
    for (const rule of this.rules) {
      if (rule.after !== after) continue;
      if (rule.method !== null && rule.method !== method) continue;
      if (rule.path !== null && !pathMatches(rule.path, path)) continue;
      if (rule.probability < 1 && Math.random() >= rule.probability) continue;
      rule.hits += 1;
      if (rule.times !== null) {
        rule.times -= 1;
        if (rule.times <= 0) this.rules = this.rules.filter((r) => r !== rule);
      }
      return rule;
    }
    return null;
  }

  sampleLatencyMs(): number {
    const { mean_ms, jitter_ms } = this.latency;
    if (mean_ms <= 0 && jitter_ms <= 0) return 0;
    return Math.max(0, mean_ms + (Math.random() * 2 - 1) * jitter_ms);
  }
}

/** Stripe's rate limiter: a token bucket refilled at `perSecond` (0 = off). */
export class RateLimiter {
  private tokens = 0;
  private last = 0;

  constructor(private perSecondValue = 0) {
    this.tokens = perSecondValue;
  }

  get perSecond(): number {
    return this.perSecondValue;
  }

  set perSecond(value: number) {
    this.perSecondValue = value;
    this.tokens = value;
    this.last = performance.now();
  }

  take(): boolean {
    if (this.perSecondValue <= 0) return true;
    const now = performance.now();
    this.tokens = Math.min(this.perSecondValue, this.tokens + ((now - this.last) / 1000) * this.perSecondValue);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}
