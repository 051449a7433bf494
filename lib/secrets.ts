// The app's signing secret: APP_SECRET, or (embedded mode) one generated once and kept under DATA_DIR.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { config } from './config';

let cached: string | undefined;

export function appSecret(): string {
  if (cached) return cached;
  const cfg = config();
  if (cfg.APP_SECRET) return (cached = cfg.APP_SECRET);
  const dir = resolve(/*turbopackIgnore: true*/ cfg.DATA_DIR);
  const file = join(dir, 'app-secret');
  if (existsSync(file)) return (cached = readFileSync(file, 'utf8').trim());
  mkdirSync(dir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret, { mode: 0o600 });
  return (cached = secret);
}
