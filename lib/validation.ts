// Parsing what a shopper, a form or a script sent. zod 4 runs a string's or an array's length
// checks on any value that has a `length`, even after the type check failed, and compares it
// with `>`: an object without a prototype there (`{ length: Object.create(null) }`) makes
// safeParse throw "Cannot convert object to primitive value" instead of answering. So untrusted
// input is first copied into plain data (ordinary objects and arrays, primitives; nothing
// callable, no getters run twice, bounded depth), and anything that still throws becomes a
// form-level error: bad input always gets an answer, never a 500.
import { z } from 'zod';

const MAX_DEPTH = 16;

/** A copy of `value` made only of primitives, arrays and ordinary objects. */
export function plainData(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return value;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return value;
    case 'object':
      break;
    default:
      return undefined; // functions and symbols are not data
  }
  if (depth >= MAX_DEPTH) return undefined;
  if (Array.isArray(value)) return value.map((v) => plainData(v, depth + 1));
  if (value instanceof Date) return new Date(value.getTime());
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    // defineProperty, not assignment: an own "__proto__" key stays a key and never sets a prototype.
    Object.defineProperty(out, key, { value: plainData((value as Record<string, unknown>)[key], depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** safeParse for input from outside: never throws, whatever `raw` is. */
export function parseUntrusted<S extends z.ZodType>(schema: S, raw: unknown): z.ZodSafeParseResult<z.output<S>> {
  try {
    return schema.safeParse(plainData(raw));
  } catch {
    return { success: false, error: new z.ZodError([{ code: 'custom', path: [], message: 'Invalid input.', input: raw }]) } as z.ZodSafeParseResult<z.output<S>>;
  }
}
