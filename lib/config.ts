// Configuration is parsed once, at start-up, into a typed object. A missing or malformed
// setting stops start-up with a message that names it.
import { z } from 'zod';
import { AdmissionEnvSchema } from './http/admission';
import { parseTrustedProxies } from './security/client-address';

const optionalUrl = z.string().trim().url().optional().or(z.literal('').transform(() => undefined));

const EnvSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: z.coerce.number().int().min(1).max(65535).default(3000),
    DATABASE_URL: z
      .string()
      .trim()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// URL (unset it to use the embedded PGlite database)')
      .optional()
      .or(z.literal('').transform(() => undefined)),
    DATA_DIR: z.string().default('.data'),
    APP_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    APP_URL: optionalUrl,
    STRIPE_SECRET_KEY: z
      .string()
      .regex(/^(sk|rk)_(test|live)_[A-Za-z0-9_]+$/, 'must look like sk_test_… or sk_live_…')
      .optional()
      .or(z.literal('').transform(() => undefined)),
    NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY: z
      .string()
      .regex(/^pk_(test|live)_[A-Za-z0-9_]+$/, 'must look like pk_test_… or pk_live_…')
      .optional()
      .or(z.literal('').transform(() => undefined)),
    STRIPE_WEBHOOK_SECRET: z
      .string()
      .regex(/^whsec_[A-Za-z0-9_]+$/, 'must look like whsec_…')
      .optional()
      .or(z.literal('').transform(() => undefined)),
    // A second webhook secret accepted during a rotation overlap.
    STRIPE_WEBHOOK_SECRET_PREVIOUS: z
      .string()
      .regex(/^whsec_[A-Za-z0-9_]+$/, 'must look like whsec_…')
      .optional()
      .or(z.literal('').transform(() => undefined)),
    STRIPE_API_BASE: optionalUrl,
    STRIPE_JS_URL: optionalUrl,
    ADMIN_EMAIL: z.string().trim().email().default('admin@brisk.local'),
    ADMIN_PASSWORD: z.string().min(8, 'must be at least 8 characters').optional(),
    SMTP_URL: optionalUrl,
    // Share of Stripe's rate limit (25/s test, 100/s live) the gateway may use, across all instances.
    STRIPE_RATE_SHARE: z.coerce.number().gt(0).max(1).default(0.8),
    // Cron (UTC) for the scheduled reconciliation; 'off' disables it (the admin's button stays).
    RECONCILE_CRON: z.string().trim().regex(/^(off|[0-9*/,\- ]+)$/, "must be a cron expression or 'off'").optional(),
    WORKER_MODE: z.enum(['inline', 'off']).default('inline'),
    // Cron (UTC) of the pruning of old rows (lib/jobs/prune.ts); 'off' disables it.
    PRUNE_CRON: z.string().trim().regex(/^(off|[0-9*/,\- ]+)$/, "must be a cron expression or 'off'").optional(),
    // Cron (UTC) of the embedded PGlite database's VACUUM (ANALYZE) (lib/jobs/vacuum.ts: PGlite has
    // no autovacuum); 'off' disables it. Unused on PostgreSQL.
    PGLITE_VACUUM_CRON: z.string().trim().regex(/^(off|[0-9*/,\- ]+)$/, "must be a cron expression or 'off'").optional(),
    // Days a processed Stripe event is kept: while kept, a redelivery of it is recognised as a
    // duplicate. Stripe redelivers for up to 3 days, so fewer than 4 is refused.
    STRIPE_EVENT_RETENTION_DAYS: z.coerce.number().int().min(4, 'must be at least 4: Stripe redelivers an event for up to 3 days').max(3650).default(30),
    // Days a finished job (completed, failed, cancelled) stays in pg-boss's table (its deleteAfterSeconds).
    JOB_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(7),
    // How long a payment attempt holds its items' stock (minutes); a success after it lapsed
    // with the stock gone is refunded.
    STOCK_HOLD_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(15),
    // Run on the bundled Stripe emulator even where the start looks like production (APP_URL on
    // https, or NODE_ENV=production on a public host): a demo shop, on purpose. Without it such a
    // start refuses when no Stripe keys are set (lib/stripe/test-mode.ts).
    BRISK_DEMO_MODE: z
      .enum(['', '0', '1', 'false', 'true'], { message: "must be 1 (or true) to run a demo on the Stripe emulator, 0 (or false, or unset) otherwise" })
      .optional()
      .transform((v) => v === '1' || v === 'true'),
    // Unset: info, or silent under tests (logLevel below).
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
    // Set by vitest in its workers: logs are silent unless LOG_LEVEL says otherwise.
    VITEST: z.string().optional(),
    // The From of the emails sent over SMTP (lib/jobs/email.ts); unset: Brisk <orders@brisk.local>.
    MAIL_FROM: z.string().optional(),
    // OpenTelemetry: spans are exported over OTLP/HTTP only when one of these is set
    // (lib/observability/tracing.ts); the exporter reads the other OTEL_* variables itself.
    OTEL_EXPORTER_OTLP_ENDPOINT: z.string().optional(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().optional(),
    // Next.js's own flag (scripts/serve.ts and npm start set it): the app, not Next, exits on
    // SIGTERM/SIGINT, after the jobs stopped (lib/jobs/runtime.ts).
    NEXT_MANUAL_SIG_HANDLE: z.string().optional().transform((v) => Boolean(v)),
    // Debugging migrations: the schema engine's log lines on stderr (lib/db/schema-engine.ts).
    PRISMA_ENGINE_LOG: z.string().optional().transform((v) => Boolean(v)),
    // Benchmarks only: 1 serves /api/bench/* (bench/webhook.bench.ts) and lets
    // BRISK_BENCH_STRIPE_RATE lift the gateway's rate budget (bench/events.bench.ts).
    BRISK_BENCH_ROUTES: z.string().optional().transform((v) => v === '1'),
    BRISK_BENCH_STRIPE_RATE: z.string().optional(),
    // Proxies whose X-Forwarded-For is believed: unset/0 none (the TCP peer is the client), a hop
    // count, or addresses/CIDRs/'loopback'/'private' (lib/security/client-address.ts).
    TRUSTED_PROXIES: z
      .string()
      .trim()
      .optional()
      .superRefine((v, ctx) => {
        try {
          parseTrustedProxies(v);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        }
      }),
    // Bearer token for /api/metrics and /api/health's details; unset: only this machine may read them.
    METRICS_TOKEN: z
      .string()
      .min(16, 'must be at least 16 characters')
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
      .optional()
      .or(z.literal('').transform(() => undefined)),
    // New payment attempts per client address per 15 minutes (a quarter of it are free declines).
    // Raise it for a shop whose shoppers share few addresses, or for load tests from one machine.
    CHECKOUT_ADDRESS_ATTEMPTS: z.coerce.number().int().min(1).max(10_000_000).default(40),
    // Admission control in scripts/serve.ts (lib/http/admission.ts): requests worked on at once
    // (0: off), how many may wait, and how long one waits before it is answered 503 busy.
    HTTP_MAX_IN_FLIGHT: z.preprocess((v) => (v === '' ? undefined : v), AdmissionEnvSchema.shape.HTTP_MAX_IN_FLIGHT),
    HTTP_MAX_QUEUE: z.preprocess((v) => (v === '' ? undefined : v), AdmissionEnvSchema.shape.HTTP_MAX_QUEUE),
    HTTP_QUEUE_TIMEOUT_MS: z.preprocess((v) => (v === '' ? undefined : v), AdmissionEnvSchema.shape.HTTP_QUEUE_TIMEOUT_MS),
  })
  .superRefine((env, ctx) => {
    if (env.STRIPE_SECRET_KEY) {
      for (const name of ['NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY', 'STRIPE_WEBHOOK_SECRET'] as const) {
        if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'is required when STRIPE_SECRET_KEY is set' });
      }
      const skMode = env.STRIPE_SECRET_KEY.includes('_live_') ? 'live' : 'test';
      const pk = env.NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY;
      if (pk && !pk.startsWith(`pk_${skMode}_`)) {
        ctx.addIssue({ code: 'custom', path: ['NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY'], message: `must be a ${skMode} key like STRIPE_SECRET_KEY` });
      }
    }
    if (env.BRISK_DEMO_MODE && env.STRIPE_SECRET_KEY?.includes('_live_')) {
      ctx.addIssue({ code: 'custom', path: ['BRISK_DEMO_MODE'], message: 'runs the shop on the Stripe emulator: it cannot be set with a live STRIPE_SECRET_KEY' });
    }
    if (env.NODE_ENV === 'production' && env.DATABASE_URL && !env.APP_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['APP_SECRET'], message: 'is required in production on PostgreSQL (every instance must share it)' });
    }
  });

