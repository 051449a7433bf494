// Stripe-looking random ids, drawn from a refilled pool so the hot path makes no syscall per id.
import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const pool = Buffer.alloc(8192);
let position = pool.length;

export function randomString(length: number): string {
  let out = '';
  while (out.length < length) {
    if (position >= pool.length) {
      randomFillSync(pool);
      position = 0;
    }
    const byte = pool[position++];
    // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
    if (byte < 248) out += ALPHABET[byte % 62];
  }
  return out;
}

export function newId(prefix: string, length = 24): string {
  return `${prefix}_${randomString(length)}`;
}

export function newRequestId(): string {
  return newId('req', 14);
}
