import { PRODUCTION_AUDIENCE, SANDBOX_AUDIENCE, type SimMode } from './audiences.js';
import type { SimClient } from './clients.js';
import type { BucketPolicy } from './rate-limit.js';

export interface SimOptions {
  /**
   * Public base URL without trailing slash; the JWT `iss` is this plus `/`. Default: taken from each
   * request's Host, which is right whenever clients reach the sim directly.
   */
  publicUrl?: string;
  /** `production` (default): a missing `audience` yields a token no API accepts. `sandbox`: it defaults to the sandbox audience. */
  mode?: SimMode;
  /** Access-token lifetime in seconds (default 3600, as Lever). */
  accessTokenTtlSeconds?: number;
  /** Seconds after a rotation during which the previous refresh token may be replayed once (default 0: never). */
  reuseLeewaySeconds?: number;
  /** Skip the consent page, as if the admin clicked Approve (default false). */
  autoApprove?: boolean;
  /** Extra delay in ms before the token endpoint and the API process a request (default 0). */
  latencyMs?: number;
  /** Audiences accepted at /authorize (default: Lever's production and sandbox audiences). */
  audiences?: string[];
  /** Serve the `/__sim/*` control plane (default true; `SIM_CONTROL=0` turns it off). */
  control?: boolean;
  /** OAuth clients besides the built-in dev client; their redirect URIs match exactly. */
  clients?: SimClient[];
  /** pino level; default `warn`. `silent` turns logging off. */
  logLevel?: string;
  /** HS512 key for access tokens; default random per process (nobody outside may verify them, as at Lever). */
  signingSecret?: string;
  /**
   * How many access tokens, refresh tokens and codes (each) `/__sim/secrets` keeps; the oldest are dropped
   * beyond it. Default 200 000; 0 keeps none (long benchmarks that scan nothing).
   */
  secretsLimit?: number;
  /** Per-account API limits; default Lever's 10/s burst 20, and 2/s for creating applications. */
  rateLimits?: { api?: BucketPolicy; applications?: BucketPolicy };
  /**
   * Accept `http:` webhook URLs besides `https:` (default true). Lever accepts HTTPS only; a local test receiver speaks plain HTTP.
   */
  allowHttpWebhooks?: boolean;
  /** Delay before each webhook delivery retry, real-clock ms; the length is the number of retries. Default 1, 2, 4, 8, 16 minutes. */
  webhookRetryDelaysMs?: number[];
  /** How long one delivery attempt may take before it fails, ms (default 10 000). */
  webhookTimeoutMs?: number;
  /** Given-up deliveries in a row after which a webhook is disabled (default 3). */
  webhookDisableAfter?: number;
}

/** The part of the configuration `/__sim/config` may change at run time. */
export interface RuntimeConfig {
  accessTokenTtlSeconds: number;
  reuseLeewaySeconds: number;
  mode: SimMode;
  latencyMs: number;
  autoApprove: boolean;
}

export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 3600;

export function runtimeConfigFrom(options: SimOptions): RuntimeConfig {
  return {
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
    reuseLeewaySeconds: options.reuseLeewaySeconds ?? 0,
    mode: options.mode ?? 'production',
    latencyMs: options.latencyMs ?? 0,
    autoApprove: options.autoApprove ?? false,
  };
}

export const DEFAULT_AUDIENCES = [PRODUCTION_AUDIENCE, SANDBOX_AUDIENCE];