export type AppConfig = z.infer<typeof EnvSchema>;

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Brisk cannot start, its configuration is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function parseConfig(env: Record<string, string | undefined>): AppConfig {
  const result = EnvSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(env)'} ${i.message}`));
  }
  return result.data;
}

// The one place that reads process.env (tests/architecture/config.test.ts holds it so): every
// other module receives the parsed config, or calls config().
let cached: AppConfig | undefined;
export function config(): AppConfig {
  cached ??= parseConfig(process.env);
  return cached;
}

/** Tests that change the environment: the next config() parses it again. */
export function reloadConfig(): AppConfig {
  cached = undefined;
  return config();
}

/** LOG_LEVEL, or when unset: silent under tests, info otherwise. */
export function logLevel(cfg: Pick<AppConfig, 'LOG_LEVEL' | 'NODE_ENV' | 'VITEST'> = config()): string {
  return cfg.LOG_LEVEL ?? (cfg.NODE_ENV === 'test' || cfg.VITEST ? 'silent' : 'info');
}

/**
 * What the browser needs to load Stripe, read from the server's environment when a page is
 * rendered: a build never carries keys or URLs (the env var keeps its public name, but the
 * server reads it, so Next.js never inlines it), and one build runs with any keys.
 */
export function browserStripeSettings(): { publishableKey?: string; stripeJsUrl?: string } {
  const cfg = config();
  return { publishableKey: cfg.NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY, stripeJsUrl: cfg.STRIPE_JS_URL };
}
