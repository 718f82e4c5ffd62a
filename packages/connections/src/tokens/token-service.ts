import type { Config, LeverEnvironment } from '@lever-connect/config';
import type { TokenCipher } from '@lever-connect/crypto';
import { isDatabaseUnavailable } from '@lever-connect/db';
import { ConflictError, NeedsReauthError, NotFoundError, TemporarilyUnavailableError } from '@lever-connect/errors';
import type { Quotas } from '../access/quotas.js';
import { sees } from '../access/viewer.js';
import { isRefreshDue } from '../refresh/schedule.js';
import type { Refresher, RefreshResult } from '../refresh/types.js';
import type { ConnectionRepo, TokenReadRow } from '../store/connection-repo.js';
import type { InvalidationBus } from './invalidation.js';
import { createTokenCache, type CachedToken } from './token-cache.js';

export interface AccessTokenGrant {
  accessToken: string;
  tokenType: 'Bearer';
  expiresAt: Date;
  scopes: string[];
  apiBaseUrl: string;
  connectionId: string;
  /** The Lever account and environment: the key of the account's API budget (proxy/). */
  environment: LeverEnvironment;
  leverAccountId: string;
  /** The connection's tenant (per-tenant quotas count what is done to a tenant's connections, whoever asks). */
  tenantId: string;
  refreshed: boolean;
  /**
   * The token endpoint's response body, serialized once per cached token (exactly the declared fields):
   * escaping a 1 KB JWT on every read was a visible share of the hottest path.
   */
  body: string;
}

/** A token with less than this left is never handed out after a failed or contended refresh. */
const LAST_RESORT_MIN_TTL_MS = 60_000;
/** How long a reader waits for another process's refresh before answering 503. */
const READ_LOCK_WAIT_MS = 4_000;

/**
 * The token endpoint's logic: hand out the stored token while it has enough life left, otherwise refresh
 * inline under the same lock as the workers. Concurrent reads of one connection in this process share one
 * refresh. It never returns an expired token.
 *
 * Valid tokens are also kept in memory for `tokenCacheTtlMs`, so the hot path reads neither Postgres nor
 * the cipher. That is safe because a cached entry is only ever an active connection's still-valid access
 * token (an older one stays valid at Lever after a rotation until it expires), it is dropped the moment any
 * process changes the connection (invalidation bus: delete, needs_reauth, reconnect, refresh), and it is
 * never served once the token is due for refresh. When Postgres is unreachable, a cached token with a
 * minute or more to live is still served (stale-if-error): an outage of our database must not become an
 * outage of every operator service calling Lever.
 */
