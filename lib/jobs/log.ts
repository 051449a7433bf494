// The background jobs' logger (JSON lines; LOG_LEVEL as everywhere else). Built on first use,
// not at import: a module that merely imports it (a route, during \`next build\`) reads no config.
import 'server-only';
import pino, { type Logger } from 'pino';
import { config, logLevel } from '@/lib/config';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
let instance: Logger | undefined;

function log(): Logger {
  instance ??= pino({ name: 'brisk-jobs', level: logLevel(config()) });
  return instance;
}

export const jobsLog = Object.fromEntries(
  LEVELS.map((level) => [level, (...args: unknown[]) => (log()[level] as (...a: unknown[]) => void)(...args)]),
) as Pick<Logger, (typeof LEVELS)[number]>;
