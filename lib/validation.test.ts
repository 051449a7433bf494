import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseUntrusted, plainData } from './validation';

const Form = z.object({
  postalCode: z.string({ error: 'Enter your postal code.' }).trim().min(2).max(16),
  tags: z.array(z.string()).max(3).optional(),
});

describe('parseUntrusted', () => {
  it('answers a field error where zod alone throws (a length without a prototype, found by the shop-input fuzz)', () => {
    const hostile = { postalCode: { length: Object.create(null) }, tags: { length: Object.create(null) } };
    expect(() => Form.safeParse(hostile)).toThrow(); // the zod 4.6 behaviour this guards against
    const r = parseUntrusted(Form, hostile);
    expect(r.success).toBe(false);
    if (!r.success) {
      const first = new Map<unknown, string>();
      for (const i of r.error.issues) if (!first.has(i.path[0])) first.set(i.path[0], i.message);
      expect(Object.fromEntries(first)).toEqual({ postalCode: 'Enter your postal code.', tags: 'Invalid input: expected array, received object' });
    }
  });

  it('never throws: a getter that throws becomes a form-level error', () => {
    const evil = { get postalCode(): string { throw new Error('boom'); } };
    const r = parseUntrusted(Form, evil);
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues[0]).toMatchObject({ path: [], message: 'Invalid input.' });
  });

  it('passes good input through unchanged', () => {
    expect(parseUntrusted(Form, { postalCode: ' N1 9GU ', tags: ['a'] })).toEqual({ success: true, data: { postalCode: 'N1 9GU', tags: ['a'] } });
  });

  it('copies into plain data: own "__proto__" keys stay keys, functions go, depth is bounded', () => {
    const copy = plainData(JSON.parse('{"__proto__": {"polluted": "yes"}, "f": 1}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__', 'f']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(plainData({ f: () => 1, s: Symbol('x') })).toEqual({ f: undefined, s: undefined });
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(JSON.stringify(plainData(deep))).not.toContain('bottom');
  });
});
