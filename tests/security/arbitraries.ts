// fast-check arbitraries for hostile input: what a script, a fuzzer or an attacker sends to a
// form, a server action or a route — huge strings, odd unicode, prototype-pollution keys,
// SQL and template injection, nested objects, NaN/Infinity, negative and huge numbers.
import fc from 'fast-check';

export const NASTY_STRINGS = [
  '',
  ' ',
  "' OR 1=1 --",
  "'; DROP TABLE \"Order\"; --",
  '" OR ""="',
  '1; SELECT pg_sleep(5)',
  '__proto__',
  'constructor',
  'prototype',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  'javascript:alert(1)',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\uFEFF',
  '\u202Egnp.exe',
  'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇',
  '👩‍👩‍👧‍👦',
  '../../etc/passwd',
  '${7*7}',
  '{{7*7}}',
  '%00',
  '%s%s%s%n',
  'NaN',
  'Infinity',
  '-1',
  '1e309',
  '0x10',
  '9'.repeat(400),
  'x'.repeat(5_000),
  'evt_' + 'a'.repeat(300),
  'pi_123_secret_456',
];

export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 200, maxLength: 3_000 }) },
  { weight: 1, arbitrary: fc.uuid() },
);

export const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(NaN, Infinity, -Infinity, -0, -1, 0.5, 1e308, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, -Number.MAX_VALUE, 2 ** 31),
  fc.double(),
  fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }),
);

export const nastyKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '$where', '$ne', 'then'),
  fc.string({ maxLength: 20 }),
);

/** JSON-parsed payloads carry a real own `__proto__` key, as a request body would. */
const pollution = fc.constantFrom(
  JSON.parse('{"__proto__": {"polluted": "yes"}}') as unknown,
  JSON.parse('{"constructor": {"prototype": {"polluted": "yes"}}}') as unknown,
  JSON.parse('{"email": {"__proto__": {"polluted": "yes"}}}') as unknown,
);

export const nastyValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    nastyString,
    nastyNumber,
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.bigInt().map((b) => b),
    pollution,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(nastyKey, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** An object with the given field names, each hostile, plus hostile extra keys. */
export function nastyRecord(fields: string[]): fc.Arbitrary<Record<string, unknown>> {
  const known = fc.record(Object.fromEntries(fields.map((f) => [f, nastyValue])) as Record<string, fc.Arbitrary<unknown>>, { requiredKeys: [] });
  return fc.tuple(known, fc.dictionary(nastyKey, nastyValue, { maxKeys: 3 })).map(([k, extra]) => ({ ...extra, ...k }));
}

/** Anything at all in place of an input object. */
export function nastyInput(fields: string[]): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 3, arbitrary: nastyRecord(fields) }, { weight: 1, arbitrary: nastyValue }, { weight: 1, arbitrary: pollution });
}

/** Asserts nothing reached Object.prototype. */
export function assertNoPollution(): void {
  const probe = {} as Record<string, unknown>;
  if (probe.polluted !== undefined || Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')) throw new Error('Object.prototype was polluted');
}

export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 60);
