import type { Config, LeverEnvironment, LeverEnvironmentConfig } from '@lever-connect/config';
import type { TokenCipher } from '@lever-connect/crypto';
import { sqlOf, type Database } from '@lever-connect/db';
import { TokenRefreshError, type TokenFailure, type TokenSet } from '@lever-connect/lever';
import type { Logger } from 'pino';
import type { AppCredentialsState } from './app-credentials.js';
import type { ConnectionRepo, ConnectionWithTenant } from './connection-repo.js';
import { connectionEvent, type OutboxEvent } from './events.js';
import type { DeploymentFence } from './fence.js';
import type { LeverRateLimiter } from './lever-rate-limit.js';
import { LockBusyError, LockUnavailableError, type ConnectionLocks, type LockHandle } from './locks.js';
import { backoffMs, DEFAULT_BACKOFF, grantExpiresAt, isRefreshDue, nextRefreshAt } from './schedule.js';
import type { PendingTokens, ResponseStash } from './stash.js';

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
}

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

const DAY_MS = 24 * 3600 * 1000;
/** A claimed connection whose lock is busy or whose dependencies are away is not due again before this. */
const CLAIMED_RECHECK_MS = 5_000;
/**
 * How long the sweep waits for the lock of a connection it claimed. A token read that holds it lets go as
 * soon as it finds our lease (refresh(): LEASE_RECHECK_MS), so the wait is short; a real holder outlasts it.
 */
const CLAIMED_LOCK_WAIT_MS = 1_000;
/** How often a reader holding the lock but not the lease looks again. */
const LEASE_RECHECK_MS = 100;
const NO_REFRESH_TOKEN: TokenFailure = { kind: 'permanent', reason: 'invalid_grant', description: 'no refresh token stored (offline_access missing)', ambiguous: false };
const WRITE_RETRY_MAX_MS = 10 * 60_000;
/** A reader waits this long for the rotated tokens to be stored before answering with them anyway. */
const READ_ANSWER_WAIT_MS = 2_000;
/** How long a read may wait for a slot in the global Lever budget. */
const READ_RATE_WAIT_MS = 2_000;

/**
 * How long a refresh's Postgres lease lasts. It must outlive one Lever request (bounded by the timeout) with a
 * margin: a holder cut off from Postgres may still be waiting for Lever's answer, and a takeover then would
 * reuse the refresh token.
 */
export function refreshLeaseTtlMs(config: Pick<Config, 'lever'>): number {
  return config.lever.httpTimeoutMs + 15_000;
}

export interface ClaimedConnection {
  connection: ConnectionWithTenant;
  /** The claim took over an expired lease of another holder (repo.claimNextDue). */
  tookOver: boolean;
}

export interface Refresher {
  refresh(connectionId: string, options: RefreshOptions): Promise<RefreshResult>;
  /**
   * The sweep's refresh of a connection whose lease it already claimed (repo.claimNextDue): takes the Redis
   * lock, then goes on as a due scheduled refresh. Whatever the outcome, the lease does not outlive the
   * attempt; when nothing could be tried (lock busy, Redis down, budget spent) the connection is not due
   * again for a short while, so the sweep does not claim it again at once.
   */
  refreshClaimed(claimed: ClaimedConnection): Promise<RefreshResult>;
  /** Waits for writes of rotated tokens still retrying (graceful shutdown). */
  drain(): Promise<void>;
  /** Stop retrying writes at the next opportunity (their tokens stay stashed). */
  stop(): void;
}

interface Attempt {
  result: RefreshResult;
  /** Work that must finish before the lock is released (a rotated token still being written). */
  pending?: Promise<unknown>;
  /** Work that runs alongside the lock's release (arming the next wake-up). */
  alongside?: Promise<void>;
  /** Busy because another holder has the Postgres lease (a sweep that claimed it and now wants our lock). */
  leaseHeld?: boolean;
}

