import { z } from 'zod';

/**
 * The environment variables, as zod parses them: types, ranges and defaults. What one variable cannot say
 * alone (combinations, lists, keys) is checked in loadConfig (config.ts).
 */

const DEFAULT_SCOPES = 'opportunities:read:admin users:read:admin postings:read:admin stages:read:admin';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const url = z.string().url();
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** json (default) or pretty (human-readable, for a terminal). */
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  PORT: int(0, 65535).optional(),
  HOST: z.string().default('127.0.0.1'),
  PUBLIC_BASE_URL: url.optional(),
  DATABASE_URL: url.default('postgresql://postgres@127.0.0.1:5432/lever_connect'),
  DATABASE_POOL_SIZE: int(1, 200).default(10),
  REDIS_URL: url.default('redis://127.0.0.1:6379'),
  /** Prefix of every Redis key we own (BullMQ queues, locks, state); lets deployments share one Redis. */
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only (BullMQ forbids ":")')
    .default('lc'),
  TOKEN_ENCRYPTION_KEY: optionalString,
  TOKEN_ENCRYPTION_PREVIOUS_KEYS: optionalString,
  /** Whether v1 ciphertexts (bound to the row only, written before column binding) still decrypt. */
  TOKEN_ENCRYPTION_ACCEPT_LEGACY: bool.default(true),
  /** live (the default): Lever itself. simulator: apps/lever-sim, only when set by name (pnpm dev, the tests). */
  LEVER_ENV: z.enum(['simulator', 'live']).default('live'),
  /** The unauthenticated demo pages: simulator mode only, and only when asked for (pnpm dev does). */
  DEMO_ENABLED: bool.default(false),
  /** Local development over http: cookies without Secure, webhooks to localhost and private addresses. Never in production. */
  ALLOW_INSECURE_DEV: bool.default(false),
  LEVER_SIMULATOR_URL: url.default('http://127.0.0.1:4010'),
  LEVER_AUTH_URL: url.optional(),
  LEVER_API_URL: url.optional(),
  LEVER_SANDBOX_AUTH_URL: url.optional(),
  LEVER_SANDBOX_API_URL: url.optional(),
  LEVER_PRODUCTION_AUTH_URL: url.optional(),
  LEVER_PRODUCTION_API_URL: url.optional(),
  LEVER_SANDBOX_CLIENT_ID: optionalString,
  LEVER_SANDBOX_CLIENT_SECRET: optionalString,
  LEVER_PRODUCTION_CLIENT_ID: optionalString,
  LEVER_PRODUCTION_CLIENT_SECRET: optionalString,
  LEVER_SCOPES: z.string().default(DEFAULT_SCOPES),
  LEVER_SANDBOX_SCOPES: optionalString,
  LEVER_PRODUCTION_SCOPES: optionalString,
  LEVER_HTTP_TIMEOUT_MS: int(100, 120_000).default(10_000),
  CONNECT_ALLOWED_ORIGINS: z.string().default(''),
  CONNECT_SESSION_TTL_SECONDS: int(60, 86_400).default(1800),
  /** The operator console: a sign-in unused this long ends (seconds), and any sign-in ends this old. */
  CONSOLE_SESSION_IDLE_SECONDS: int(1, 86_400).default(1800),
  CONSOLE_SESSION_MAX_AGE_SECONDS: int(60, 7 * 86_400).default(43_200),
  /** How long a finished (used or expired) connect session's result stays readable, seconds. */
  CONNECT_RESULT_TTL_SECONDS: int(60, 86_400).default(600),
  REFRESH_ENABLED: bool.default(true),
  REFRESH_LEAD_SECONDS: int(1).default(600),
  REFRESH_JITTER_SECONDS: int(0).default(60),
  TOKEN_MIN_TTL_SECONDS: int(1).default(300),
  REFRESH_FAILING_AFTER_SECONDS: int(1).default(900),
  EXPIRING_NOTICE_DAYS: int(1, 364).default(14),
  REFRESH_CONCURRENCY: int(1, 1000).default(20),
  REFRESH_RATE_LIMIT_PER_SECOND: int(1, 100_000).default(50),
  RECONCILE_INTERVAL_SECONDS: int(1, 3600).default(60),
  REFRESH_LOCK_TTL_MS: int(500, 600_000).optional(),
  /** How long the api may answer a token read from memory (0 turns the cache off). */
  TOKEN_CACHE_TTL_MS: int(0, 300_000).default(15_000),
  DEPLOYMENT_ID: z.string().min(1).default('default'),
  WEBHOOK_RETRY_DELAYS_SECONDS: z.string().default('5,30,120,600,3600,10800,21600,43200'),
  WEBHOOK_DISABLE_AFTER_SECONDS: int(1).default(259_200),
  WEBHOOK_ALLOWED_HOSTS: z.string().default(''),
  WEBHOOK_CONCURRENCY: int(1, 1000).default(10),
  LEVER_API_RATE_PER_SECOND: int(1, 1_000_000).default(10),
  LEVER_API_BURST: int(1, 1_000_000).default(20),
  LEVER_APPLICATION_RATE_PER_SECOND: int(1, 10_000).default(2),
  LEVER_APPLICATION_ROUTES: z.string().default('POST /postings/*/apply, POST /opportunities/*/applications'),
  LEVER_PROXY_MAX_WAIT_MS: int(0, 600_000).default(30_000),
  LEVER_PROXY_MAX_ATTEMPTS: int(1, 10).default(4),
  LEVER_PROXY_MAX_BODY_BYTES: int(0, 1024 * 1024 * 1024).default(25 * 1024 * 1024),
  LEVER_PROXY_TIMEOUT_MS: int(100, 600_000).default(30_000),
  LEVER_WEBHOOK_EVENTS: z.string().default(''),
  QUOTA_FORCED_REFRESH_PER_TENANT_PER_MINUTE: int(0, 1_000_000).default(30),
  QUOTA_PROXY_PER_TENANT_PER_SECOND: int(0, 1_000_000).default(100),
  QUOTA_PROXY_PER_KEY_PER_SECOND: int(0, 1_000_000).default(100),
  CONNECT_RATE_LIMIT_PER_MINUTE: int(0, 1_000_000).default(120),
  TRUST_PROXY: z.string().default(''),
  /** The worker's /metrics: a bearer token Prometheus sends; unset, only loopback clients are answered. */
  METRICS_TOKEN: z.string().min(16, 'at least 16 characters (e.g. openssl rand -hex 24)').optional(),
});

export type RawEnv = Record<string, string | undefined>;
