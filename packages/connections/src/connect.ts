import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Config, LeverEnvironment } from '@lever-connect/config';
import { randomSecret, sha256Hex, type TokenCipher } from '@lever-connect/crypto';
import type { ConnectSession, PrismaClient } from '@lever-connect/db';
import { isUniqueViolation } from '@lever-connect/db';
import { AppError, ConflictError, ForbiddenError, NotFoundError, ValidationError } from '@lever-connect/errors';
import {
  InvalidTokenResponseError,
  parseTokenResponse,
  readLeverClaims,
  revokeRefreshToken,
  type RevokeOutcome,
  type TokenFailure,
  type TokenSet,
} from '@lever-connect/lever';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
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

/**
 * Lever answered the authorization with an error (`error=access_denied` when the admin declined): a normal
 * end of the flow, shown on the result page; the session stays usable for another try.
 */
export class LeverAuthorizationError extends ConnectFlowError {
  constructor(code: 'access_denied' | 'lever_authorization_error' | 'code_missing') {
    const message = {
      access_denied: 'The authorization was declined in Lever',
      lever_authorization_error: 'Lever answered the authorization with an error',
      code_missing: 'Lever sent neither an authorization code nor an error',
    }[code];
    super(code, message, 400);
  }
}

/** Lever refused the code (`invalid_grant`: reused, expired, or issued for another redirect or verifier). */
export class AuthorizationCodeInvalidError extends ConnectFlowError {
  constructor() {
    super('authorization_code_invalid', 'Lever did not accept the authorization code (already used or expired); start again from the app', 400);
  }
}

/** Lever failed or could not be reached during the code exchange (5xx, timeout, unreadable answer). */
export class CodeExchangeFailedError extends ConnectFlowError {
  constructor(reason: TokenFailure['reason'], status?: number) {
    super('code_exchange_failed', 'Lever could not complete the authorization; try again in a moment', 502, {
      reason,
      ...(status ? { status } : {}),
    });
  }
}

/** Lever refused our OAuth client credentials at the code exchange: the operator's configuration, not the customer. */
export class LeverClientRejectedError extends ConnectFlowError {
  constructor(status?: number) {
    super('lever_client_rejected', "Lever refused lever-connect's OAuth client credentials", 502, status ? { status } : undefined);
  }
}

/** The typed error for a failed code exchange, from the classification of Lever's answer. */
export function codeExchangeError(failure: TokenFailure): ConnectFlowError {
  if (failure.kind === 'permanent') return new AuthorizationCodeInvalidError();
  if (failure.kind === 'operator') return new LeverClientRejectedError(failure.status);
  return new CodeExchangeFailedError(failure.reason, failure.status);
}

/** What the api's OAuth client got from Lever's token endpoint for the code. */
export type CodeExchange = { response: unknown } | { failure: TokenFailure };

/** How one callback ended, for the page (and the returnUrl redirect) to tell. */
export type CallbackOutcome =
  | { status: 'success'; connection: ConnectionWithTenant; created: boolean }
  | {
      status: 'error';
      /** The code for the page, the returnUrl and the session's result. */
      code: string;
      error: unknown;
      /** Lever ended the authorization itself (e.g. declined): a normal end of the flow, not a failed request. */
      byLever: boolean;
    };

export interface CallbackResult {
  /** The session the state named; null when the state was missing or unknown (then nothing was recorded). */
  session: ConnectSession | null;
  /** How the flow was opened (from the state): a redirect goes back to the session's returnUrl. */
  mode: OAuthState['mode'];
  outcome: CallbackOutcome;
}

export interface CallbackInput {
  code?: string | undefined;
  state?: string | undefined;
  error?: string | undefined;
  /** The state cookie this browser got when it started the flow in that environment. */
  stateCookie(environment: LeverEnvironment): string | undefined;
  /**
   * Consumes the state (`consumeBoundState`, atomic: of two racing callbacks one gets it) and exchanges the
   * code at Lever. Throws `state_invalid` when the state is no longer there.
   */
  exchangeCode(session: ConnectSession, environment: LeverEnvironment): Promise<CodeExchange>;
  log?: Pick<Logger, 'info' | 'warn'> | undefined;
}

