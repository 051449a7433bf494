// Parameter schemas for /v1 endpoints: reject unknown parameters (with Stripe's bracketed
// `param` name), coerce strings to integers and booleans, turn `a[0]`-style hashes into arrays,
// and read an empty string as "unset this field", as Stripe does.
import { errors } from './errors';
import { type FormObject, type FormValue, isFormObject } from './form';

export type ParamSpec =
  | { type: 'string'; required?: boolean; enum?: readonly string[]; maxLength?: number }
  | { type: 'integer'; required?: boolean }
  | { type: 'boolean'; required?: boolean }
  | { type: 'metadata' }
  | { type: 'object'; required?: boolean; fields: ParamFields; open?: boolean }
  | { type: 'array'; of: ParamSpec; maxItems?: number }
  /** Integer, or a range hash `{ gt, gte, lt, lte }` (the `created` filter). */
  | { type: 'range' }
  /** Accepted and ignored (options the emulator has no behaviour for). */
  | { type: 'ignored' };

export type ParamFields = Readonly<Record<string, ParamSpec>>;

/** A validated value: `null` means the client sent an empty string to unset the field. */
export type ParamValue = string | number | boolean | null | ParamValue[] | ParamObject;
export interface ParamObject {
  [key: string]: ParamValue;
}

export interface Range {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
}

function childName(parent: string, key: string): string {
  return parent === '' ? key : `${parent}[${key}]`;
}

function toInteger(value: string, name: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw errors.invalidInteger(name, value);
  const n = Number(value.trim());
  if (!Number.isSafeInteger(n)) throw errors.invalidInteger(name, value);
  return n;
}

function validateValue(spec: ParamSpec, value: FormValue, name: string): ParamValue {
  switch (spec.type) {
    case 'ignored':
      return null;
    case 'string': {
      if (typeof value !== 'string') throw errors.invalidString(name);
      if (value === '') {
        if (spec.required) throw errors.invalidEmpty(name);
        return null;
      }
      if (spec.enum && !spec.enum.includes(value)) {
        throw errors.invalid(`Invalid ${name}: must be one of ${spec.enum.join(', ')}`, name);
      }
      if (spec.maxLength !== undefined && value.length > spec.maxLength) {
        throw errors.invalid(`Invalid ${name}: must be at most ${spec.maxLength} characters`, name);
      }
      return value;
    }
    case 'integer': {
      if (typeof value !== 'string') throw errors.invalidInteger(name, '(a hash)');
      if (value === '') {
        if (spec.required) throw errors.invalidEmpty(name);
        return null;
      }
      return toInteger(value, name);
    }
    case 'boolean': {
      if (typeof value !== 'string') throw errors.invalidBoolean(name, '(a hash)');
      if (value === 'true') return true;
      if (value === 'false') return false;
      if (value === '') {
        if (spec.required) throw errors.invalidEmpty(name);
        return null;
      }
      throw errors.invalidBoolean(name, value);
    }
    case 'range': {
      if (typeof value === 'string') return value === '' ? null : toInteger(value, name);
      if (!isFormObject(value)) throw errors.invalidHash(name);
      const out: ParamObject = {};
      for (const key of Object.keys(value)) {
        if (key !== 'gt' && key !== 'gte' && key !== 'lt' && key !== 'lte') throw errors.unknownParam(childName(name, key));
        const v = value[key];
        if (typeof v !== 'string') throw errors.invalidInteger(childName(name, key), '(a hash)');
        out[key] = toInteger(v, childName(name, key));
      }
      return out;
    }
    case 'metadata': {
      if (value === '') return null;
      if (!isFormObject(value)) throw errors.invalid('Invalid metadata: must be a hash of keys and values', name);
      const keys = Object.keys(value);
      if (keys.length > 50) throw errors.invalid('Invalid metadata: metadata can have at most 50 keys', name);
      const out: ParamObject = {};
      for (const key of keys) {
        const v = value[key];
        if (typeof v !== 'string') throw errors.invalid(`Invalid value for metadata key ${key}: must be a string`, childName(name, key));
        if (key.length > 40) throw errors.invalid(`Metadata keys can be at most 40 characters (${key})`, childName(name, key));
        if (v.length > 500) throw errors.invalid(`Metadata values can be at most 500 characters (${key})`, childName(name, key));
        out[key] = v === '' ? null : v;
      }
      return out;
    }
    case 'object': {
      if (value === '') {
        if (spec.required) throw errors.invalidEmpty(name);
        return null;
      }
      if (!isFormObject(value)) throw errors.invalidHash(name);
      return validateFields(spec.fields, value, name, spec.open === true);
    }
    case 'array': {
      if (value === '') return [];
      let items: FormValue[];
      if (Array.isArray(value)) items = value;
      else if (isFormObject(value)) {
        const keys = Object.keys(value);
        if (!keys.every((k) => /^\d+$/.test(k))) throw errors.invalidArray(name);
        items = keys.sort((a, b) => Number(a) - Number(b)).map((k) => value[k]);
      } else throw errors.invalidArray(name);
      if (spec.maxItems !== undefined && items.length > spec.maxItems) {
        throw errors.invalid(`Invalid array: ${name} can have at most ${spec.maxItems} items`, name);
      }
      return items.map((item, i) => validateValue(spec.of, item, `${name}[${i}]`));
    }
  }
}

