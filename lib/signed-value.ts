// HMAC-signed cookie values: `<value>.<signature>`. A tampered value reads as absent.
import { createHmac, timingSafeEqual } from 'node:crypto';

function sign(value: string, secret: string, purpose: string): string {
  return createHmac('sha256', secret).update(`${purpose}:${value}`).digest('base64url');
}

export function signValue(value: string, secret: string, purpose: string): string {
  return `${value}.${sign(value, secret, purpose)}`;
}

export function verifySignedValue(signed: string | undefined | null, secret: string, purpose: string): string | null {
  if (!signed || signed.length > 512) return null;
  const dot = signed.lastIndexOf('.');
  if (dot <= 0) return null;
  const value = signed.slice(0, dot);
  const given = Buffer.from(signed.slice(dot + 1));
  const expected = Buffer.from(sign(value, secret, purpose));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  return value;
}