/**
 * One refresh, in the order the design asks (DESIGN.md, issue "Refresh engine"): Redis lock → re-read →
 * Postgres lease → call Lever → fenced write of the rotated tokens → schedule → release. The sweep
 * (refresh-sweep.ts) re-reads and leases first, many rows in one statement, and then takes each lock
 * (refreshClaimed): Lever is only ever called holding both, so the order of the two guards does not change
 * who may refresh; a reader that holds the lock and finds a sweep's lease lets go and looks again. Fenced
 * writes of concurrent refreshes share statements (group commit, batcher.ts), each row still fenced on its
 * own version. Arming the next wake-up and releasing the lock go out together (the written row already says
 * when it is due), and refresh() returns once both are done.
 */
export function createRefresher(deps: RefresherDeps): Refresher {
  const now = deps.now ?? (() => new Date());
  const sql = sqlOf(deps.database.pool);
  const inflightWrites = new Set<Promise<unknown>>();
  let stopping = false;
  const timeoutMs = deps.config.lever.httpTimeoutMs;
  const leaseTtlMs = refreshLeaseTtlMs(deps.config);
  // A live holder that got Lever's answer while Postgres was away retries its write at least this often...
  const writeRetryMaxDelayMs = Math.min(5_000, Math.max(1_000, timeoutMs / 2));
  // ...so whoever takes over an expired lease first waits twice that long for such a write to land.
  const takeoverGraceMs = 2 * writeRetryMaxDelayMs;

  /** Stores rotated tokens (fenced), with their events, in one statement. Null when the fence lost. */
  async function persist(connection: ConnectionWithTenant, pending: PendingTokens): Promise<ConnectionWithTenant | null> {
    const expiresAt = new Date(pending.expiresAt);
    const issuedAt = new Date(pending.issuedAt);
    const events: OutboxEvent[] = [connectionEvent('connection.refreshed', connection)];
    if (connection.refreshFailingNotified) events.push(connectionEvent('connection.recovered', connection));
    const grantEnd = grantExpiresAt(connection.grantCreatedAt ?? issuedAt);
    const expiring = !connection.expiringNotified && grantEnd.getTime() - now().getTime() <= deps.config.refresh.expiringNoticeDays * DAY_MS;
    if (expiring) events.push(connectionEvent('connection.expiring', connection, { reason: `grant_expires_at:${grantEnd.toISOString()}` }));
    const written = await deps.repo.storeRotated({
      id: connection.id,
      version: pending.version,
      accessTokenCiphertext: deps.cipher.encrypt(pending.accessToken, connection.id),
      refreshTokenCiphertext: deps.cipher.encrypt(pending.refreshToken, connection.id),
      accessTokenExpiresAt: expiresAt,
      issuedAt,
      scopes: pending.scopes,
      nextRefreshAt: nextRefreshAt(expiresAt, issuedAt, deps.config.refresh),
      expiringNotified: expiring,
      events,
    });
    return written ? { ...written, tenant: connection.tenant } : null;
  }

  /**
   * Writes rotated tokens until the write lands. Lever has already killed the old refresh token, so these
   * tokens are the grant: they are stashed (memory, then Redis, retried until Redis takes them) while the
   * write is retried, and nobody calls Lever for this connection meanwhile (we still hold the lock and the
   * lease; others find the stash first, and a taker of our lease waits for this write to land).
   */
  async function persistUntilStored(connection: ConnectionWithTenant, pending: PendingTokens) {
    let delay = 250;
    const started = Date.now();
    let stashed = false;
    for (;;) {
      try {
        const stored = await persist(connection, pending);
        if (stashed) await deps.stash.clear(connection.id, pending.version);
        return stored;
      } catch (error) {
        if (!stashed) {
          try {
            await deps.stash.save(pending);
            stashed = true;
          } catch (stashError) {
            deps.log.error({ connectionId: connection.id, err: stashError }, 'stashing rotated tokens in Redis failed; kept in memory, retrying');
          }
        }
        deps.log.error({ connectionId: connection.id, err: error }, 'storing rotated tokens failed; retrying');
        if (stopping || Date.now() - started > WRITE_RETRY_MAX_MS) throw error;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, writeRetryMaxDelayMs);
      }
    }
  }

  /** A stashed token set from an earlier, interrupted write is applied before anything else. */
  async function applyStash(connection: ConnectionWithTenant): Promise<ConnectionWithTenant | undefined> {
    const pending = await deps.stash.load(connection.id, connection.version);
    if (!pending) return undefined;
    const stored = await persistUntilStored(connection, pending);
    await deps.stash.clear(connection.id, pending.version);
    if (!stored) {
      deps.log.warn({ connectionId: connection.id }, 'discarding a stashed token set superseded by a newer version');
      return undefined;
    }
    deps.log.info({ connectionId: connection.id }, 'applied stashed rotated tokens');
    return stored;
  }

  async function recordFailure(connection: ConnectionWithTenant, failure: TokenFailure): Promise<number> {
    const attempt = connection.refreshAttemptCount + 1;
    // Never back off longer than a third of the token's lifetime: short tokens must still be refreshed
    // soon after Lever comes back (the global rate limit, not the backoff, protects Lever from a storm).
    const lifetimeMs =
      connection.accessTokenExpiresAt && connection.refreshTokenIssuedAt
        ? connection.accessTokenExpiresAt.getTime() - connection.refreshTokenIssuedAt.getTime()
        : 3600_000;
    const retryInMs = backoffMs(attempt, failure.retryAfterMs, {
      ...DEFAULT_BACKOFF,
      capMs: Math.max(DEFAULT_BACKOFF.baseMs, Math.min(DEFAULT_BACKOFF.capMs, lifetimeMs / 3)),
    });
    const failingSince = connection.failingSince ?? now();
    const failingLongEnough = now().getTime() - failingSince.getTime() >= deps.config.refresh.failingAfterSeconds * 1000;
    const notify = failingLongEnough && !connection.refreshFailingNotified;
    await deps.repo.recordFailure(
      connection.id,
      deps.ownerId,
      {
        attempt,
        at: now(),
        reason: failure.reason,
        ambiguous: failure.ambiguous,
        failingSince,
        nextRefreshAt: new Date(now().getTime() + retryInMs),
        failingNotified: notify,
      },
      // Written only if the row was ours to write (a reconnect or delete meanwhile says what happened itself).
      notify ? [connectionEvent('connection.refresh_failing', connection, { reason: failure.reason })] : [],
    );
    return retryInMs;
  }

  async function markNeedsReauth(connection: ConnectionWithTenant, failure: TokenFailure): Promise<string> {
    // We sent a refresh whose answer never came; Lever rotated, so our token was dead: our loss, not a
    // customer's revocation, and it is reported as such.
    const reason = connection.lastAttemptAmbiguous ? 'refresh_response_lost' : 'invalid_grant';
    const written = await deps.repo.fencedUpdate(
      connection.id,
      connection.version,
      {
        status: 'needs_reauth',
        reauthReason: reason,
        lastRefreshFailedAt: now(),
        lastRefreshError: failure.description ? `invalid_grant: ${failure.description}` : 'invalid_grant',
        nextRefreshAt: null,
        leaseOwner: null,
        leaseExpiresAt: null,
      },
      [connectionEvent('connection.needs_reauth', { ...connection, status: 'needs_reauth' }, { reason })],
    );
    if (written) await deps.onChanged?.(connection.id);
    return reason;
  }

  async function noteInvalidCredentials(connection: ConnectionWithTenant) {
    const env = connection.environment as LeverEnvironment;
    deps.log.error(
      { connectionId: connection.id, environment: env },
      'Lever rejected our OAuth client credentials: check LEVER_*_CLIENT_ID/SECRET (connections are kept)',
    );
    await deps.appCredentials.rejected(env, deps.config.lever.environments[env].clientId);
  }

  /** Starts arming the sweep's wake-up for the next refresh; its failure is logged (the next sweep or the reconciler arms it). */
  function scheduleNext(connection: ConnectionWithTenant): Promise<void> {
    return (async () => deps.onScheduled?.(connection))().catch((err: unknown) =>
      deps.log.warn({ connectionId: connection.id, err }, 'scheduling the next refresh failed'),
    );
  }

  /** Waits out a takeover grace, then checks that the previous holder's write did not land meanwhile. */
  async function afterTakeover(connection: ConnectionWithTenant, signal: AbortSignal): Promise<boolean> {
    await new Promise((r) => setTimeout(r, takeoverGraceMs));
    if (signal.aborted) return false;
    const rows = await sql.query<{ version: number; leaseOwner: string | null }>(
      `SELECT "version", "leaseOwner" FROM "connections" WHERE "id" = $1`,
      [connection.id],
    );
    return rows[0]?.version === connection.version && rows[0]?.leaseOwner === deps.ownerId;
  }

  async function underLock(connectionId: string, options: RefreshOptions, lock: LockHandle): Promise<Attempt> {
    const connection = await deps.repo.findById(connectionId);
    if (!connection) return { result: { outcome: 'not_found' } };
    if (connection.status !== 'active') return { result: { outcome: 'inactive', status: connection.status } };

    const applied = await applyStash(connection);
    if (applied) {
      return {
        result: { outcome: 'refreshed', connection: applied, accessToken: deps.cipher.decrypt(applied.accessTokenCiphertext!, applied.id) },
        alongside: scheduleNext(applied),
      };
    }
    const due =
      // The scheduler fires at next_refresh_at, which jitter moved earlier than expiry − lead: honour it,
      // or the job would come back "not due" until the jitter is spent.
      (options.trigger === 'schedule' && connection.nextRefreshAt !== null && connection.nextRefreshAt <= now()) ||
      isRefreshDue(
        { expiresAt: connection.accessTokenExpiresAt, issuedAt: connection.refreshTokenIssuedAt },
        options.trigger === 'read' ? deps.config.refresh.tokenMinTtlSeconds : deps.config.refresh.leadSeconds,
        now(),
      );
    if (!options.force && !due) return { result: { outcome: 'not_due', connection } };
    const refreshToken = connection.refreshTokenCiphertext ? deps.cipher.decrypt(connection.refreshTokenCiphertext, connection.id) : undefined;
    if (!refreshToken) {
      const reason = await markNeedsReauth(connection, NO_REFRESH_TOKEN);
      return { result: { outcome: 'needs_reauth', reason } };
    }
    const env = deps.config.lever.environments[connection.environment as LeverEnvironment];
    const wait = await deps.rateLimiter.take(env.environment, options.trigger === 'schedule' ? 0 : READ_RATE_WAIT_MS);
    if (wait > 0) return { result: { outcome: 'throttled', retryInMs: wait + Math.floor(Math.random() * 1_000) } };

    const lease = await deps.repo.claimLease(connection.id, connection.version, deps.ownerId, leaseTtlMs);
    if (!lease) return { result: { outcome: 'busy' }, leaseHeld: true };
    return underLease({ ...connection, lastAttemptAmbiguous: lease.lastAttemptAmbiguous }, lease.tookOver, refreshToken, env, options, lock);
  }

  /** After the sweep's claim (claimNextDue): what the read-then-claim path checks before its claim, now under the lease. */
  async function underClaimedLease(connection: ConnectionWithTenant, tookOver: boolean, options: RefreshOptions, lock: LockHandle): Promise<Attempt> {
    const releaseLease = () => deps.repo.releaseLease(connection.id, deps.ownerId).catch(() => undefined);
    let refreshToken: string;
    let env: LeverEnvironmentConfig;
    try {
      const applied = await applyStash(connection);
      if (applied) {
        // The fenced write of the stashed tokens freed the lease.
        return {
          result: { outcome: 'refreshed', connection: applied, accessToken: deps.cipher.decrypt(applied.accessTokenCiphertext!, applied.id) },
          alongside: scheduleNext(applied),
        };
      }
      if (!connection.refreshTokenCiphertext) {
        const reason = await markNeedsReauth(connection, NO_REFRESH_TOKEN);
        return { result: { outcome: 'needs_reauth', reason } };
      }
      env = deps.config.lever.environments[connection.environment as LeverEnvironment];
      const wait = await deps.rateLimiter.take(env.environment, 0);
      if (wait > 0) {
        const retryInMs = wait + Math.floor(Math.random() * 1_000);
        await deps.repo.releaseLease(connection.id, deps.ownerId, new Date(now().getTime() + retryInMs)).catch(() => undefined);
        return { result: { outcome: 'throttled', retryInMs } };
      }
      refreshToken = deps.cipher.decrypt(connection.refreshTokenCiphertext, connection.id);
    } catch (error) {
      // Nothing was sent to Lever: the lease must not outlive this attempt (a takeover would count as ambiguous).
      await releaseLease();
      throw error;
    }
    return underLease(connection, tookOver, refreshToken, env, options, lock);
  }

  /** Holding the lease: call Lever, then store what it answered (or record why not). */
  async function underLease(
    connection: ConnectionWithTenant,
    tookOver: boolean,
    refreshToken: string,
    env: LeverEnvironmentConfig,
    options: RefreshOptions,
    lock: LockHandle,
  ): Promise<Attempt> {
    const releaseLease = () => deps.repo.releaseLease(connection.id, deps.ownerId).catch(() => undefined);
    if (tookOver && !(await afterTakeover(connection, lock.signal))) {
      await releaseLease();
      return { result: { outcome: 'busy' } };
    }
    if (lock.signal.aborted) {
      await releaseLease();
      return { result: { outcome: 'busy' } };
    }

    let tokens: TokenSet;
    try {
      tokens = await deps.callLever(env, refreshToken);
    } catch (error) {
      try {
        if (!(error instanceof TokenRefreshError)) throw error;
        const failure = error.failure;
        if (failure.kind === 'permanent') {
          const reason = await markNeedsReauth(connection, failure);
          return { result: { outcome: 'needs_reauth', reason } };
        }
        if (failure.kind === 'operator') await noteInvalidCredentials(connection);
        const retryInMs = await recordFailure(connection, failure);
        return { result: { outcome: 'failed', failure, retryInMs } };
      } catch (cause) {
        // Recording the outcome failed. If Lever may have rotated (an unexpected error, an ambiguous
        // failure), keep the lease: the next attempt is then a takeover and counts as ambiguous, so a later
        // invalid_grant reads refresh_response_lost. If Lever surely refused (nothing rotated), free it, so
        // a real revocation is not mislabelled as our loss.
        if (error instanceof TokenRefreshError && !error.failure.ambiguous) await releaseLease();
        throw cause;
      }
    }
    const pending: PendingTokens = {
      connectionId: connection.id,
      version: connection.version,
      accessToken: tokens.accessToken,
      // Lever always rotates; if a server ever omits the new one, the old one is still the live one.
      refreshToken: tokens.refreshToken ?? refreshToken,
      expiresAt: tokens.expiresAt.toISOString(),
      issuedAt: new Date(tokens.expiresAt.getTime() - tokens.expiresInSeconds * 1000).toISOString(),
      scopes: tokens.scopes,
    };
    const base = connection;
    let alongside: Promise<void> | undefined;
    const write = (async () => {
      const stored = await persistUntilStored(base, pending);
      await deps.appCredentials.accepted(env.environment).catch(() => undefined);
      if (!stored) {
        // Only a reconnect (new grant, version bumped) or a delete may write over a held lease; their
        // tokens win, and the rotated tokens of the old grant are dropped on purpose.
        deps.log.warn({ connectionId: base.id }, 'fenced write lost: the connection was re-authorized or deleted meanwhile');
        return { outcome: 'busy' } as const;
      }
      // The next wake-up is armed while the lock is released (refresh() awaits both).
      alongside = scheduleNext(stored);
      return { outcome: 'refreshed', connection: stored, accessToken: tokens.accessToken } as const;
    })();
    inflightWrites.add(write);
    void write.then(
      () => inflightWrites.delete(write),
      () => inflightWrites.delete(write),
    );

    if (options.trigger === 'read') {
      // The caller is waiting on an HTTP request: if Postgres is slow or down, answer with the new access
      // token now and keep writing in the background (the lock stays held until the write lands).
      const early = await Promise.race([write, new Promise<undefined>((r) => setTimeout(() => r(undefined), READ_ANSWER_WAIT_MS).unref())]);
      if (early === undefined) {
        const provisional: ConnectionWithTenant = {
          ...base,
          accessTokenExpiresAt: tokens.expiresAt,
          refreshTokenIssuedAt: new Date(pending.issuedAt),
          scopes: pending.scopes.length ? pending.scopes : base.scopes,
        };
        return { result: { outcome: 'refreshed', connection: provisional, accessToken: tokens.accessToken }, pending: write };
      }
    }
    const result = await write;
    return { result, alongside };
  }

  /** Why no attempt can start (switched off, fenced, fence unreadable), or undefined. */
  async function blocked(): Promise<RefreshResult | undefined> {
    if (!deps.config.refresh.enabled) return { outcome: 'disabled' };
    try {
      if (!(await deps.fence.isOwner())) return { outcome: 'fenced' };
    } catch {
      return { outcome: 'unavailable', dependency: 'database', retryInMs: backoffMs(3, undefined) };
    }
    return undefined;
  }

  /**
   * Takes the connection's Redis lock and runs `attempt` under it; releases the lock when the attempt's work
   * is done (after a write still retrying, alongside scheduling the next refresh). `noLock` answers when the
   * lock could not be had.
   */
  async function withLock(
    connectionId: string,
    waitMs: number,
    attempt: (lock: LockHandle) => Promise<Attempt>,
    noLock: (result: RefreshResult) => Promise<RefreshResult> = async (r) => r,
  ): Promise<RefreshResult> {
    let lock: LockHandle;
    const lockStarted = Date.now();
    try {
      lock = await deps.locks.acquire(connectionId, { waitMs });
      deps.observeLockWait?.('acquired', Date.now() - lockStarted);
    } catch (error) {
      if (error instanceof LockBusyError) {
        deps.observeLockWait?.('busy', Date.now() - lockStarted);
        return noLock({ outcome: 'busy' });
      }
      if (error instanceof LockUnavailableError) {
        deps.observeLockWait?.('unavailable', Date.now() - lockStarted);
        return noLock({ outcome: 'unavailable', dependency: 'redis', retryInMs: backoffMs(3, undefined) });
      }
      throw error;
    }
    let pending: Promise<unknown> | undefined;
    let alongside: Promise<void> | undefined;
    try {
      const result = await attempt(lock);
      pending = result.pending;
      alongside = result.alongside;
      return result.result;
    } catch (error) {
      deps.log.warn({ connectionId, err: error }, 'refresh interrupted by a dependency failure');
      return { outcome: 'unavailable', dependency: 'database', retryInMs: backoffMs(3, undefined) };
    } finally {
      if (pending) void pending.catch(() => undefined).finally(() => lock.release());
      else await Promise.all([lock.release(), alongside]);
    }
  }

  return {
    async refresh(connectionId, options) {
      const started = Date.now();
      const deadline = started + (options.waitMs ?? 0);
      let result = await blocked();
      while (!result) {
        let leaseHeld = false;
        const attempt = await withLock(connectionId, Math.max(0, deadline - Date.now()), async (lock) => {
          const a = await underLock(connectionId, options, lock);
          leaseHeld = a.leaseHeld === true;
          return a;
        });
        // A sweep claims the lease before it takes the lock: holding the lock, we would keep it from the
        // refresh it claimed. Let go, give it a moment, and look again (it refreshed, or it gave the lease back).
        if (attempt.outcome === 'busy' && leaseHeld && Date.now() + LEASE_RECHECK_MS < deadline) {
          await new Promise((r) => setTimeout(r, LEASE_RECHECK_MS));
          continue;
        }
        result = attempt;
      }
      deps.observe?.(result, options.trigger, Date.now() - started);
      return result;
    },
    async refreshClaimed({ connection, tookOver }) {
      const started = Date.now();
      // Nothing went to Lever: free the lease, and keep the sweep off this connection for a moment.
      const giveBack = async (result: RefreshResult) => {
        const recheckMs = result.outcome === 'unavailable' ? result.retryInMs : CLAIMED_RECHECK_MS;
        await deps.repo.releaseLease(connection.id, deps.ownerId, new Date(now().getTime() + recheckMs)).catch(() => undefined);
        return result;
      };
      const stop = await blocked();
      const result = stop
        ? await giveBack(stop)
        : await withLock(connection.id, CLAIMED_LOCK_WAIT_MS, (lock) => underClaimedLease(connection, tookOver, { trigger: 'schedule' }, lock), giveBack);
      deps.observe?.(result, 'schedule', Date.now() - started);
      return result;
    },
    async drain() {
      await Promise.allSettled([...inflightWrites]);
    },
    stop() {
      stopping = true;
    },
  };
}
