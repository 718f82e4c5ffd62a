import { randomUUID } from 'node:crypto';
import type { Config, LeverEnvironment } from '@lever-connect/config';
import type { TokenCipher } from '@lever-connect/crypto';
import { isUniqueViolation, type ConnectSession, type Db, type PrismaClient } from '@lever-connect/db';
import { AppError, ConflictError } from '@lever-connect/errors';
import { readLeverClaims, UnreadableAccessTokenError, type LeverClaims, type TokenSet } from '@lever-connect/lever';
import type { Logger } from 'pino';
import { nextRefreshAt } from '../refresh/schedule.js';
import type { ConnectionRepo, ConnectionWithTenant, GrantColumns } from '../store/connection-repo.js';
import type { GrantRevoker } from '../tokens/grant-revocation.js';
import { ConnectFlowError, UnusableAccessTokenError } from './errors.js';
import { assertOpen } from './sessions.js';

export interface AuthorizeDeps {
  prisma: PrismaClient;
  repo: Pick<ConnectionRepo, 'storeGrant'>;
  cipher: TokenCipher;
  config: Pick<Config, 'refresh' | 'leverWebhooks' | 'lever'>;
  revoker: Pick<GrantRevoker, 'revoke'>;
  now: () => Date;
}

const include = { tenant: { select: { externalId: true } } } as const;

/** The connection this grant re-authorizes (the session's, or the tenant's one for the same Lever account), if any. */
async function grantTarget(tx: Db, session: ConnectSession, accountId: string): Promise<ConnectionWithTenant | null> {
  if (!session.connectionId) {
    return tx.connection.findFirst({
      where: { tenantId: session.tenantId, environment: session.environment, leverAccountId: accountId, status: { not: 'disconnected' } },
      include,
    });
  }
  const existing = await tx.connection.findUnique({ where: { id: session.connectionId }, include });
  if (!existing || existing.status === 'disconnected') {
    throw new ConnectFlowError('connection_not_found', 'The connection to re-authorize no longer exists', 404);
  }
  if (existing.leverAccountId !== accountId) {
    throw new ConflictError('account_mismatch', 'You signed in to a different Lever account than the one this connection belongs to');
  }
  return existing;
}

/**
 * The claims of the new access token, refused unless it is a Lever JWT for the environment's API audience.
 * Lever signs with a secret we do not have, so nothing here is verified; a token we cannot read or that
 * Lever's API would refuse must not become a connection that fails on its first use.
 */
function usableClaims(accessToken: string, audience: string): LeverClaims {
  let claims: LeverClaims;
  try {
    claims = readLeverClaims(accessToken);
  } catch (error) {
    if (error instanceof UnreadableAccessTokenError) throw new UnusableAccessTokenError('access_token_unreadable');
    throw error;
  }
  if (!claims.audience.includes(audience)) throw new UnusableAccessTokenError('access_token_wrong_audience');
  return claims;
}

/**
 * Stores the tokens of a completed authorization: creates the connection, or re-authorizes the tenant's
 * existing one for the same Lever account and environment in place (same id, version bumped so any
 * in-flight refresh of the old grant loses its fenced write). Connection, tokens, event and the session's
 * consumption commit in one transaction. A refusal of ours (an unusable access token included) revokes the
 * grant Lever created for it.
 */
export async function completeAuthorization(
  deps: AuthorizeDeps,
  sessionId: string,
  tokens: TokenSet,
  options: { log?: Pick<Logger, 'info' | 'warn'> | undefined } = {},
): Promise<{ connection: ConnectionWithTenant; created: boolean }> {
  if (!tokens.refreshToken) {
    throw new ConnectFlowError('no_refresh_token', 'Lever returned no refresh token (offline_access was not granted)', 502);
  }
  const issuedAt = new Date(tokens.expiresAt.getTime() - tokens.expiresInSeconds * 1000);
  const refreshToken = tokens.refreshToken;
  const columns = (id: string, session: ConnectSession, claims: LeverClaims): GrantColumns => ({
    accessTokenCiphertext: deps.cipher.encrypt(tokens.accessToken, { row: id, column: 'accessToken' }),
    refreshTokenCiphertext: deps.cipher.encrypt(refreshToken, { row: id, column: 'refreshToken' }),
    accessTokenExpiresAt: tokens.expiresAt,
    refreshTokenIssuedAt: issuedAt,
    refreshTokenLastUsedAt: issuedAt,
    grantCreatedAt: issuedAt,
    scopes: tokens.scopes,
    leverUserId: claims.userId ?? null,
    nextRefreshAt: nextRefreshAt(tokens.expiresAt, issuedAt, deps.config.refresh),
    // The session's choice, else the deployment's: what the reconcile job subscribes to at Lever.
    leverWebhookEvents: session.leverWebhookEventsChosen ? session.leverWebhookEvents : deps.config.leverWebhooks.events,
  });
  // Learnt inside the transaction; a refusal needs it to revoke the grant at the right Lever.
  const learnt: { environment?: LeverEnvironment } = {};
  try {
    return await deps.prisma.$transaction(async (tx) => {
      // Lock the session row: two callbacks racing for one session consume it once.
      const [locked] = await tx.$queryRaw<ConnectSession[]>`
        SELECT * FROM "connect_sessions" WHERE "id" = ${sessionId}::uuid FOR UPDATE`;
      if (!locked) throw new ConnectFlowError('connect_session_not_found', 'This connect link is not valid', 404);
      learnt.environment = locked.environment;
      assertOpen(locked, deps.now());
      const claims = usableClaims(tokens.accessToken, deps.config.lever.environments[locked.environment].audience);
      const existing = await grantTarget(tx, locked, claims.accountId);
      const id = existing?.id ?? randomUUID();
      const connection = await deps.repo.storeGrant(
        tx,
        existing ? { existingId: id } : { id, tenantId: locked.tenantId, environment: locked.environment, leverAccountId: claims.accountId },
        columns(id, locked, claims),
      );
      await tx.connectSession.update({
        where: { id: sessionId },
        data: { usedAt: deps.now(), resultStatus: 'success', resultConnectionId: connection.id, resultError: null },
      });
      return { connection, created: !existing };
    });
  } catch (error) {
    const refused = isUniqueViolation(error)
      ? new ConflictError('connect_conflict', 'Another authorization for this Lever account completed at the same time; try again')
      : error;
    // Only a refusal of ours is certain to have rolled back; after a driver error the commit may have
    // landed, and revoking would kill the grant we just stored.
    if (refused instanceof AppError && learnt.environment) {
      await deps.revoker.revoke('refused_grant', learnt.environment, refreshToken, { log: options.log });
    }
    throw refused;
  }
}
