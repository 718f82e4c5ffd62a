import type { TokenFailure } from '@lever-connect/lever';
import type { ConnectionWithTenant } from '../store/connection-repo.js';

export type RefreshTrigger = 'schedule' | 'read' | 'manual';

export type RefreshResult =
  | { outcome: 'refreshed'; connection: ConnectionWithTenant; accessToken: string }
  | { outcome: 'not_due'; connection: ConnectionWithTenant }
  | { outcome: 'busy' }
  | { outcome: 'inactive'; status: string }
  | { outcome: 'not_found' }
  | { outcome: 'needs_reauth'; reason: string }
  | { outcome: 'failed'; failure: TokenFailure; retryInMs: number }
  | { outcome: 'throttled'; retryInMs: number }
  | { outcome: 'disabled' }
  | { outcome: 'fenced' }
  | { outcome: 'unavailable'; dependency: 'redis' | 'database'; retryInMs: number };

export interface RefreshOptions {
  trigger: RefreshTrigger;
  /** Refresh even if the token is not due (POST /refresh, ?forceRefresh=true). */
  force?: boolean;
  /** How long to wait for a busy lock (the token endpoint waits; the scheduler does not). */
  waitMs?: number;
  /**
   * Refresh only while the row is still at this version: a token Lever refused (a 401) is refreshed once,
   * not once per process that saw the 401; whoever comes after the first refresh gets `not_due`.
   */
  onlyIfVersion?: number;
}

export interface ClaimedConnection {
  connection: ConnectionWithTenant;
  /** The claim took over an expired lease of another holder (repo.claimNextDue). */
  tookOver: boolean;
}

export interface Refresher {
  /** A refresh on read or by hand: takes the guards lock first (refresh.ts). */
  refresh(connectionId: string, options: RefreshOptions): Promise<RefreshResult>;
  /**
   * The sweep's refresh of a connection whose lease it already claimed (repo.claimNextDue): takes the Redis
   * lock, then goes on as a due scheduled refresh. The sweep checked the kill switch and the fence for its
   * whole run. Whatever the outcome, the lease does not outlive the attempt; when nothing could be tried
   * (lock busy, Redis down, budget spent) the connection is not due again for a short while, so the sweep
   * does not claim it again at once.
   */
  refreshClaimed(claimed: ClaimedConnection): Promise<RefreshResult>;
  /** Why no refresh may start now (switched off, fenced, fence unreadable), or undefined. */
  blocked(): Promise<RefreshResult | undefined>;
  /** Waits for writes of rotated tokens still retrying (graceful shutdown). */
  drain(): Promise<void>;
  /** Stop retrying writes at the next opportunity (their tokens stay stashed). */
  stop(): void;
}

/** What one attempt under the guards came to, and the work its lock must outlive. */
export interface Attempt {
  result: RefreshResult;
  /** Work that must finish before the lock is released (a rotated token still being written). */
  pending?: Promise<unknown>;
  /** Work that runs alongside the lock's release (arming the next wake-up). */
  alongside?: Promise<void>;
  /** Busy because another holder has the Postgres lease (a sweep that claimed it and now wants our lock). */
  leaseHeld?: boolean;
}
