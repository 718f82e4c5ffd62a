import type { Config, LeverEnvironment, LeverEnvironmentConfig } from '@lever-connect/config';
import type { TokenCipher } from '@lever-connect/crypto';
import type { PrismaClient } from '@lever-connect/db';
import { TokenRefreshError, type TokenFailure, type TokenSet } from '@lever-connect/lever';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ConnectionRepo, ConnectionWithTenant } from './connection-repo.js';
import { writeConnectionEvent, writeEvent } from './events.js';
import type { DeploymentFence } from './fence.js';
import { LockBusyError, LockUnavailableError, type ConnectionLocks } from './locks.js';
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
  prisma: PrismaClient;
  repo: ConnectionRepo;
  cipher: TokenCipher;
  locks: ConnectionLocks;
  stash: ResponseStash;
  fence: DeploymentFence;
  /** Used for the once-per-environment `oauth_app.invalid_credentials` notice. */
  redis: Redis;
  prefix: string;
  config: Pick<Config, 'refresh' | 'lever'>;
  /** Calls Lever's token endpoint (packages/lever's refreshAccessToken, bound to config). */
  callLever(env: LeverEnvironmentConfig, refreshToken: string): Promise<TokenSet>;
  /** Told after a connection's tokens changed, so the next refresh can be scheduled. */
  onScheduled?(connection: ConnectionWithTenant): Promise<void>;
  log: Logger;
  now?: () => Date;
  /** Identifies this process in leases (host:pid:random). */
  ownerId: string;
  /** Metrics hook, told of every attempt's result. */
  observe?(result: RefreshResult, trigger: RefreshTrigger, durationMs: number): void;
}

const DAY_MS = 24 * 3600 * 1000;
const WRITE_RETRY_MAX_MS = 10 * 60_000;

export interface Refresher {
  refresh(connectionId: string, options: RefreshOptions): Promise<RefreshResult>;
  /** Waits for writes of rotated tokens still retrying (graceful shutdown). */
  drain(): Promise<void>;
  /** Stop retrying writes at the next opportunity (their tokens stay stashed). */
  stop(): void;
}

/**
 * One refresh, in the order the design asks (DESIGN.md, issue "Refresh engine"): Redis lock → re-read →
 * Postgres lease → call Lever → fenced write of the rotated tokens → schedule → release.
 */
