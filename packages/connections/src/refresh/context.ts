import type { Config, LeverEnvironmentConfig } from '@lever-connect/config';
import type { TokenCipher } from '@lever-connect/crypto';
import type { Database } from '@lever-connect/db';
import type { TokenSet } from '@lever-connect/lever';
import type { Logger } from 'pino';
import type { ConnectionRepo, ConnectionWithTenant } from '../store/connection-repo.js';
import type { AppCredentialsState } from './app-credentials.js';
import type { DeploymentFence } from './fence.js';
import type { LeverRateLimiter } from './lever-budget.js';
import type { ConnectionLocks } from './locks.js';
import type { ResponseStash } from './stash.js';
import type { RefreshResult, RefreshTrigger } from './types.js';

export interface RefresherDeps {
  database: Pick<Database, 'pool'>;
  repo: ConnectionRepo;
  cipher: TokenCipher;
  locks: ConnectionLocks;
  stash: ResponseStash;
  fence: DeploymentFence;
  rateLimiter: LeverRateLimiter;
  appCredentials: AppCredentialsState;
  config: Pick<Config, 'refresh' | 'lever'>;
  /** Calls Lever's token endpoint (packages/lever's refreshAccessToken, bound to config). */
  callLever(env: LeverEnvironmentConfig, refreshToken: string): Promise<TokenSet>;
  /** Told after a connection's tokens changed, so the next refresh can be scheduled. */
  onScheduled?(connection: ConnectionWithTenant): Promise<void>;
  /** Told after a change other processes' caches must drop (needs_reauth). */
  onChanged?(connectionId: string): Promise<void>;
  log: Logger;
  now?: () => Date;
  /** Identifies this process in leases (host:pid:random). */
  ownerId: string;
  /** Metrics hook, told of every attempt's result. */
  observe?(result: RefreshResult, trigger: RefreshTrigger, durationMs: number): void;
  /** Metrics hook, told how long getting the lock took. */
  observeLockWait?(outcome: 'acquired' | 'busy' | 'unavailable', durationMs: number): void;
}

/** The refresher's dependencies and the timings derived from them, passed to every step. */
export interface RefreshContext {
  deps: RefresherDeps;
  now: () => Date;
  leaseTtlMs: number;
  /** A live holder that got Lever's answer while Postgres was away retries its write at least this often... */
  writeRetryMaxDelayMs: number;
  /** ...so whoever takes over an expired lease first waits this long (twice that) for such a write to land. */
  takeoverGraceMs: number;
  /** Writes of rotated tokens still retrying (drained on shutdown). */
  inflightWrites: Set<Promise<unknown>>;
  /** Set on shutdown: writes stop retrying (their tokens stay stashed). */
  stopping: boolean;
}

/**
 * How long a refresh's Postgres lease lasts. It must outlive one Lever request (bounded by the timeout) with a
 * margin: a holder cut off from Postgres may still be waiting for Lever's answer, and a takeover then would
 * reuse the refresh token.
 */
export function refreshLeaseTtlMs(config: Pick<Config, 'lever'>): number {
  return config.lever.httpTimeoutMs + 15_000;
}

export function createRefreshContext(deps: RefresherDeps): RefreshContext {
  const writeRetryMaxDelayMs = Math.min(5_000, Math.max(1_000, deps.config.lever.httpTimeoutMs / 2));
  return {
    deps,
    now: deps.now ?? (() => new Date()),
    leaseTtlMs: refreshLeaseTtlMs(deps.config),
    writeRetryMaxDelayMs,
    takeoverGraceMs: 2 * writeRetryMaxDelayMs,
    inflightWrites: new Set(),
    stopping: false,
  };
}
