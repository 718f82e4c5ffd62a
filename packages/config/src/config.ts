import { isLeverEvent } from './lever-events.js';
import {
  LEVER_ENVIRONMENTS,
  LEVER_HOSTS,
  SIMULATOR_API_PATHS,
  SIMULATOR_DEV_CLIENT,
  type LeverEnvironment,
} from './lever-hosts.js';

import { envSchema, type RawEnv } from './env-schema.js';
import { isHostOrCidr, parseKey, parseTrustProxy, splitList } from './parsers.js';
import type { Config, LeverEnvironmentConfig, RoutePattern } from './types.js';

export type { Config, LeverEnvironmentConfig, ProxyConfig, RoutePattern } from './types.js';
export type { RawEnv } from './env-schema.js';

/** What subscribing to Lever's webhooks through its API needs (a write scope includes the matching read). */
export const WEBHOOK_SCOPES = ['webhooks:write:admin'] as const;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
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