/** Lever's revocation is best effort: never let it hold a customer's page for long. */
const REVOKE_TIMEOUT_MS = 5_000;

/** Constant-time comparison of a state with the cookie (hashed first, so lengths never leak either). */
function statesMatch(cookie: string | undefined, state: string): boolean {
  if (!cookie) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(cookie), digest(state));
}

const stateInvalid = (why = 'unknown, expired or already used') =>
  new ConnectFlowError('state_invalid', `The state is ${why}`, 400);

export function createConnectService(deps: {
  prisma: PrismaClient;
  redis: Redis;
  prefix: string;
  cipher: TokenCipher;
  config: Pick<Config, 'connect' | 'lever' | 'refresh' | 'publicBaseUrl'>;
  /** Told after a re-authorization replaced a connection's tokens, so other processes drop cached ones. */
  onConnectionChanged?(connectionId: string): Promise<void>;
  /**
   * Ends a grant at Lever that an authorization produced and we threw away (best effort, bounded, never
   * throws). Default: Lever's `/oauth/revoke` for that environment, from `config.lever`.
   */
  revokeRefreshToken?(environment: LeverEnvironment, refreshToken: string): Promise<RevokeOutcome>;
  now?: () => Date;
}) {
  const now = deps.now ?? (() => new Date());
  const stateKey = (state: string) => `${deps.prefix}:oauth-state:${state}`;
  const revoke =
    deps.revokeRefreshToken ??
    ((environment: LeverEnvironment, refreshToken: string) =>
      revokeRefreshToken(deps.config.lever.environments[environment], refreshToken, {
        timeoutMs: Math.min(deps.config.lever.httpTimeoutMs, REVOKE_TIMEOUT_MS),
      }));

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

  /** A reconnect whose connection is gone cannot complete: found out before a grant is created for it. */
  async function assertReconnectable(session: ConnectSession) {
    if (!session.connectionId) return;
    const connection = await deps.prisma.connection.findUnique({ where: { id: session.connectionId }, select: { status: true } });
    if (!connection || connection.status === 'disconnected') {
      throw new ConnectFlowError('connection_not_found', 'The connection to re-authorize no longer exists', 404);
    }
  }

  /**
   * A completed authorization we refuse (account mismatch, a lost race) still created a grant at Lever;
   * end it rather than leave a live refresh-token family nobody holds. Best effort: never fails the flow.
   */
  async function revokeDiscardedGrant(
    environment: LeverEnvironment,
    refreshToken: string,
    log: Pick<Logger, 'info' | 'warn'> | undefined,
  ) {
    let outcome: RevokeOutcome;
    try {
      outcome = await revoke(environment, refreshToken);
    } catch (err) {
      log?.warn({ err, environment }, 'revoking a discarded grant failed; it stays live at Lever');
      return;
    }
    if (outcome.revoked) log?.info({ environment }, 'discarded grant revoked at Lever');
    else log?.warn({ environment, ...outcome }, 'revoking a discarded grant failed; it stays live at Lever');
  }

  const service = {
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
      // The state expires with its session, to the millisecond: the session (30 minutes) is the customer's
      // time to get through Lever's login and consent; a shorter state would fail a slow but valid consent.
      const ttlMs = Math.max(1, session.expiresAt.getTime() - now().getTime());
      const value: OAuthState = { sessionId: session.id, environment: session.environment, mode };
      await deps.redis.set(stateKey(state), JSON.stringify(value), 'PX', ttlMs);
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

    /**
     * Consumes a state only for the browser that started its flow: the state cookie is compared first (in
     * constant time), so a forged or crossed callback cannot burn the customer's state.
     */
    async consumeBoundState(state: string, cookie: string | undefined): Promise<OAuthState | undefined> {
      if (!statesMatch(cookie, state)) return undefined;
      return service.consumeState(state);
    },

    async sessionById(id: string): Promise<ConnectSession | null> {
      return deps.prisma.connectSession.findUnique({ where: { id } });
    },

    /**
     * Runs `GET /oauth/callback`: finds the session from the state, binds the callback to the browser (state
     * cookie), refuses a used or expired session before the code is exchanged (so Lever creates no grant we
     * would throw away), exchanges the code, and stores the connection. Once the session is known, every
     * outcome is returned with it (the page redirects to its returnUrl in redirect mode) and, when the
     * callback is bound to the browser, recorded as the session's result for the button's polling. A callback
     * the browser cannot prove is its own records nothing: anyone holding a state could otherwise write the
     * customer's outcome.
     */
    async handleCallback(input: CallbackInput): Promise<CallbackResult> {
      let session: ConnectSession | null = null;
      let mode: OAuthState['mode'] = 'popup';
      let bound = false;
      try {
        const state = input.state;
        if (!state) throw new ConnectFlowError('state_missing', 'The callback has no state parameter', 400);
        const stored = await service.peekState(state);
        if (!stored) throw stateInvalid();
        session = await service.sessionById(stored.sessionId);
        if (!session) throw stateInvalid();
        mode = stored.mode;
        bound = statesMatch(input.stateCookie(stored.environment), state);
        if (!bound) throw stateInvalid('not the one this browser was given (another browser, or a lost cookie)');
        if (input.error || !input.code) {
          // Lever's error wins over a code sent alongside it (the code is never exchanged); the state is spent.
          await service.consumeState(state);
          throw new LeverAuthorizationError(
            input.error === 'access_denied' ? 'access_denied' : input.error ? 'lever_authorization_error' : 'code_missing',
          );
        }
        try {
          assertOpen(session);
          await assertReconnectable(session);
        } catch (closed) {
          await service.consumeState(state);
          throw closed;
        }
        const exchange = await input.exchangeCode(session, stored.environment);
        if ('failure' in exchange) throw codeExchangeError(exchange.failure);
        let tokens: TokenSet;
        try {
          tokens = parseTokenResponse(exchange.response, now());
        } catch (unreadable) {
          if (unreadable instanceof InvalidTokenResponseError) throw new CodeExchangeFailedError('bad_response');
          throw unreadable;
        }
        const { connection, created } = await service.completeAuthorization(session.id, tokens, { log: input.log });
        return { session, mode, outcome: { status: 'success', connection, created } };
      } catch (error) {
        const code = error instanceof AppError ? error.code : 'internal_error';
        // A state found gone at the exchange lost a race with a duplicate of this callback, which decides
        // the session's outcome: recording this one could make the button's polling settle on it.
        if (session && bound && code !== 'state_invalid') {
          const sessionId = session.id;
          await service.recordError(sessionId, code).catch((recordError: unknown) => {
            input.log?.warn({ err: recordError, sessionId }, 'recording the connect outcome failed');
          });
        }
        return { session, mode, outcome: { status: 'error', code, error, byLever: error instanceof LeverAuthorizationError } };
      }
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
    async completeAuthorization(
      sessionId: string,
      tokens: TokenSet,
      options: { log?: Pick<Logger, 'info' | 'warn'> | undefined } = {},
    ): Promise<{ connection: ConnectionWithTenant; created: boolean }> {
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
      // Learnt inside the transaction; a refusal needs it to revoke the grant at the right Lever.
      const learnt: { environment?: LeverEnvironment } = {};
      try {
        const result = await deps.prisma.$transaction(async (tx) => {
          // Lock the session row: two callbacks racing for one session consume it once.
          const [locked] = await tx.$queryRaw<ConnectSession[]>`
            SELECT * FROM "connect_sessions" WHERE "id" = ${sessionId}::uuid FOR UPDATE`;
          if (!locked) throw new ConnectFlowError('connect_session_not_found', 'This connect link is not valid', 404);
          learnt.environment = locked.environment;
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
        const refused = isUniqueViolation(error)
          ? new ConflictError('connect_conflict', 'Another authorization for this Lever account completed at the same time; try again')
          : error;
        // Only a refusal of ours is certain to have rolled back; after a driver error the commit may have
        // landed, and revoking would kill the grant we just stored.
        if (refused instanceof AppError && learnt.environment) {
          await revokeDiscardedGrant(learnt.environment, refreshToken, options.log);
        }
        throw refused;
      }
    },
  };
  return service;
}

export type ConnectService = ReturnType<typeof createConnectService>;
