import type { TokenCipher } from '@lever-connect/crypto';
import { AppError, NeedsReauthError } from '@lever-connect/errors';
import type { Logger } from 'pino';
import type { ConnectionRepo, ConnectionWithTenant } from '../store/connection-repo.js';
import type { LeverWebhooks } from '../lever-webhooks/service.js';
import type { GrantRevoker } from '../tokens/grant-revocation.js';
import type { TokenService } from '../tokens/token-service.js';
import type { ConnectionReads } from './connection-reads.js';
import type { TenantReads } from './tenant-reads.js';
import type { Viewer } from './viewer.js';

/**
 * What an API key may do to connections it can see: refresh now, disconnect one, disconnect a tenant's all.
 * The wall is the read services' (a connection the viewer cannot see is a 404 before anything happens).
 */
export function createConnectionActions(deps: {
  reads: Pick<ConnectionReads, 'get'>;
  tenants: Pick<TenantReads, 'get' | 'activeConnectionIds'>;
  repo: Pick<ConnectionRepo, 'findById' | 'disconnect'>;
  tokens: Pick<TokenService, 'getAccessToken'>;
  leverWebhooks: Pick<LeverWebhooks, 'unsubscribe'>;
  revoker: Pick<GrantRevoker, 'revoke'>;
  cipher: Pick<TokenCipher, 'decrypt'>;
  log: Pick<Logger, 'warn'>;
  /** Told of every connection whose row changed, so every process drops what it cached. */
  onChanged(connectionId: string): Promise<void>;
}) {
  /**
   * Ends the connection's grant at Lever (best effort, bounded: revokeGrant never throws). Any refresh token
   * of the family revokes the whole grant, so one a refresh rotates meanwhile still does.
   */
  async function revokeGrant(connectionId: string): Promise<void> {
    const connection = await deps.repo.findById(connectionId);
    if (!connection?.refreshTokenCiphertext || connection.status !== 'active') return;
    let refreshToken: string;
    try {
      refreshToken = deps.cipher.decrypt(connection.refreshTokenCiphertext, { row: connection.id, column: 'refreshToken' });
    } catch (err) {
      // A ciphertext we cannot open (a key dropped too early) must not keep a customer connected.
      deps.log.warn({ connectionId, err }, 'cannot decrypt the refresh token to revoke the grant at Lever; disconnecting anyway');
      return;
    }
    await deps.revoker.revoke('disconnect', connection.environment, refreshToken, { connectionId });
  }

  async function disconnect(where: { id?: string; tenantId?: string }, connectionIds: string[]): Promise<number> {
    // Per connection, in this order, before our copy of the tokens goes: its Lever webhooks (they need the
    // grant to call Lever), then the grant itself at Lever. Both best effort and bounded; neither can block.
    await Promise.all(
      connectionIds.map(async (id) => {
        await deps.leverWebhooks.unsubscribe(id);
        await revokeGrant(id);
      }),
    );
    const ids = await deps.repo.disconnect(where);
    await Promise.all(ids.map((id) => deps.onChanged(id)));
    return ids.length;
  }

  return {
    /** Refreshes now (coalesced with any refresh in progress) and returns the connection as stored after it. */
    async refreshNow(viewer: Viewer, id: string): Promise<ConnectionWithTenant> {
      const connection = await deps.reads.get(viewer, id);
      if (connection.status === 'needs_reauth') throw new NeedsReauthError(connection.reauthReason);
      if (connection.status === 'disconnected') throw new AppError('connection_disconnected', 'The connection was deleted', 409);
      // No token leaves this action, so nothing goes in the token-read audit trail.
      await deps.tokens.getAccessToken(connection.id, { forceRefresh: true });
      return (await deps.repo.findById(connection.id))!;
    },

    /**
     * Disconnects one connection: its Lever webhooks deleted and its grant revoked at Lever (best effort),
     * then tokens wiped, refreshes stopped, every cache told, `connection.deleted` emitted. Returns 0 when it
     * was disconnected already (repeating it is harmless), else 1.
     */
    async disconnect(viewer: Viewer, id: string): Promise<number> {
      const connection = await deps.reads.get(viewer, id);
      return disconnect({ id: connection.id }, connection.status === 'active' ? [connection.id] : []);
    },

    /** Disconnects every connection of a tenant (each as `disconnect` does); returns how many. */
    async disconnectTenant(viewer: Viewer, externalId: string): Promise<number> {
      const tenant = await deps.tenants.get(viewer, externalId);
      return disconnect({ tenantId: tenant.id }, await deps.tenants.activeConnectionIds(tenant));
    },
  };
}

export type ConnectionActions = ReturnType<typeof createConnectionActions>;
