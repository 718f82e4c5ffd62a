import { randomBytes, randomUUID } from 'node:crypto';
import type { Config, LeverEnvironment } from '@lever-connect/config';
import { randomSecret, sha256Hex, type TokenCipher } from '@lever-connect/crypto';
import type { ConnectSession, PrismaClient } from '@lever-connect/db';
import { isUniqueViolation } from '@lever-connect/db';
import { AppError, ConflictError, ForbiddenError, NotFoundError, ValidationError } from '@lever-connect/errors';
import { readLeverClaims, type TokenSet } from '@lever-connect/lever';
import type { Redis } from 'ioredis';
import type { ConnectionWithTenant } from './connection-repo.js';
import { writeConnectionEvent } from './events.js';
import { nextRefreshAt } from './schedule.js';
import { upsertTenant } from './tenants.js';

export interface CreateConnectSessionInput {
  tenant: { externalId: string; name?: string | undefined };
  environment?: LeverEnvironment | undefined;
  connectionId?: string | undefined;
  returnUrl?: string | undefined;
}

export interface ConnectResult {
  status: 'pending' | 'success' | 'error';
  connectionId?: string;
  error?: string;
}

/** State bound to one connect session, kept in Redis for the authorize round trip. */
export interface OAuthState {
  sessionId: string;
  environment: LeverEnvironment;
  mode: 'popup' | 'redirect';
}

/** Lever's answer to `/authorize` goes back to a page; these errors are shown there with a code. */
export class ConnectFlowError extends AppError {}

const STATE_MAX_TTL_SECONDS = 600;

