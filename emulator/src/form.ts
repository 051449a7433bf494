// Form-encoded bodies with Stripe's bracket nesting: `a[b][c]=1`, `expand[0]=x`, `expand[]=x`.
// Objects are built without prototypes so a key like `__proto__` is just a key. Numeric keys
// stay object keys here; the parameter schema turns them into arrays where an array is expected.
import { errors } from './errors';

export type FormValue = string | FormValue[] | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

const MAX_PAIRS = 2000;
const MAX_DEPTH = 8;

export function isFormObject(value: FormValue | undefined): value is FormObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function emptyForm(): FormObject {
  return Object.create(null) as FormObject;
}

function decode(text: string): string {
  const spaced = text.indexOf('+') === -1 ? text : text.replace(/\+/g, ' ');
  if (spaced.indexOf('%') === -1) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    // A stray '%' is taken literally rather than failing the whole request.
    return spaced.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
      const code = parseInt(hex, 16);
      return code < 0x80 ? String.fromCharCode(code) : m;
    });
  }
}

/** Splits `a[b][]` into ['a', 'b', '']; a key with unbalanced brackets is one literal segment. */
function splitKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0 || !key.endsWith(']')) return [key];
  const segments = [key.slice(0, open)];
  let i = open;
  while (i < key.length) {
    if (key[i] !== '[') return [key];
    const close = key.indexOf(']', i);
    if (close === -1) return [key];
    segments.push(key.slice(i + 1, close));
    i = close + 1;
  }
  if (segments.length > MAX_DEPTH + 1) throw errors.invalid(`Parameter nesting is too deep: ${key}`, segments[0]);
  return segments;
}

function paramName(segments: string[], upTo: number): string {
  let name = segments[0];
  for (let i = 1; i <= upTo && i < segments.length; i++) name += `[${segments[i]}]`;
  return name;
}

export function parseForm(body: string): FormObject {
  const root = emptyForm();
  if (body.length === 0) return root;
  const pairs = body.split('&');
  if (pairs.length > MAX_PAIRS) throw errors.invalid('Too many parameters in the request.');
  for (const pair of pairs) {
    if (pair.length === 0) continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1));
    const key = decode(rawKey);
    if (key.length === 0) continue;
    assign(root, splitKey(key), value);
  }
  return root;
}

function assign(root: FormObject, segments: string[], value: string): void {
  let container: FormObject | FormValue[] = root;
  for (let i = 0; i < segments.length; i++) {
    const last = i === segments.length - 1;
    const segment = segments[i];
    if (Array.isArray(container)) {
      // Only `[]` may follow an array (`a[]=1&a[]=2`); anything else mixes list and hash.
      if (segment !== '') throw errors.invalidHash(paramName(segments, i - 1));
      if (last) {
        container.push(value);
        return;
      }
      const next: FormObject = emptyForm();
      container.push(next);
      container = next;
      continue;
    }
    if (segment === '' && i > 0) throw errors.invalidArray(paramName(segments, i - 1));
    const existing: FormValue | undefined = container[segment];
    if (last) {
      if (existing !== undefined && typeof existing !== 'string') throw errors.invalidHash(paramName(segments, i));
      container[segment] = value;
      return;
    }
    const wantsArray = segments[i + 1] === '';
    if (existing === undefined) {
      const next: FormObject | FormValue[] = wantsArray ? [] : emptyForm();
      container[segment] = next;
      container = next;
    } else if (typeof existing === 'string') {
      throw errors.invalidHash(paramName(segments, i));
    } else if (Array.isArray(existing) !== wantsArray) {
      throw errors.invalidHash(paramName(segments, i));
    } else {
      container = existing;
    }
  }
}

/** JSON body (control API, 3DS endpoints) as a plain object; anything else is an error. */
export function parseJsonObject(body: string): Record<string, unknown> {
  if (body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw errors.invalid('Invalid JSON body.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw errors.invalid('The JSON body must be an object.');
  }
  return parsed as Record<string, unknown>;
}

/** A stable text for comparing two requests' parameters (idempotency): key order does not matter. */
export function canonicalForm(value: FormValue): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalForm).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalForm(value[k])}`).join(',')}}`;
}
