// One owner per aggregate: only lib/orders writes the order tables (Order and what hangs off it:
// lines, timeline, attempts, stock holds, ledger, refunds, fulfilment, side-effect claims). The
// checkout, the webhook worker, refunds, the admin and reconciliation change an order through
// lib/orders. This scans the source for writes in any of the three forms the code uses.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT as ROOT, sourceFiles } from '@/tests/helpers/sources';

const OWNER = 'lib/orders/';
const SCANNED = ['lib', 'app', 'pages', 'scripts', 'emulator'];
const SKIPPED = [/^lib\/generated\//, /\.test\.tsx?$/, /(^|\/)node_modules\//];

const TABLES = ['Order', 'OrderItem', 'OrderEvent', 'PaymentAttempt', 'StockHold', 'LedgerEntry', 'Refund', 'Fulfillment', 'SideEffect', 'OutboxMessage'];
const delegate = (t: string) => t[0].toLowerCase() + t.slice(1);
const names = TABLES.join('|');
const WRITES: [string, RegExp][] = [
  ['SQL', new RegExp(`\\b(?:INSERT\\s+INTO|UPDATE|DELETE\\s+FROM)\\s+"(?:${names})"`, 'i')],
  ['Prisma', new RegExp(`\\.(?:${TABLES.map(delegate).join('|')})\\s*\\.\\s*(?:create|createMany|createManyAndReturn|update|updateMany|updateManyAndReturn|upsert|delete|deleteMany)\\s*\\(`)],
  ['Kysely', new RegExp(`\\b(?:insertInto|updateTable|deleteFrom|mergeInto)\\(\\s*['"\`](?:${names})['"\`]`)],
];

/** Each write to an order table in `source`: the form and the line. */
export function orderWrites(source: string): { form: string; line: number; text: string }[] {
  const found: { form: string; line: number; text: string }[] = [];
  source.split('\n').forEach((text, i) => {
    for (const [form, re] of WRITES) if (re.test(text)) found.push({ form, line: i + 1, text: text.trim() });
  });
  return found;
}


describe('one owner per aggregate', () => {
  it('recognises a write in each form the code uses (so the scan below can fail)', () => {
    expect(orderWrites('  await tx.execute`UPDATE "Order" SET status = ${s}`;').map((w) => w.form)).toEqual(['SQL']);
    expect(orderWrites('INSERT INTO "StockHold" (id) VALUES (1)').map((w) => w.form)).toEqual(['SQL']);
    expect(orderWrites('await prisma.paymentAttempt.updateMany({ where })').map((w) => w.form)).toEqual(['Prisma']);
    expect(orderWrites("await db.insertInto('LedgerEntry').values(rows).execute()").map((w) => w.form)).toEqual(['Kysely']);
    // Reads and other tables are not writes of the aggregate.
    expect(orderWrites('SELECT id FROM "Order" WHERE id = $1 FOR UPDATE')).toEqual([]);
    expect(orderWrites('await prisma.order.findUnique({ where })')).toEqual([]);
    expect(orderWrites('UPDATE "Product" SET stock = stock - 1')).toEqual([]);
    expect(orderWrites('await prisma.email.updateMany({ where })')).toEqual([]);
  });

  it('nothing outside lib/orders writes an order table', () => {
    const files = SCANNED.flatMap((d) => sourceFiles(d, SKIPPED));
    expect(files.length).toBeGreaterThan(50);
    const outside = files
      .filter((f) => !f.startsWith(OWNER))
      .flatMap((f) => orderWrites(readFileSync(join(ROOT, f), 'utf8')).map((w) => `${relative(ROOT, join(ROOT, f))}:${w.line} (${w.form}) ${w.text}`));
    expect(outside).toEqual([]);
    // And the owner does write them (the scan sees its statements).
    const inside = files.filter((f) => f.startsWith(OWNER)).flatMap((f) => orderWrites(readFileSync(join(ROOT, f), 'utf8')));
    expect(inside.length).toBeGreaterThan(10);
  });
});

describe('one seam for Stripe’s shapes', () => {
  // Stripe's objects are translated into ours in lib/stripe (payment.ts); nothing else names them.
  const STRIPE_TYPES = /\bStripe\.[A-Z]\w*|from 'stripe'/;
  it('recognises a Stripe type or import (so the scan below can fail)', () => {
    expect(STRIPE_TYPES.test('let pi: Stripe.PaymentIntent;')).toBe(true);
    expect(STRIPE_TYPES.test("import type Stripe from 'stripe';")).toBe(true);
    expect(STRIPE_TYPES.test('// loads Stripe.js with a nonce')).toBe(false);
  });

  it('no module outside lib/stripe names a Stripe type', () => {
    const files = ['lib', 'app', 'pages'].flatMap((d) => sourceFiles(d, SKIPPED)).filter((f) => !f.startsWith('lib/stripe/'));
    const named = files.flatMap((f) =>
      readFileSync(join(ROOT, f), 'utf8')
        .split('\n')
        .flatMap((text, i) => (STRIPE_TYPES.test(text) ? [`${f}:${i + 1} ${text.trim()}`] : [])),
    );
    expect(named).toEqual([]);
  });
});
