// Stripe's search query language (docs.stripe.com/search#search-query-language), for
// GET /v1/payment_intents/search and /v1/charges/search: clauses `field:value` (exact),
// `field~value` (substring, at least 3 characters), `field>n` `>=` `<` `<=` on numbers, `-` to negate,
// `metadata['key']:'value'`, joined by AND or by OR (not both: Stripe refuses the mix).
import { errors } from './errors';
import type { JsonObject } from './types';

type Operator = ':' | '~' | '>' | '>=' | '<' | '<=';

interface Clause {
  field: string;
  /** Set for `metadata['key']`. */
  metadataKey: string | null;
  operator: Operator;
  value: string | number | null;
  negated: boolean;
}

export interface Query {
  clauses: Clause[];
  join: 'AND' | 'OR';
}

const CLAUSE = /^(-?)(metadata\[(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\]|[a-z_][a-z0-9_.]*)(:|~|>=|<=|>|<)('((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|-?\d+|null)/;

function invalidQuery(query: string, why: string): never {
  throw errors.invalid(`Invalid search query '${query}': ${why}. See https://docs.stripe.com/search#search-query-language.`, 'query');
}

const unescape = (s: string) => s.replace(/\\(.)/g, '$1');

/** Parses a query for an object whose searchable fields are `fields` (metadata is always searchable). */
export function parseQuery(query: string, fields: readonly string[]): Query {
  const clauses: Clause[] = [];
  const joins = new Set<'AND' | 'OR'>();
  let rest = query.trim();
  if (rest === '') invalidQuery(query, 'the query is empty');
  for (;;) {
    const m = CLAUSE.exec(rest);
    if (!m) invalidQuery(query, `cannot read a clause at "${rest.slice(0, 40)}"`);
    const [whole, negated, field, mq, md, operator, raw, vq, vd] = m;
    const metadataKey = mq !== undefined ? unescape(mq) : md !== undefined ? unescape(md) : null;
    const name = metadataKey !== null ? 'metadata' : field;
    if (metadataKey === null && !fields.includes(name)) invalidQuery(query, `the field ${name} is not searchable here (searchable: ${fields.join(', ')}, metadata)`);
    const value = vq !== undefined ? unescape(vq) : vd !== undefined ? unescape(vd) : raw === 'null' ? null : Number(raw);
    const op = operator as Operator;
    if (op === '~' && (typeof value !== 'string' || value.length < 3)) invalidQuery(query, 'a substring match (~) needs a quoted value of at least 3 characters');
    if (op !== ':' && op !== '~' && typeof value !== 'number') invalidQuery(query, `${op} compares numbers only`);
    clauses.push({ field: name, metadataKey, operator: op, value, negated: negated === '-' });
    rest = rest.slice(whole.length);
    if (rest.trim() === '') break;
    const join = /^\s+(AND|OR)\s+/.exec(rest);
    if (!join) invalidQuery(query, `expected AND or OR before "${rest.trim().slice(0, 40)}"`);
    joins.add(join[1] as 'AND' | 'OR');
    rest = rest.slice(join[0].length);
  }
  if (joins.size > 1) invalidQuery(query, 'AND and OR cannot be combined in one query');
  if (clauses.length > 10) invalidQuery(query, 'at most 10 clauses are allowed');
  return { clauses, join: joins.has('OR') ? 'OR' : 'AND' };
}

function valueAt(object: JsonObject, clause: Clause): unknown {
  if (clause.metadataKey !== null) return (object.metadata as Record<string, string> | null)?.[clause.metadataKey] ?? null;
  let value: unknown = object;
  for (const part of clause.field.split('.')) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  return value ?? null;
}

function clauseMatches(object: JsonObject, clause: Clause): boolean {
  const actual = valueAt(object, clause);
  let hit: boolean;
  const { value } = clause;
  switch (clause.operator) {
    case ':':
      if (value === null) hit = actual === null;
      else if (typeof actual === 'number' || typeof actual === 'boolean') hit = String(actual) === String(value);
      else hit = typeof actual === 'string' && actual.toLowerCase() === String(value).toLowerCase();
      break;
    case '~':
      hit = typeof actual === 'string' && actual.toLowerCase().includes(String(value).toLowerCase());
      break;
    default: {
      const n = value as number;
      const a = typeof actual === 'number' ? actual : NaN;
      hit = clause.operator === '>' ? a > n : clause.operator === '>=' ? a >= n : clause.operator === '<' ? a < n : a <= n;
    }
  }
  return clause.negated ? !hit : hit;
}

export function matches(object: JsonObject, query: Query): boolean {
  return query.join === 'AND' ? query.clauses.every((c) => clauseMatches(object, c)) : query.clauses.some((c) => clauseMatches(object, c));
}

/** The searchable fields Stripe documents for each object. */
export const SEARCH_FIELDS = {
  payment_intent: ['amount', 'created', 'currency', 'customer', 'status'],
  charge: [
    'amount',
    'billing_details.address.postal_code',
    'created',
    'currency',
    'customer',
    'disputed',
    'payment_method_details.card.brand',
    'payment_method_details.card.exp_month',
    'payment_method_details.card.exp_year',
    'payment_method_details.card.last4',
    'refunded',
    'status',
  ],
} as const satisfies Record<string, readonly string[]>;
