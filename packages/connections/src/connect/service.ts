import type { Config } from '@lever-connect/config';
import type { TokenCipher } from '@lever-connect/crypto';
import type { ConnectSession, PrismaClient } from '@lever-connect/db';
import type { TokenSet } from '@lever-connect/lever';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ConnectionRepo, ConnectionWithTenant } from '../store/connection-repo.js';
import type { GrantRevoker } from '../tokens/grant-revocation.js';
import { completeAuthorization } from './authorize.js';
import { handleCallback, type CallbackInput, type CallbackResult } from './callback.js';
import { createOAuthStateStore, type OAuthState } from './oauth-state.js';
import { createConnectSessions, type CreateConnectSessionInput } from './sessions.js';

export interface ConnectServiceDeps {
  prisma: PrismaClient;
  redis: Redis;
  prefix: string;
  repo: Pick<ConnectionRepo, 'storeGrant'>;
  cipher: TokenCipher;
  config: Pick<Config, 'connect' | 'lever' | 'refresh' | 'publicBaseUrl' | 'leverWebhooks'>;
  /** Told after a re-authorization replaced a connection's tokens, so other processes drop cached ones. */
  onConnectionChanged?(connectionId: string): Promise<void>;
  /** Told after a connection got a new grant, so its first refresh is scheduled. */
  onConnected?(connection: ConnectionWithTenant): Promise<void>;
  /** Ends a grant at Lever that an authorization produced and we threw away (best effort). */
  revoker: Pick<GrantRevoker, 'revoke'>;
  now?: () => Date;
}

/**
 * The "Connect Lever" flow: connect sessions (sessions.ts), OAuth state (oauth-state.ts), the callback
 * (callback.ts) and the authorization it completes (authorize.ts), composed into the one service the api's
 * routes call.
 */
export function createConnectService(deps: ConnectServiceDeps) {
  const now = deps.now ?? (() => new Date());
  const sessions = createConnectSessions({ prisma: deps.prisma, config: deps.config, now });
  const states = createOAuthStateStore({ redis: deps.redis, prefix: deps.prefix });
  const authorizeDeps = { prisma: deps.prisma, repo: deps.repo, cipher: deps.cipher, config: deps.config, revoker: deps.revoker, now };

  const service = {
    createSession: (input: CreateConnectSessionInput, scope: { tenantExternalId?: string | null } = {}) => sessions.create(input, scope),
    openSession: (token: string) => sessions.open(token),
    sessionResult: (token: string) => sessions.result(token),
    sessionById: (id: string) => sessions.byId(id),
    recordError: (sessionId: string, code: string) => sessions.recordError(sessionId, code),

    /** A fresh, single-use state for one authorize start; each start of the same session gets its own. */
    async issueState(session: ConnectSession, mode: OAuthState['mode'] = 'redirect'): Promise<string> {
      // The state expires with its session, to the millisecond: the session (30 minutes) is the customer's
      // time to get through Lever's login and consent; a shorter state would fail a slow but valid consent.
      const state = await states.issue({ sessionId: session.id, environment: session.environment, mode }, session.expiresAt.getTime() - now().getTime());
      await sessions.markPending(session);
      return state;
    },
    peekState: (state: string) => states.peek(state),
    consumeState: (state: string) => states.consume(state),
    consumeBoundState: (state: string, cookie: string | undefined) => states.consumeBound(state, cookie),

    handleCallback: (input: CallbackInput): Promise<CallbackResult> =>
      handleCallback({ states, sessions, complete: (id, tokens, options) => service.completeAuthorization(id, tokens, options), now }, input),

    /**
     * Stores a completed authorization (authorize.ts), then tells other processes (a re-authorization
     * replaced cached tokens) and schedules the first refresh. Scheduling failing is logged, never fails the
     * connect: the row holds next_refresh_at and the reconciler arms it.
     */
    async completeAuthorization(sessionId: string, tokens: TokenSet, options: { log?: Pick<Logger, 'info' | 'warn'> | undefined } = {}) {
      const result = await completeAuthorization(authorizeDeps, sessionId, tokens, options);
      if (!result.created) await deps.onConnectionChanged?.(result.connection.id);
      await deps.onConnected?.(result.connection).catch((err: unknown) => {
        options.log?.warn({ err, connectionId: result.connection.id }, 'scheduling the first refresh failed');
      });
      return result;
    },
  };
  return service;
}

export type ConnectService = ReturnType<typeof createConnectService>;