export function validateFields(fields: ParamFields, input: FormObject, prefix = '', open = false): ParamObject {
  const out: ParamObject = {};
  for (const key of Object.keys(input)) {
    const spec = fields[key];
    if (!spec) {
      if (open) continue;
      throw errors.unknownParam(childName(prefix, key));
    }
    if (spec.type === 'ignored') continue;
    out[key] = validateValue(spec, input[key], childName(prefix, key));
  }
  for (const key of Object.keys(fields)) {
    const spec = fields[key];
    if ('required' in spec && spec.required && input[key] === undefined) throw errors.missingParam(childName(prefix, key));
  }
  return out;
}

// Typed readers for validated parameters.

export function readString(params: ParamObject, key: string): string | null | undefined {
  const v = params[key];
  return typeof v === 'string' || v === null ? v : undefined;
}

export function readInteger(params: ParamObject, key: string): number | null | undefined {
  const v = params[key];
  return typeof v === 'number' || v === null ? v : undefined;
}

export function readBoolean(params: ParamObject, key: string): boolean | undefined {
  const v = params[key];
  return typeof v === 'boolean' ? v : undefined;
}

export function readObject(params: ParamObject, key: string): ParamObject | null | undefined {
  const v = params[key];
  if (v === null) return null;
  return typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

export function readStrings(params: ParamObject, key: string): string[] {
  const v = params[key];
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

/** Metadata changes: a key mapped to null is removed; `null` for the whole hash clears it. */
export function readMetadata(params: ParamObject, key: string): Record<string, string | null> | null | undefined {
  const v = params[key];
  if (v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) return undefined;
  const out: Record<string, string | null> = {};
  for (const k of Object.keys(v)) {
    const value = v[k];
    out[k] = typeof value === 'string' ? value : null;
  }
  return out;
}

export function readRange(params: ParamObject, key: string): Range | undefined {
  const v = params[key];
  if (typeof v === 'number') return { gte: v, lte: v };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const range: Range = {};
  for (const k of ['gt', 'gte', 'lt', 'lte'] as const) {
    const n = v[k];
    if (typeof n === 'number') range[k] = n;
  }
  return range;
}

export function inRange(value: number, range: Range | undefined): boolean {
  if (!range) return true;
  if (range.gt !== undefined && !(value > range.gt)) return false;
  if (range.gte !== undefined && !(value >= range.gte)) return false;
  if (range.lt !== undefined && !(value < range.lt)) return false;
  if (range.lte !== undefined && !(value <= range.lte)) return false;
  return true;
}

export function applyMetadata(current: Record<string, string>, changes: Record<string, string | null> | null | undefined): Record<string, string> {
  if (changes === undefined) return current;
  if (changes === null) return {};
  const next: Record<string, string> = { ...current };
  for (const key of Object.keys(changes)) {
    const v = changes[key];
    if (v === null) delete next[key];
    else next[key] = v;
  }
  return next;
}
