// The background jobs' logger (JSON lines; LOG_LEVEL as everywhere else).
import pino from 'pino';

export const jobsLog = pino({ name: 'brisk-jobs', level: process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info') });
