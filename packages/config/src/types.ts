import type { z } from 'zod';
import type { envSchema } from './env-schema.js';
import type { LeverEvent } from './lever-events.js';
import type { LeverEnvironment } from './lever-hosts.js';

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
