import Redlock, { ExecutionError, ResourceLockedError, type Lock } from 'redlock';
import type { Redis } from 'ioredis';

/**
 * Per-connection mutual exclusion over Redis (Redlock). Lever revokes the whole grant when a refresh token
 * is used twice, so two refreshes of one connection must never overlap. This lock is the first guard; the
 * Postgres lease (connection-repo) is the second, because a Redis lock vanishes on a flush or failover.
 */
export class LockBusyError extends Error {
  readonly code = 'lock_busy';
  constructor() {
    super('the connection is locked by another refresher');
    this.name = 'LockBusyError';
  }
}

export class LockUnavailableError extends Error {
  readonly code = 'lock_unavailable';
  constructor(cause: unknown) {
    super('Redis did not answer the lock request', { cause });
    this.name = 'LockUnavailableError';
  }
}

export interface LockHandle {
  /** Aborted when an extension fails: the caller must stop before touching Lever. */
  signal: AbortSignal;
  release(): Promise<void>;
}

export interface ConnectionLocks {
  /** Acquire, waiting up to `waitMs` for a busy lock. Throws LockBusyError or LockUnavailableError. */
  acquire(connectionId: string, options?: { waitMs?: number }): Promise<LockHandle>;
}

export interface ConnectionLocksOptions {
  redis: Redis[];
  prefix: string;
  /** Lock TTL; must exceed the Lever request timeout. It is extended while the holder works. */
  ttlMs: number;
  onExtendFailed?: (connectionId: string, error: unknown) => void;
}

const RETRY_DELAY_MS = 100;

/**
 * Redlock reports a busy lock and an unreachable Redis with the same ExecutionError; the votes against
 * tell them apart: a busy lock is a ResourceLockedError vote.
 */
async function isBusy(error: unknown): Promise<boolean> {
  if (!(error instanceof ExecutionError)) return false;
  const attempts = await Promise.allSettled(error.attempts);
  for (const attempt of attempts) {
    if (attempt.status !== 'fulfilled') continue;
    for (const vote of attempt.value.votesAgainst.values()) {
      if (vote instanceof ResourceLockedError) return true;
    }
  }
  return false;
}

export function createConnectionLocks(options: ConnectionLocksOptions): ConnectionLocks {
  const redlock = new Redlock(options.redis, {
    retryCount: 0,
    retryDelay: RETRY_DELAY_MS,
    retryJitter: 50,
    driftFactor: 0.01,
  });
  // Redlock emits 'error' for failed votes; they surface through acquire/extend anyway.
  redlock.on('error', () => {});

  return {
    async acquire(connectionId, { waitMs = 0 } = {}) {
      const resource = `${options.prefix}:lock:connection:${connectionId}`;
      let lock: Lock;
      try {
        lock = await redlock.acquire([resource], options.ttlMs, {
          retryCount: Math.ceil(waitMs / RETRY_DELAY_MS),
        });
      } catch (error) {
        if (await isBusy(error)) throw new LockBusyError();
        throw new LockUnavailableError(error);
      }
      const controller = new AbortController();
      let released = false;
      const extendEvery = Math.max(50, Math.floor(options.ttlMs / 3));
      const extend = async () => {
        if (released) return;
        try {
          lock = await lock.extend(options.ttlMs);
          if (!released) timer = setTimeout(() => void extend(), extendEvery);
        } catch (error) {
          options.onExtendFailed?.(connectionId, error);
          controller.abort(error);
        }
      };
      let timer = setTimeout(() => void extend(), extendEvery);
      return {
        signal: controller.signal,
        async release() {
          if (released) return;
          released = true;
          clearTimeout(timer);
          // Owner-checked release (Redlock compares the lock value); a lock that already expired is fine.
          await lock.release().catch(() => undefined);
        },
      };
    },
  };
}
