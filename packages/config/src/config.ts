import { isIP } from 'node:net';
import { z } from 'zod';
import { isLeverEvent, type LeverEvent } from './lever-events.js';
import {
  LEVER_ENVIRONMENTS,
  LEVER_HOSTS,
  SIMULATOR_API_PATHS,
  SIMULATOR_DEV_CLIENT,
  type LeverEnvironment,
} from './lever-hosts.js';

/** What subscribing to Lever's webhooks through its API needs (a write scope includes the matching read). */
export const WEBHOOK_SCOPES = ['webhooks:write:admin'] as const;

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

const envSchema = z.object({
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

export interface LeverEnvironmentConfig {
  environment: LeverEnvironment;
  clientId: string;
  clientSecret: string;
  /** Origin of the authorization server, e.g. https://auth.lever.co */
  authUrl: string;
  authorizePath: string;
  tokenPath: string;
  apiBaseUrl: string;
  audience: string;
  /** Always includes offline_access. */
  scopes: string[];
}

export interface Config {
  nodeEnv: 'development' | 'test' | 'production';
  isProduction: boolean;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  logFormat: 'json' | 'pretty';
  port: number;
  host: string;
  publicBaseUrl: string;
  /**
   * Which proxies in front of the api may say who the client is (X-Forwarded-For): Fastify's `trustProxy`.
   * false (the default): the socket's address is the client's. Per-address limits need it right.
   */
  trustProxy: boolean | number | string[];
  /** The worker's /metrics bearer token (METRICS_TOKEN); undefined: loopback clients only. */
  metricsToken: string | undefined;
  databaseUrl: string;
  databasePoolSize: number;
  redisUrl: string;
  redisPrefix: string;
  /** acceptLegacy: v1 ciphertexts (bound to the row only) still decrypt; off once `pnpm cli keys status` shows none. */
  tokenEncryption: { currentKey: Buffer; previousKeys: Buffer[]; acceptLegacy: boolean };
  lever: {
    mode: 'simulator' | 'live';
    httpTimeoutMs: number;
    environments: Record<LeverEnvironment, LeverEnvironmentConfig>;
  };
  connect: { allowedOrigins: string[]; sessionTtlSeconds: number; resultTtlSeconds: number; callbackUrl: string };
  /** The operator console's sign-in sessions. */
  console: { idleTimeoutSeconds: number; maxAgeSeconds: number };
  refresh: {
    enabled: boolean;
    leadSeconds: number;
    jitterSeconds: number;
    tokenMinTtlSeconds: number;
    failingAfterSeconds: number;
    expiringNoticeDays: number;
    concurrency: number;
    rateLimitPerSecond: number;
    reconcileIntervalSeconds: number;
    /** Redlock TTL; extended while the holder works. Default: the Lever timeout + 20 s. */
    lockTtlMs: number;
    /** How long (ms) an api process may serve a token read from memory; invalidated on every change. */
    tokenCacheTtlMs: number;
  };
  deploymentId: string;
  proxy: ProxyConfig;
  /** Fair share between tenants and keys (0 turns a quota off). */
  quotas: {
    forcedRefreshPerTenant: { perSecond: number; burst: number };
    proxyPerTenant: { perSecond: number; burst: number };
    proxyPerKey: { perSecond: number; burst: number };
    /** Requests per minute per client address to the public connect routes. */
    connectPerMinute: number;
  };
  /** Lever's own webhooks: the events every connection subscribes to (a connect session may choose others). Empty: off. */
  leverWebhooks: { events: LeverEvent[] };
  /** DEMO_ENABLED in simulator mode: the unauthenticated demo pages are registered. */
  demoEnabled: boolean;
  /** Cookies carry Secure (and the `__Host-` prefix): off only with ALLOW_INSECURE_DEV, for http://localhost. */
  secureCookies: boolean;
  webhooks: {
    /**
     * The SSRF guard: https only, and no private or reserved address unless allow-listed. Off only with
     * ALLOW_INSECURE_DEV (local receivers over http).
     */
    ssrfGuard: boolean;
    /** Wait before each retry, seconds: a delivery gets `retryDelaysSeconds.length + 1` attempts, then fails. */
    retryDelaysSeconds: number[];
    /** An endpoint whose deliveries keep failing this long (seconds) is disabled. */
    disableAfterSeconds: number;
    /** Hostnames or CIDRs exempt from the private-address (SSRF) refusal, for on-prem receivers. */
    allowedHosts: string[];
    /** Webhook deliveries in flight at once per worker process. */
    concurrency: number;
  };
}

/** `METHOD /path` with `*` standing for one path segment (LEVER_APPLICATION_ROUTES). */
export interface RoutePattern {
  method: string;
  /** The path's segments; `*` matches any one segment. */
  segments: string[];
}

export interface ProxyConfig {
  /** Lever's per-account budget: steady requests per second and the bucket's size (LEVER.md: 10/s, 20). */
  ratePerSecond: number;
  burst: number;
  /** The stricter class for application POSTs (LEVER.md: 2/s), and the routes it covers. */
  applicationRatePerSecond: number;
  applicationRoutes: RoutePattern[];
  /** How long a call may wait for its turn in the account's budget before our 429 `rate_limited`. */
  maxWaitMs: number;
  /** Attempts of an idempotent call that Lever answers 5xx or not at all. */
  maxAttempts: number;
  /** Largest request body forwarded (413 above). */
  maxBodyBytes: number;
  /** Per attempt: until Lever's response headers, and between body chunks. */
  timeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function parseKey(name: string, value: string, problems: string[]): Buffer | undefined {
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== value.replace(/=+$/, '')) {
    problems.push(`${name}: must be 32 random bytes in base64 (e.g. \`openssl rand -base64 32\`)`);
    return undefined;
  }
  return key;
}

function splitList(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function isHostOrCidr(entry: string): boolean {
  const [address, bits, ...rest] = entry.split('/');
  if (rest.length > 0 || !address) return false;
  const family = isIP(address);
  if (bits !== undefined) {
    const max = family === 4 ? 32 : family === 6 ? 128 : -1;
    return /^[0-9]{1,3}$/.test(bits) && Number(bits) <= max;
  }
  return family !== 0 || /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(address);
}

/**
 * Parses and validates the environment once, at start-up. Every problem is reported at once, each naming
 * its variable, so an operator fixes them in one go.
 */
export function loadConfig(env: RawEnv = process.env, defaults: { port?: number } = {}): Readonly<Config> {
  // `VAR=` (as in a copied .env.example) means "not set": every default applies, nothing parses ''.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  const isProduction = e.NODE_ENV === 'production';
  const mode = e.LEVER_ENV;
  if (mode === 'simulator' && isProduction) {
    problems.push('LEVER_ENV: the simulator mode refuses to run with NODE_ENV=production; set LEVER_ENV=live');
  }
  if (mode === 'simulator') {
    // Real credentials next to the simulator mean someone meant Lever: the simulator (and the demo) must not
    // stand in for it silently. The simulator's own development client is not a real credential.
    for (const upper of ['PRODUCTION', 'SANDBOX'] as const) {
      const id = e[`LEVER_${upper}_CLIENT_ID`];
      if (id !== undefined && id !== SIMULATOR_DEV_CLIENT.clientId) {
        problems.push(`LEVER_${upper}_CLIENT_ID: real Lever credentials are set while LEVER_ENV=simulator; set LEVER_ENV=live to use Lever, or remove them`);
      }
    }
  }
  if (e.DEMO_ENABLED && mode !== 'simulator') {
    problems.push('DEMO_ENABLED: the demo runs only in simulator mode (LEVER_ENV=simulator): its pages are unauthenticated');
  }
  if (e.ALLOW_INSECURE_DEV && isProduction) {
    problems.push('ALLOW_INSECURE_DEV: refused with NODE_ENV=production (it turns off Secure cookies and the webhook SSRF guard)');
  }

  let currentKey: Buffer | undefined;
  if (!e.TOKEN_ENCRYPTION_KEY) {
    problems.push(
      'TOKEN_ENCRYPTION_KEY: required (32 random bytes, base64). `pnpm dev` writes one into .env for development',
    );
  } else {
    currentKey = parseKey('TOKEN_ENCRYPTION_KEY', e.TOKEN_ENCRYPTION_KEY, problems);
  }
  const previousKeys = splitList(e.TOKEN_ENCRYPTION_PREVIOUS_KEYS ?? '')
    .map((k) => parseKey('TOKEN_ENCRYPTION_PREVIOUS_KEYS', k, problems))
    .filter((k): k is Buffer => k !== undefined);

  const environments = {} as Record<LeverEnvironment, LeverEnvironmentConfig>;
  for (const environment of LEVER_ENVIRONMENTS) {
    const upper = environment.toUpperCase() as 'SANDBOX' | 'PRODUCTION';
    const simulated = mode === 'simulator';
    const simulatorUrl = e.LEVER_SIMULATOR_URL.replace(/\/$/, '');
    const hosts = LEVER_HOSTS[environment];
    const authUrl =
      e[`LEVER_${upper}_AUTH_URL`] ?? e.LEVER_AUTH_URL ?? (simulated ? simulatorUrl : hosts.authUrl);
    const apiBaseUrl =
      e[`LEVER_${upper}_API_URL`] ??
      e.LEVER_API_URL ??
      (simulated ? simulatorUrl + SIMULATOR_API_PATHS[environment] : hosts.apiBaseUrl);
    const clientId = e[`LEVER_${upper}_CLIENT_ID`] ?? (simulated ? SIMULATOR_DEV_CLIENT.clientId : undefined);
    const clientSecret =
      e[`LEVER_${upper}_CLIENT_SECRET`] ?? (simulated ? SIMULATOR_DEV_CLIENT.clientSecret : undefined);
    const scopes = splitList(e[`LEVER_${upper}_SCOPES`] ?? e.LEVER_SCOPES);
    if (!scopes.includes('offline_access')) scopes.push('offline_access');
    // Subscribing to Lever's webhooks through its API needs the webhooks scope (LEVER.md).
    if (splitList(e.LEVER_WEBHOOK_EVENTS).length > 0) for (const s of WEBHOOK_SCOPES) if (!scopes.includes(s)) scopes.push(s);
    environments[environment] = {
      environment,
      // An environment without credentials stays configured but unusable: connect sessions for it are refused.
      clientId: clientId ?? '',
      clientSecret: clientSecret ?? '',
      authUrl: authUrl.replace(/\/$/, ''),
      authorizePath: '/authorize',
      tokenPath: '/oauth/token',
      apiBaseUrl: apiBaseUrl.replace(/\/$/, ''),
      audience: hosts.audience,
      scopes,
    };
  }
  if (mode === 'live' && !environments.production.clientId && !environments.sandbox.clientId) {
    problems.push(
      'LEVER_PRODUCTION_CLIENT_ID / LEVER_SANDBOX_CLIENT_ID: live mode (LEVER_ENV=live, the default) needs the credentials of at least one Lever OAuth app; to run against the bundled simulator instead, set LEVER_ENV=simulator (pnpm dev does)',
    );
  }
  for (const environment of LEVER_ENVIRONMENTS) {
    const c = environments[environment];
    if (c.clientId && !c.clientSecret) {
      problems.push(`LEVER_${environment.toUpperCase()}_CLIENT_SECRET: required when the client id is set`);
    }
  }

  const port = e.PORT ?? defaults.port ?? 3000;
  const publicBaseUrl = (e.PUBLIC_BASE_URL ?? `http://localhost:${port}`).replace(/\/$/, '');
  if (isProduction && !publicBaseUrl.startsWith('https://')) {
    problems.push('PUBLIC_BASE_URL: must be https:// in production (it is the OAuth redirect URI)');
  }
  const trustProxy = parseTrustProxy(e.TRUST_PROXY, problems);
  const allowedOrigins = splitList(e.CONNECT_ALLOWED_ORIGINS);
  for (const origin of allowedOrigins) {
    try {
      if (new URL(origin).origin !== origin) throw new Error();
    } catch {
      problems.push(`CONNECT_ALLOWED_ORIGINS: "${origin}" is not an origin (scheme://host[:port], no path)`);
    }
  }
  const retryDelaysSeconds = splitList(e.WEBHOOK_RETRY_DELAYS_SECONDS).map(Number);
  if (retryDelaysSeconds.some((d) => !Number.isInteger(d) || d < 0 || d > 7 * 86_400)) {
    problems.push('WEBHOOK_RETRY_DELAYS_SECONDS: comma-separated whole seconds between 0 and 604800 (e.g. 5,30,120)');
  }
  const allowedHosts = splitList(e.WEBHOOK_ALLOWED_HOSTS).map((h) => h.toLowerCase());
  for (const entry of allowedHosts) {
    if (!isHostOrCidr(entry)) problems.push(`WEBHOOK_ALLOWED_HOSTS: "${entry}" is neither a hostname nor an IP/CIDR`);
  }
  // Longer than one Lever request by default, so the lock holds even if an extension is missed; a shorter
  // TTL is allowed (tests use one to prove extension works) because the Postgres lease covers the request.
  const lockTtlMs = e.REFRESH_LOCK_TTL_MS ?? e.LEVER_HTTP_TIMEOUT_MS + 20_000;
  const applicationRoutes = e.LEVER_APPLICATION_ROUTES.split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .flatMap((entry): RoutePattern[] => {
      const match = /^(GET|POST|PUT|PATCH|DELETE) (\/[A-Za-z0-9_*\/-]+)$/.exec(entry);
      if (!match) {
        problems.push(`LEVER_APPLICATION_ROUTES: "${entry}" is not "METHOD /path" (* for one path segment)`);
        return [];
      }
      return [{ method: match[1]!, segments: match[2]!.split('/').filter(Boolean) }];
    });
  const webhookEvents = splitList(e.LEVER_WEBHOOK_EVENTS);
  for (const event of webhookEvents) {
    if (!isLeverEvent(event)) problems.push(`LEVER_WEBHOOK_EVENTS: "${event}" is not a Lever webhook event (the ten are listed in .env.example)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    nodeEnv: e.NODE_ENV,
    isProduction,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    port,
    host: e.HOST,
    publicBaseUrl,
    trustProxy,
    metricsToken: e.METRICS_TOKEN,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    tokenEncryption: { currentKey: currentKey!, previousKeys, acceptLegacy: e.TOKEN_ENCRYPTION_ACCEPT_LEGACY },
    lever: { mode, httpTimeoutMs: e.LEVER_HTTP_TIMEOUT_MS, environments },
    connect: {
      // The service's own origin may always receive results (the demo page lives there).
      allowedOrigins: [...new Set([new URL(publicBaseUrl).origin, ...allowedOrigins])],
      sessionTtlSeconds: e.CONNECT_SESSION_TTL_SECONDS,
      resultTtlSeconds: e.CONNECT_RESULT_TTL_SECONDS,
      callbackUrl: `${publicBaseUrl}/oauth/callback`,
    },
    console: { idleTimeoutSeconds: e.CONSOLE_SESSION_IDLE_SECONDS, maxAgeSeconds: e.CONSOLE_SESSION_MAX_AGE_SECONDS },
    refresh: {
      enabled: e.REFRESH_ENABLED,
      leadSeconds: e.REFRESH_LEAD_SECONDS,
      jitterSeconds: e.REFRESH_JITTER_SECONDS,
      tokenMinTtlSeconds: e.TOKEN_MIN_TTL_SECONDS,
      failingAfterSeconds: e.REFRESH_FAILING_AFTER_SECONDS,
      expiringNoticeDays: e.EXPIRING_NOTICE_DAYS,
      concurrency: e.REFRESH_CONCURRENCY,
      rateLimitPerSecond: e.REFRESH_RATE_LIMIT_PER_SECOND,
      reconcileIntervalSeconds: e.RECONCILE_INTERVAL_SECONDS,
      lockTtlMs,
      tokenCacheTtlMs: e.TOKEN_CACHE_TTL_MS,
    },
    deploymentId: e.DEPLOYMENT_ID,
    proxy: {
      ratePerSecond: e.LEVER_API_RATE_PER_SECOND,
      burst: e.LEVER_API_BURST,
      applicationRatePerSecond: e.LEVER_APPLICATION_RATE_PER_SECOND,
      applicationRoutes,
      maxWaitMs: e.LEVER_PROXY_MAX_WAIT_MS,
      maxAttempts: e.LEVER_PROXY_MAX_ATTEMPTS,
      maxBodyBytes: e.LEVER_PROXY_MAX_BODY_BYTES,
      timeoutMs: e.LEVER_PROXY_TIMEOUT_MS,
    },
    leverWebhooks: { events: [...new Set(webhookEvents.filter(isLeverEvent))] },
    quotas: {
      forcedRefreshPerTenant: { perSecond: e.QUOTA_FORCED_REFRESH_PER_TENANT_PER_MINUTE / 60, burst: Math.max(1, Math.ceil(e.QUOTA_FORCED_REFRESH_PER_TENANT_PER_MINUTE / 6)) },
      proxyPerTenant: { perSecond: e.QUOTA_PROXY_PER_TENANT_PER_SECOND, burst: e.QUOTA_PROXY_PER_TENANT_PER_SECOND * 2 },
      proxyPerKey: { perSecond: e.QUOTA_PROXY_PER_KEY_PER_SECOND, burst: e.QUOTA_PROXY_PER_KEY_PER_SECOND * 2 },
      connectPerMinute: e.CONNECT_RATE_LIMIT_PER_MINUTE,
    },
    demoEnabled: e.DEMO_ENABLED && mode === 'simulator',
    secureCookies: !e.ALLOW_INSECURE_DEV,
    webhooks: {
      ssrfGuard: !e.ALLOW_INSECURE_DEV,
      retryDelaysSeconds,
      disableAfterSeconds: e.WEBHOOK_DISABLE_AFTER_SECONDS,
      allowedHosts,
      concurrency: e.WEBHOOK_CONCURRENCY,
    },
  });
}

/** TRUST_PROXY: `true` (every hop), a number of hops, or a comma-separated list of addresses and CIDR ranges. */
function parseTrustProxy(raw: string, problems: string[]): boolean | number | string[] {
  const value = raw.trim().toLowerCase();
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d{1,2}$/.test(value)) return Number(value);
  const entries = splitList(raw);
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const maxBits = family === 6 ? 128 : 32;
    if (family === 0 || extra !== undefined || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits))) {
      problems.push(`TRUST_PROXY: "${entry}" is not an address or CIDR range (or use true, or a number of hops)`);
    }
  }
  return entries;
}