export function createTokenService(deps: {
  repo: Pick<ConnectionRepo, 'findForTokenRead'>;
  refresher: Pick<Refresher, 'refresh'>;
  cipher: TokenCipher;
  config: Pick<Config, 'refresh' | 'lever'>;
  bus?: Pick<InvalidationBus, 'subscribe'>;
  /** A forced refresh draws from its tenant's quota (fair share of the one budget of calls to Lever). */
  quotas?: Pick<Quotas, 'forcedRefresh'>;
  now?: () => Date;
}) {
  const now = deps.now ?? (() => new Date());
  const inflight = new Map<string, Promise<RefreshResult>>();
  const cache = createTokenCache({ ttlMs: deps.config.refresh.tokenCacheTtlMs, bus: deps.bus, now });
  const shared = (id: string) => cache.shared(id, (key) => deps.repo.findForTokenRead(key));
  /** Reads answered from memory and reads that went to Postgres (forced refreshes aside): the cache's hit ratio. */
  const counts = { hits: 0, misses: 0 };

  function grant(t: Pick<CachedToken, 'connectionId' | 'tenantId' | 'environment' | 'leverAccountId' | 'scopes' | 'expiresAt' | 'body'>, accessToken: string, refreshed: boolean): AccessTokenGrant {
    const apiBaseUrl = deps.config.lever.environments[t.environment].apiBaseUrl;
    t.body ??= JSON.stringify({ accessToken, tokenType: 'Bearer', expiresAt: t.expiresAt.toISOString(), scopes: t.scopes, apiBaseUrl });
    return {
      accessToken,
      tokenType: 'Bearer',
      expiresAt: t.expiresAt,
      scopes: t.scopes,
      apiBaseUrl,
      connectionId: t.connectionId,
      environment: t.environment,
      leverAccountId: t.leverAccountId,
      tenantId: t.tenantId,
      refreshed,
      body: t.body,
    };
  }

  function fromStored(c: TokenReadRow, refreshed: boolean, readSeq: number): AccessTokenGrant {
    const entry = cache.remember(c, deps.cipher.decrypt(c.accessTokenCiphertext!, { row: c.id, column: 'accessToken' }), readSeq);
    return grant(entry, entry.accessToken, refreshed);
  }

  const isDue = (t: { expiresAt: Date | null; issuedAt: Date | null }) =>
    isRefreshDue(t, deps.config.refresh.tokenMinTtlSeconds, now());

  function assertUsable(c: TokenReadRow | null, tenantId: string | undefined): asserts c is TokenReadRow {
    // A connection of another tenant is indistinguishable from one that does not exist (access/viewer.ts).
    if (!c || !sees({ tenantId: tenantId ?? null }, c.tenantId)) throw new NotFoundError('Connection');
    if (c.status === 'needs_reauth') throw new NeedsReauthError(c.reauthReason);
    if (c.status === 'disconnected' || !c.accessTokenCiphertext) {
      throw new ConflictError('connection_disconnected', 'The connection was deleted; create a new one');
    }
  }

  /** One refresh per connection and kind at a time in this process; `onlyIfVersion`: unless someone refreshed since. */
  function coalesced(id: string, force: boolean, onlyIfVersion?: number): Promise<RefreshResult> {
    const key = `${id}:${force}:${onlyIfVersion ?? ''}`;
    let p = inflight.get(key);
    if (!p) {
      p = deps.refresher
        .refresh(id, { trigger: 'read', force, waitMs: READ_LOCK_WAIT_MS, ...(onlyIfVersion !== undefined ? { onlyIfVersion } : {}) })
        .finally(() => inflight.delete(key));
      inflight.set(key, p);
    }
    return p;
  }

  /**
   * A cached token past half its cache TTL is re-read in the background while it keeps being served: a
   * connection in use never drops out of the cache under load, where every request arriving during the
   * re-read would wait on Postgres.
   */
  function revalidate(id: string) {
    if (cache.reading(id)) return;
    const { row, seq: readSeq } = shared(id);
    row.then(
      (c) => {
        if (c?.status === 'active' && c.accessTokenCiphertext && !isDue({ expiresAt: c.accessTokenExpiresAt, issuedAt: c.refreshTokenIssuedAt })) {
          fromStored(c, false, readSeq);
        } else {
          cache.drop(id); // gone, deleted or due: the next read takes the full path
        }
      },
      () => undefined, // keep serving the entry until its TTL; the next read tries again
    );
  }

  /**
   * After a refresh attempt on read: its tokens, or — when it did not refresh (busy elsewhere, a transient
   * failure, switched off) — what is stored now, if it has a minute or more to live; else 503.
   */
  async function settle(id: string, result: RefreshResult, current: TokenReadRow, readSeq: number, tenantId: string | undefined): Promise<AccessTokenGrant> {
    if (result.outcome === 'refreshed') {
      const entry = cache.remember(result.connection, result.accessToken, readSeq);
      return grant(entry, result.accessToken, true);
    }
    if (result.outcome === 'needs_reauth') {
      cache.drop(id);
      throw new NeedsReauthError(result.reason);
    }
    // Another process may have refreshed meanwhile: re-read.
    const latest = await deps.repo.findForTokenRead(id);
    assertUsable(latest, tenantId);
    const left = (latest.accessTokenExpiresAt?.getTime() ?? 0) - now().getTime();
    if (result.outcome === 'not_due' || left >= LAST_RESORT_MIN_TTL_MS) return fromStored(latest, latest.version !== current.version, readSeq);
    const retryAfter = result.outcome === 'failed' || result.outcome === 'unavailable' ? Math.ceil(result.retryInMs / 1000) : 2;
    throw new TemporarilyUnavailableError(
      'refresh_in_progress',
      `The access token is being refreshed or Lever is unavailable (${result.outcome}); retry shortly`,
      Math.max(1, Math.min(retryAfter, 60)),
    );
  }

  /** The stored row, or — when Postgres is unreachable — a cached token still good for a minute. */
  async function read(id: string, tenantId: string | undefined): Promise<{ row: TokenReadRow | null; seq: number } | { cached: CachedToken }> {
    const pending = shared(id);
    try {
      return { row: await pending.row, seq: pending.seq };
    } catch (error) {
      const hit = cache.get(id);
      const usable = hit && sees({ tenantId: tenantId ?? null }, hit.tenantId) && hit.expiresAt.getTime() - now().getTime() >= LAST_RESORT_MIN_TTL_MS;
      if (isDatabaseUnavailable(error) && usable) return { cached: hit };
      throw error;
    }
  }

  return {
    /** Totals since start (the benchmarks report the hit ratio of a workload from two snapshots). */
    cacheCounts: () => ({ ...counts }),

    async getAccessToken(id: string, options: { tenantId?: string; forceRefresh?: boolean } = {}): Promise<AccessTokenGrant> {
      const force = options.forceRefresh ?? false;
      if (!force) {
        const hit = cache.get(id);
        const age = hit ? now().getTime() - hit.cachedAt : Infinity;
        if (hit && age < cache.ttlMs && !isDue(hit)) {
          if (!sees({ tenantId: options.tenantId ?? null }, hit.tenantId)) throw new NotFoundError('Connection');
          if (age >= cache.ttlMs / 2) revalidate(id);
          counts.hits++;
          return grant(hit, hit.accessToken, false);
        }
        counts.misses++;
      }
      const stored = await read(id, options.tenantId);
      if ('cached' in stored) return grant(stored.cached, stored.cached.accessToken, false);
      const { row: current, seq: readSeq } = stored;
      assertUsable(current, options.tenantId);
      // Counted against the connection's tenant whoever asks (an operator's services usually hold one admin key).
      if (force) await deps.quotas?.forcedRefresh(current.tenantId);
      if (!force && !isDue({ expiresAt: current.accessTokenExpiresAt, issuedAt: current.refreshTokenIssuedAt })) {
        return fromStored(current, false, readSeq);
      }

      return settle(id, await coalesced(id, force), current, readSeq, options.tenantId);
    },

    /**
     * Lever refused `rejected` (a 401 from its API: the token died early). Refreshes once, however many
     * callers of however many processes report the same token at the same moment: only while the stored
     * token is still the rejected one, under the refresh guards (a refresh of a newer version answers with
     * that version's token instead).
     */
    async refreshRejected(id: string, rejected: Pick<AccessTokenGrant, 'accessToken'>, options: { tenantId?: string } = {}): Promise<AccessTokenGrant> {
      if (cache.get(id)?.accessToken === rejected.accessToken) cache.drop(id);
      const { row: current, seq: readSeq } = shared(id);
      const row = await current;
      assertUsable(row, options.tenantId);
      if (deps.cipher.decrypt(row.accessTokenCiphertext!, { row: row.id, column: 'accessToken' }) !== rejected.accessToken) return fromStored(row, true, readSeq);
      return settle(id, await coalesced(id, true, row.version), row, readSeq, options.tenantId);
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