export function createConnectService(deps: {
  prisma: PrismaClient;
  redis: Redis;
  prefix: string;
  cipher: TokenCipher;
  config: Pick<Config, 'connect' | 'lever' | 'refresh' | 'publicBaseUrl'>;
  /** Told after a re-authorization replaced a connection's tokens, so other processes drop cached ones. */
  onConnectionChanged?(connectionId: string): Promise<void>;
  now?: () => Date;
}) {
  const now = deps.now ?? (() => new Date());
  const stateKey = (state: string) => `${deps.prefix}:oauth-state:${state}`;

  async function findSession(token: string): Promise<ConnectSession> {
    const session = await deps.prisma.connectSession.findUnique({ where: { tokenHash: sha256Hex(token) } });
    if (!session) throw new ConnectFlowError('connect_session_not_found', 'This connect link is not valid', 404);
    return session;
  }

  function assertOpen(session: ConnectSession) {
    if (session.usedAt) throw new ConnectFlowError('connect_session_used', 'This connect link was already used', 410);
    if (session.expiresAt.getTime() <= now().getTime()) {
      throw new ConnectFlowError('connect_session_expired', 'This connect link has expired; start again from the app', 410);
    }
  }

  return {
    async createSession(input: CreateConnectSessionInput, scope: { tenantExternalId?: string | null } = {}) {
      if (scope.tenantExternalId && scope.tenantExternalId !== input.tenant.externalId) {
        throw new ForbiddenError('A tenant-scoped API key can create connect sessions only for its own tenant');
      }
      if (input.returnUrl !== undefined) {
        let origin: string;
        try {
          origin = new URL(input.returnUrl).origin;
        } catch {
          throw new ValidationError('returnUrl is not a valid URL', { field: 'returnUrl' });
        }
        if (!deps.config.connect.allowedOrigins.includes(origin)) {
          throw new AppError('return_url_not_allowed', `returnUrl origin ${origin} is not in CONNECT_ALLOWED_ORIGINS`, 400, {
            field: 'returnUrl',
          });
        }
      }
      const tenant = await upsertTenant(deps.prisma, input.tenant);
      let environment = input.environment;
      if (input.connectionId) {
        const connection = await deps.prisma.connection.findUnique({ where: { id: input.connectionId } });
        if (!connection || connection.tenantId !== tenant.id || connection.status === 'disconnected') {
          throw new NotFoundError('Connection', { field: 'connectionId' });
        }
        if (environment && environment !== connection.environment) {
          throw new ValidationError(`connection ${connection.id} belongs to the ${connection.environment} environment`, {
            field: 'environment',
          });
        }
        environment = connection.environment;
      }
      environment ??= 'production';
      if (!deps.config.lever.environments[environment].clientId) {
        throw new AppError(
          'environment_not_configured',
          `The ${environment} Lever environment has no OAuth client configured (LEVER_${environment.toUpperCase()}_CLIENT_ID)`,
          400,
          { field: 'environment' },
        );
      }
      const token = randomSecret('cs');
      const expiresAt = new Date(now().getTime() + deps.config.connect.sessionTtlSeconds * 1000);
      const session = await deps.prisma.connectSession.create({
        data: {
          tokenHash: sha256Hex(token),
          tenantId: tenant.id,
          environment,
          connectionId: input.connectionId ?? null,
          returnUrl: input.returnUrl ?? null,
          expiresAt,
        },
      });
      return {
        id: session.id,
        token,
        connectUrl: `${deps.config.publicBaseUrl}/connect/${token}`,
        expiresAt,
        environment,
        tenant: { externalId: tenant.externalId },
      };
    },

    /** Resolves an open session from its token (404 unknown, 410 used or expired). */
    async openSession(token: string): Promise<ConnectSession> {
      const session = await findSession(token);
      assertOpen(session);
      return session;
    },

    /** The outcome for the button's polling (no secrets). Unknown tokens are 404. */
    async sessionResult(token: string): Promise<ConnectResult & { returnUrl: string | null }> {
      const session = await findSession(token);
      const status = (session.resultStatus as ConnectResult['status'] | null) ?? 'pending';
      return {
        status,
        ...(session.resultConnectionId ? { connectionId: session.resultConnectionId } : {}),
        ...(session.resultError ? { error: session.resultError } : {}),
        returnUrl: session.returnUrl,
      };
    },

    /** A fresh, single-use state for one authorize start; each start of the same session gets its own. */
    async issueState(session: ConnectSession, mode: OAuthState['mode'] = 'redirect'): Promise<string> {
      const state = randomBytes(32).toString('base64url');
      const ttl = Math.min(
        STATE_MAX_TTL_SECONDS,
        Math.max(1, Math.floor((session.expiresAt.getTime() - now().getTime()) / 1000)),
      );
      const value: OAuthState = { sessionId: session.id, environment: session.environment, mode };
      await deps.redis.set(stateKey(state), JSON.stringify(value), 'EX', ttl);
      // A new attempt (retry after a denial or a closed popup) makes the outcome pending again, so the
      // button's polling never reads the previous attempt's error as this one's.
      if (session.resultStatus) {
        await deps.prisma.connectSession.updateMany({
          where: { id: session.id, usedAt: null },
          data: { resultStatus: null, resultError: null },
        });
      }
      return state;
    },

    /** Reads a state without consuming it (the callback needs the environment before the exchange). */
    async peekState(state: string): Promise<OAuthState | undefined> {
      if (!/^[A-Za-z0-9_-]{20,100}$/.test(state)) return undefined;
      const raw = await deps.redis.get(stateKey(state));
      return raw ? (JSON.parse(raw) as OAuthState) : undefined;
    },

    /** Consumes a state atomically (GETDEL): a replay finds nothing. */
    async consumeState(state: string): Promise<OAuthState | undefined> {
      if (!/^[A-Za-z0-9_-]{20,100}$/.test(state)) return undefined;
      const raw = await deps.redis.getdel(stateKey(state));
      return raw ? (JSON.parse(raw) as OAuthState) : undefined;
    },

    async sessionById(id: string): Promise<ConnectSession | null> {
      return deps.prisma.connectSession.findUnique({ where: { id } });
    },

    /** Records a failed outcome (denied, Lever error) without consuming the session: the customer may retry. */
    async recordError(sessionId: string, code: string): Promise<void> {
      await deps.prisma.connectSession.updateMany({
        where: { id: sessionId, usedAt: null },
        data: { resultStatus: 'error', resultError: code },
      });
    },

    /**
     * Stores the tokens of a completed authorization: creates the connection, or re-authorizes the tenant's
     * existing one for the same Lever account and environment in place (same id, version bumped so any
     * in-flight refresh of the old grant loses its fenced write). Connection, tokens, event and the
     * session's consumption commit in one transaction.
     */
    async completeAuthorization(sessionId: string, tokens: TokenSet): Promise<{ connection: ConnectionWithTenant; created: boolean }> {
      if (!tokens.refreshToken) {
        throw new ConnectFlowError('no_refresh_token', 'Lever returned no refresh token (offline_access was not granted)', 502);
      }
      const claims = readLeverClaims(tokens.accessToken);
      const issuedAt = new Date(tokens.expiresAt.getTime() - tokens.expiresInSeconds * 1000);
      const refreshToken = tokens.refreshToken;
      const tokenColumns = (id: string) => ({
        accessTokenCiphertext: deps.cipher.encrypt(tokens.accessToken, id),
        refreshTokenCiphertext: deps.cipher.encrypt(refreshToken, id),
        accessTokenExpiresAt: tokens.expiresAt,
        refreshTokenIssuedAt: issuedAt,
        refreshTokenLastUsedAt: issuedAt,
        grantCreatedAt: issuedAt,
        scopes: tokens.scopes,
        leverUserId: claims.userId ?? null,
        nextRefreshAt: nextRefreshAt(tokens.expiresAt, issuedAt, deps.config.refresh),
      });
      const reset = {
        status: 'active' as const,
        reauthReason: null,
        lastRefreshedAt: null,
        lastRefreshError: null,
        lastRefreshFailedAt: null,
        refreshAttemptCount: 0,
        lastAttemptAmbiguous: false,
        failingSince: null,
        refreshFailingNotified: false,
        expiringNotified: false,
        leaseOwner: null,
        leaseExpiresAt: null,
      };
      try {
        const result = await deps.prisma.$transaction(async (tx) => {
          // Lock the session row: two callbacks racing for one session consume it once.
          const [locked] = await tx.$queryRaw<ConnectSession[]>`
            SELECT * FROM "connect_sessions" WHERE "id" = ${sessionId}::uuid FOR UPDATE`;
          if (!locked) throw new ConnectFlowError('connect_session_not_found', 'This connect link is not valid', 404);
          assertOpen(locked);
          const include = { tenant: { select: { externalId: true } } } as const;
          let existing: ConnectionWithTenant | null = null;
          if (locked.connectionId) {
            existing = await tx.connection.findUnique({ where: { id: locked.connectionId }, include });
            if (!existing || existing.status === 'disconnected') {
              throw new ConnectFlowError('connection_not_found', 'The connection to re-authorize no longer exists', 404);
            }
            if (existing.leverAccountId !== claims.accountId) {
              throw new ConflictError(
                'account_mismatch',
                'You signed in to a different Lever account than the one this connection belongs to',
              );
            }
          } else {
            existing = await tx.connection.findFirst({
              where: {
                tenantId: locked.tenantId,
                environment: locked.environment,
                leverAccountId: claims.accountId,
                status: { not: 'disconnected' },
              },
              include,
            });
          }
          let connection: ConnectionWithTenant;
          if (existing) {
            connection = await tx.connection.update({
              where: { id: existing.id },
              data: { ...tokenColumns(existing.id), ...reset, version: { increment: 1 } },
              include,
            });
            await writeConnectionEvent(tx, 'connection.reauthorized', connection);
          } else {
            const id = randomUUID();
            connection = await tx.connection.create({
              data: {
                id,
                tenantId: locked.tenantId,
                environment: locked.environment,
                leverAccountId: claims.accountId,
                ...tokenColumns(id),
                ...reset,
              },
              include,
            });
            await writeConnectionEvent(tx, 'connection.created', connection);
          }
          await tx.connectSession.update({
            where: { id: sessionId },
            data: { usedAt: now(), resultStatus: 'success', resultConnectionId: connection.id, resultError: null },
          });
          return { connection, created: !existing };
        });
        if (!result.created) await deps.onConnectionChanged?.(result.connection.id);
        return result;
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new ConflictError('connect_conflict', 'Another authorization for this Lever account completed at the same time; try again');
        }
        throw error;
      }
    },
  };
}

export type ConnectService = ReturnType<typeof createConnectService>;