export function createRefresher(deps: RefresherDeps): Refresher {
  const now = deps.now ?? (() => new Date());
  const inflightWrites = new Set<Promise<unknown>>();
  let stopping = false;
  const brokenCredentials = new Set<LeverEnvironment>();
  const leaseTtlMs = deps.config.lever.httpTimeoutMs * 2 + 30_000;

  function decryptTokens(c: ConnectionWithTenant) {
    if (!c.refreshTokenCiphertext) return undefined;
    return deps.cipher.decrypt(c.refreshTokenCiphertext, c.id);
  }

  function tokenColumns(connectionId: string, pending: PendingTokens, grantCreatedAt: Date | null) {
    const expiresAt = new Date(pending.expiresAt);
    const issuedAt = new Date(pending.issuedAt);
    return {
      accessTokenCiphertext: deps.cipher.encrypt(pending.accessToken, connectionId),
      refreshTokenCiphertext: deps.cipher.encrypt(pending.refreshToken, connectionId),
      accessTokenExpiresAt: expiresAt,
      refreshTokenIssuedAt: issuedAt,
      refreshTokenLastUsedAt: issuedAt,
      lastRefreshedAt: issuedAt,
      ...(pending.scopes.length ? { scopes: pending.scopes } : {}),
      nextRefreshAt: nextRefreshAt(expiresAt, issuedAt, deps.config.refresh),
      refreshAttemptCount: 0,
      lastRefreshError: null,
      lastAttemptAmbiguous: false,
      failingSince: null,
      refreshFailingNotified: false,
      leaseOwner: null,
      leaseExpiresAt: null,
      ...(grantCreatedAt ? {} : { grantCreatedAt: issuedAt }),
    };
  }

  /** Stores rotated tokens (fenced), with their events, in one transaction. */
  async function persist(connection: ConnectionWithTenant, pending: PendingTokens): Promise<ConnectionWithTenant | null> {
    return deps.prisma.$transaction(async (tx) => {
      const written = await deps.repo.fencedUpdate(
        tx,
        connection.id,
        pending.version,
        tokenColumns(connection.id, pending, connection.grantCreatedAt),
      );
      if (!written) return null;
      await writeConnectionEvent(tx, 'connection.refreshed', connection);
      if (connection.refreshFailingNotified) await writeConnectionEvent(tx, 'connection.recovered', connection);
      const grantEnd = grantExpiresAt(connection.grantCreatedAt ?? new Date(pending.issuedAt));
      const noticeMs = deps.config.refresh.expiringNoticeDays * DAY_MS;
      if (!connection.expiringNotified && grantEnd.getTime() - now().getTime() <= noticeMs) {
        await tx.connection.update({ where: { id: connection.id }, data: { expiringNotified: true } });
        await writeConnectionEvent(tx, 'connection.expiring', connection, {
          reason: `grant_expires_at:${grantEnd.toISOString()}`,
        });
      }
      return tx.connection.findUnique({ where: { id: connection.id }, include: { tenant: { select: { externalId: true } } } });
    });
  }

  /**
   * Writes rotated tokens until the write lands. Lever has already killed the old refresh token, so these
   * tokens are the grant: on a database error they are stashed and the write is retried, and nobody calls
   * Lever for this connection meanwhile (we still hold the lock; others find the stash first).
   */
  async function persistUntilStored(connection: ConnectionWithTenant, pending: PendingTokens) {
    let delay = 250;
    const started = Date.now();
    let stashed = false;
    for (;;) {
      try {
        const stored = await persist(connection, pending);
        if (stashed) await deps.stash.clear(connection.id);
        return stored;
      } catch (error) {
        if (!stashed) {
          await deps.stash.save(pending);
          stashed = true;
        }
        deps.log.error({ connectionId: connection.id, err: error }, 'storing rotated tokens failed; retrying');
        if (stopping || Date.now() - started > WRITE_RETRY_MAX_MS) throw error;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  /** A stashed token set from an earlier, interrupted write is applied before anything else. */
  async function applyStash(connection: ConnectionWithTenant): Promise<ConnectionWithTenant | undefined> {
    const pending = await deps.stash.load(connection.id);
    if (!pending) return undefined;
    if (connection.version !== pending.version) {
      // Either the write did land (version moved on) or a reconnect superseded it; the stash is spent.
      deps.log.warn({ connectionId: connection.id }, 'discarding a stashed token set superseded by a newer version');
      await deps.stash.clear(connection.id);
      return undefined;
    }
    const stored = await persistUntilStored(connection, pending);
    await deps.stash.clear(connection.id);
    deps.log.info({ connectionId: connection.id }, 'applied stashed rotated tokens');
    return stored ?? undefined;
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
    await deps.prisma.$transaction(async (tx) => {
      await tx.connection.updateMany({
        where: { id: connection.id, leaseOwner: deps.ownerId },
        data: {
          refreshAttemptCount: attempt,
          lastRefreshFailedAt: now(),
          lastRefreshError: failure.reason,
          // Sticky until a success: if Lever rotated and we lost the answer, a later invalid_grant is on us.
          lastAttemptAmbiguous: connection.lastAttemptAmbiguous || failure.ambiguous,
          failingSince,
          nextRefreshAt: new Date(now().getTime() + retryInMs),
          leaseOwner: null,
          leaseExpiresAt: null,
          ...(notify ? { refreshFailingNotified: true } : {}),
        },
      });
      if (notify) await writeConnectionEvent(tx, 'connection.refresh_failing', connection, { reason: failure.reason });
    });
    return retryInMs;
  }

  async function markNeedsReauth(connection: ConnectionWithTenant, failure: TokenFailure): Promise<string> {
    // We sent a refresh whose answer never came; Lever rotated, so our token was dead: our loss, not a
    // customer's revocation, and it is reported as such.
    const reason = connection.lastAttemptAmbiguous ? 'refresh_response_lost' : 'invalid_grant';
    await deps.prisma.$transaction(async (tx) => {
      const written = await deps.repo.fencedUpdate(tx, connection.id, connection.version, {
        status: 'needs_reauth',
        reauthReason: reason,
        lastRefreshFailedAt: now(),
        lastRefreshError: failure.description ? `invalid_grant: ${failure.description}` : 'invalid_grant',
        nextRefreshAt: null,
        leaseOwner: null,
        leaseExpiresAt: null,
      });
      if (written) {
        await writeConnectionEvent(tx, 'connection.needs_reauth', { ...connection, status: 'needs_reauth' }, { reason });
      }
    });
    return reason;
  }

  async function noteInvalidCredentials(connection: ConnectionWithTenant) {
    const env = connection.environment as LeverEnvironment;
    brokenCredentials.add(env);
    deps.log.error(
      { connectionId: connection.id, environment: env },
      'Lever rejected our OAuth client credentials: check LEVER_*_CLIENT_ID/SECRET (connections are kept)',
    );
    const first = await deps.redis.set(`${deps.prefix}:invalid-credentials:${env}`, '1', 'EX', 86_400, 'NX').catch(() => null);
    if (first === 'OK') {
      await writeEvent(deps.prisma, {
        type: 'oauth_app.invalid_credentials',
        data: { environment: env, clientId: deps.config.lever.environments[env].clientId },
      });
    }
  }

  async function noteCredentialsWork(env: LeverEnvironment) {
    if (!brokenCredentials.delete(env)) return;
    await deps.redis.del(`${deps.prefix}:invalid-credentials:${env}`).catch(() => undefined);
  }

  async function underLock(connectionId: string, options: RefreshOptions, signal: AbortSignal): Promise<RefreshResult> {
    let connection = await deps.repo.findById(connectionId);
    if (!connection) return { outcome: 'not_found' };
    if (connection.status !== 'active') return { outcome: 'inactive', status: connection.status };

    const applied = await applyStash(connection);
    if (applied) {
      await deps.onScheduled?.(applied);
      return { outcome: 'refreshed', connection: applied, accessToken: deps.cipher.decrypt(applied.accessTokenCiphertext!, applied.id) };
    }
    const due = isRefreshDue(
      { expiresAt: connection.accessTokenExpiresAt, issuedAt: connection.refreshTokenIssuedAt },
      options.trigger === 'read' ? deps.config.refresh.tokenMinTtlSeconds : deps.config.refresh.leadSeconds,
      now(),
    );
    if (!options.force && !due) return { outcome: 'not_due', connection };
    const refreshToken = decryptTokens(connection);
    if (!refreshToken) {
      const reason = await markNeedsReauth(connection, { kind: 'permanent', reason: 'invalid_grant', description: 'no refresh token stored (offline_access missing)', ambiguous: false });
      return { outcome: 'needs_reauth', reason };
    }
    const lease = await deps.repo.claimLease(connection.id, connection.version, deps.ownerId, leaseTtlMs);
    if (!lease) return { outcome: 'busy' };
    connection = { ...connection, lastAttemptAmbiguous: lease.lastAttemptAmbiguous };
    if (signal.aborted) {
      await deps.repo.releaseLease(connection.id, deps.ownerId);
      return { outcome: 'busy' };
    }
    const env = deps.config.lever.environments[connection.environment as LeverEnvironment];
    let tokens: TokenSet;
    try {
      tokens = await deps.callLever(env, refreshToken);
    } catch (error) {
      if (!(error instanceof TokenRefreshError)) {
        await deps.repo.releaseLease(connection.id, deps.ownerId).catch(() => undefined);
        throw error;
      }
      const failure = error.failure;
      if (failure.kind === 'permanent') {
        const reason = await markNeedsReauth(connection, failure);
        return { outcome: 'needs_reauth', reason };
      }
      if (failure.kind === 'operator') await noteInvalidCredentials(connection);
      const retryInMs = await recordFailure(connection, failure);
      return { outcome: 'failed', failure, retryInMs };
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
    const write = persistUntilStored(connection, pending);
    inflightWrites.add(write);
    let stored: ConnectionWithTenant | null;
    try {
      stored = await write;
    } finally {
      inflightWrites.delete(write);
    }
    await noteCredentialsWork(env.environment);
    if (!stored) {
      // Only a reconnect (new grant, version bumped) or a delete may write over a held lease; their
      // tokens win, and the rotated tokens of the old grant are dropped on purpose.
      deps.log.warn({ connectionId: connection.id }, 'fenced write lost: the connection was re-authorized or deleted meanwhile');
      return { outcome: 'busy' };
    }
    connection = stored;
    await deps.onScheduled?.(connection);
    return { outcome: 'refreshed', connection, accessToken: tokens.accessToken };
  }

  return {
    async refresh(connectionId, options) {
      const started = Date.now();
      const result = await (async (): Promise<RefreshResult> => {
        if (!deps.config.refresh.enabled) return { outcome: 'disabled' };
        try {
          if (!(await deps.fence.isOwner())) return { outcome: 'fenced' };
        } catch {
          return { outcome: 'unavailable', dependency: 'database', retryInMs: backoffMs(3, undefined) };
        }
        let lock;
        try {
          lock = await deps.locks.acquire(connectionId, { waitMs: options.waitMs ?? 0 });
        } catch (error) {
          if (error instanceof LockBusyError) return { outcome: 'busy' };
          if (error instanceof LockUnavailableError) return { outcome: 'unavailable', dependency: 'redis', retryInMs: backoffMs(3, undefined) };
          throw error;
        }
        try {
          return await underLock(connectionId, options, lock.signal);
        } catch (error) {
          deps.log.warn({ connectionId, err: error }, 'refresh interrupted by a dependency failure');
          return { outcome: 'unavailable', dependency: 'database', retryInMs: backoffMs(3, undefined) };
        } finally {
          await lock.release();
        }
      })();
      deps.observe?.(result, options.trigger, Date.now() - started);
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
