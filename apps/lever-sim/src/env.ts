import type { SimMode } from './audiences.js';
import type { SimOptions } from './options.js';

/** Thrown for a bad environment variable; the message names it, and server.ts exits with it. */
export class SimEnvError extends Error {
  override name = 'SimEnvError';
}

export interface SimServerConfig {
  port: number;
  host: string;
  options: SimOptions;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new SimEnvError(`${name} must be an integer >= ${min}, got "${raw}"`);
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new SimEnvError(`${name} must be 1 or 0, got "${raw}"`);
}

/** A comma-separated list of integers >= 0 (`100,200,400`). */
function integerList(env: NodeJS.ProcessEnv, name: string): number[] | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const values = raw.split(',').map((part) => Number(part.trim()));
  if (values.some((value) => !Number.isInteger(value) || value < 0)) {
    throw new SimEnvError(`${name} must be comma-separated integers >= 0, got "${raw}"`);
  }
  return values;
}

/**
 * Every variable the simulator reads, parsed once. Defaults make `node dist/server.js` useful with nothing
 * set: port 4010, production mode (Lever's production API, not NODE_ENV), control plane on. Options whose
 * variable is unset are left out, so SimOptions' own defaults apply.
 */
export function parseSimEnv(env: NodeJS.ProcessEnv): SimServerConfig {
  // A test double of Lever that hands out tokens to anyone and can revoke any grant has no place in a
  // production deployment; the production image does not even contain it (the Dockerfile's `sim` target does).
  if (env.NODE_ENV === 'production') {
    throw new SimEnvError('refused with NODE_ENV=production: the simulator is for development and tests only (use NODE_ENV=development)');
  }
  const mode = (env.SIM_MODE || 'production') as SimMode;
  if (mode !== 'production' && mode !== 'sandbox') throw new SimEnvError(`SIM_MODE must be production or sandbox, got "${mode}"`);
  const audiences = env.SIM_AUDIENCE?.split(',').map((a) => a.trim()).filter(Boolean);
  const publicUrl = env.SIM_PUBLIC_URL?.trim();
  if (publicUrl) {
    try {
      new URL(publicUrl);
    } catch {
      throw new SimEnvError(`SIM_PUBLIC_URL must be a URL, got "${publicUrl}"`);
    }
  }
  const secretsLimit = env.SIM_SECRETS_LIMIT ? integer(env, 'SIM_SECRETS_LIMIT', 0, 0) : undefined;
  // Lever accepts HTTPS webhook URLs only; plain http is for local receivers (allowed unless turned off).
  const allowHttpWebhooks = env.SIM_WEBHOOKS_ALLOW_HTTP ? flag(env, 'SIM_WEBHOOKS_ALLOW_HTTP', true) : undefined;
  const webhookRetryDelaysMs = integerList(env, 'SIM_WEBHOOK_RETRY_DELAYS_MS');
  const webhookTimeoutMs = env.SIM_WEBHOOK_TIMEOUT_MS ? integer(env, 'SIM_WEBHOOK_TIMEOUT_MS', 0, 1) : undefined;
  const webhookDisableAfter = env.SIM_WEBHOOK_DISABLE_AFTER ? integer(env, 'SIM_WEBHOOK_DISABLE_AFTER', 0, 1) : undefined;
  // Lever's per-account limits, raised only to measure a client with them out of the way (bench/proxy.ts).
  const apiRate = env.SIM_API_RATE_PER_SECOND ? integer(env, 'SIM_API_RATE_PER_SECOND', 10, 1) : undefined;
  const apiBurst = env.SIM_API_BURST ? integer(env, 'SIM_API_BURST', 20, 1) : undefined;
  return {
    port: integer(env, 'PORT', 4010, 0),
    host: env.HOST || '127.0.0.1',
    options: {
      mode,
      autoApprove: flag(env, 'SIM_AUTO_APPROVE', false),
      accessTokenTtlSeconds: integer(env, 'SIM_ACCESS_TOKEN_TTL', 3600, 1),
      reuseLeewaySeconds: integer(env, 'SIM_REUSE_LEEWAY_SECONDS', 0, 0),
      control: flag(env, 'SIM_CONTROL', true),
      logLevel: env.LOG_LEVEL || 'warn',
      ...(audiences && audiences.length > 0 ? { audiences } : {}),
      ...(publicUrl ? { publicUrl: publicUrl.replace(/\/+$/, '') } : {}),
      ...(secretsLimit !== undefined ? { secretsLimit } : {}),
      ...(allowHttpWebhooks !== undefined ? { allowHttpWebhooks } : {}),
      ...(webhookRetryDelaysMs ? { webhookRetryDelaysMs } : {}),
      ...(webhookTimeoutMs !== undefined ? { webhookTimeoutMs } : {}),
      ...(webhookDisableAfter !== undefined ? { webhookDisableAfter } : {}),
      ...(apiRate !== undefined || apiBurst !== undefined ? { rateLimits: { api: { ratePerSecond: apiRate ?? 10, burst: apiBurst ?? 20 } } } : {}),
    },
  };
}
