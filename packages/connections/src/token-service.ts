import type { Config, LeverEnvironment } from '@lever-connect/config';
import type { TokenCipher } from '@lever-connect/crypto';
import { ConflictError, NeedsReauthError, NotFoundError, TemporarilyUnavailableError } from '@lever-connect/errors';
import type { ConnectionRepo, ConnectionWithTenant } from './connection-repo.js';
import type { Refresher, RefreshResult } from './refresh.js';
import { isRefreshDue } from './schedule.js';

export interface AccessTokenGrant {
  accessToken: string;
  tokenType: 'Bearer';
  expiresAt: Date;
  scopes: string[];
  apiBaseUrl: string;
  connectionId: string;
  refreshed: boolean;
}

/** A token with less than this left is never handed out after a failed or contended refresh. */
const LAST_RESORT_MIN_TTL_MS = 60_000;
/** How long a reader waits for another process's refresh before answering 503. */
const READ_LOCK_WAIT_MS = 4_000;

/**
 * The token endpoint's logic: hand out the stored token while it has enough life left, otherwise refresh
 * inline under the same lock as the workers. Concurrent reads of one connection in this process share one
 * refresh. It never returns an expired token.
 */
export function createTokenService(deps: {
  repo: Pick<ConnectionRepo, 'findById'>;
  refresher: Pick<Refresher, 'refresh'>;
  cipher: TokenCipher;
  config: Pick<Config, 'refresh' | 'lever'>;
  now?: () => Date;
}) {
  const now = deps.now ?? (() => new Date());
  const inflight = new Map<string, Promise<RefreshResult>>();

  function grant(c: ConnectionWithTenant, accessToken: string, refreshed: boolean): AccessTokenGrant {
    return {
      accessToken,
      tokenType: 'Bearer',
      expiresAt: c.accessTokenExpiresAt!,
      scopes: c.scopes,
      apiBaseUrl: deps.config.lever.environments[c.environment as LeverEnvironment].apiBaseUrl,
      connectionId: c.id,
      refreshed,
    };
  }

  function assertUsable(c: ConnectionWithTenant | null, tenantId: string | undefined): asserts c is ConnectionWithTenant {
    // A connection of another tenant is indistinguishable from one that does not exist.
    if (!c || (tenantId && c.tenantId !== tenantId)) throw new NotFoundError('Connection');
    if (c.status === 'needs_reauth') throw new NeedsReauthError(c.reauthReason);
    if (c.status === 'disconnected' || !c.accessTokenCiphertext) {
      throw new ConflictError('connection_disconnected', 'The connection was deleted; create a new one');
    }
  }

  function coalesced(id: string, force: boolean): Promise<RefreshResult> {
    const key = `${id}:${force}`;
    let p = inflight.get(key);
    if (!p) {
      p = deps.refresher
        .refresh(id, { trigger: 'read', force, waitMs: READ_LOCK_WAIT_MS })
        .finally(() => inflight.delete(key));
      inflight.set(key, p);
    }
    return p;
  }

  return {
    async getAccessToken(id: string, options: { tenantId?: string; forceRefresh?: boolean } = {}): Promise<AccessTokenGrant> {
      const force = options.forceRefresh ?? false;
      const current = await deps.repo.findById(id);
      assertUsable(current, options.tenantId);
      const due = isRefreshDue(
        { expiresAt: current.accessTokenExpiresAt, issuedAt: current.refreshTokenIssuedAt },
        deps.config.refresh.tokenMinTtlSeconds,
        now(),
      );
      if (!force && !due) return grant(current, deps.cipher.decrypt(current.accessTokenCiphertext!, current.id), false);

      const result = await coalesced(id, force);
      if (result.outcome === 'refreshed') return grant(result.connection, result.accessToken, true);
      if (result.outcome === 'needs_reauth') throw new NeedsReauthError(result.reason);

      // Not refreshed by us (busy elsewhere, transient failure, disabled...): re-read; another process may
      // have refreshed meanwhile. Hand out a token only with a minute or more to live.
      const latest = await deps.repo.findById(id);
      assertUsable(latest, options.tenantId);
      const left = (latest.accessTokenExpiresAt?.getTime() ?? 0) - now().getTime();
      if (result.outcome === 'not_due' || left >= LAST_RESORT_MIN_TTL_MS) {
        return grant(latest, deps.cipher.decrypt(latest.accessTokenCiphertext!, latest.id), latest.version !== current.version);
      }
      const retryAfter = result.outcome === 'failed' || result.outcome === 'unavailable' ? Math.ceil(result.retryInMs / 1000) : 2;
      throw new TemporarilyUnavailableError(
        'refresh_in_progress',
        `The access token is being refreshed or Lever is unavailable (${result.outcome}); retry shortly`,
        Math.max(1, Math.min(retryAfter, 60)),
      );
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
