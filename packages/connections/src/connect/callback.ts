import type { LeverEnvironment } from '@lever-connect/config';
import type { ConnectSession } from '@lever-connect/db';
import { AppError } from '@lever-connect/errors';
import { InvalidTokenResponseError, parseTokenResponse, type TokenFailure, type TokenSet } from '@lever-connect/lever';
import type { Logger } from 'pino';
import type { ConnectionWithTenant } from '../store/connection-repo.js';
import { codeExchangeError, CodeExchangeFailedError, ConnectFlowError, LeverAuthorizationError, stateInvalid } from './errors.js';
import { statesMatch, type OAuthState, type OAuthStateStore } from './oauth-state.js';
import { assertOpen, type ConnectSessions } from './sessions.js';

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

export interface CallbackDeps {
  states: Pick<OAuthStateStore, 'peek' | 'consume'>;
  sessions: Pick<ConnectSessions, 'byId' | 'recordError' | 'assertReconnectable'>;
  complete(
    sessionId: string,
    tokens: TokenSet,
    options: { log?: Pick<Logger, 'info' | 'warn'> | undefined },
  ): Promise<{ connection: ConnectionWithTenant; created: boolean }>;
  now: () => Date;
}

/** What the callback learnt before the exchange; `bound` once the browser proved the state is its own. */
interface Progress {
  session: ConnectSession | null;
  mode: OAuthState['mode'];
  bound: boolean;
}

/**
 * The checks before a code is exchanged: the state names a session, the callback is this browser's (state
 * cookie), Lever sent a code and no error, and the session may still complete. A used or expired session is
 * refused here, so Lever creates no grant we would throw away. Returns the state's environment.
 */
async function checkBeforeExchange(deps: CallbackDeps, input: CallbackInput, progress: Progress): Promise<LeverEnvironment> {
  const state = input.state;
  if (!state) throw new ConnectFlowError('state_missing', 'The callback has no state parameter', 400);
  const stored = await deps.states.peek(state);
  if (!stored) throw stateInvalid();
  progress.session = await deps.sessions.byId(stored.sessionId);
  if (!progress.session) throw stateInvalid();
  progress.mode = stored.mode;
  progress.bound = statesMatch(input.stateCookie(stored.environment), state);
  if (!progress.bound) throw stateInvalid('not the one this browser was given (another browser, or a lost cookie)');
  if (input.error || !input.code) {
    // Lever's error wins over a code sent alongside it (the code is never exchanged); the state is spent.
    await deps.states.consume(state);
    throw new LeverAuthorizationError(input.error === 'access_denied' ? 'access_denied' : input.error ? 'lever_authorization_error' : 'code_missing');
  }
  try {
    assertOpen(progress.session, deps.now());
    await deps.sessions.assertReconnectable(progress.session);
  } catch (closed) {
    await deps.states.consume(state);
    throw closed;
  }
  return stored.environment;
}

/**
 * Runs `GET /oauth/callback`: checks the callback (checkBeforeExchange), exchanges the code, and stores the
 * connection. Once the session is known, every outcome is returned with it (the page redirects to its
 * returnUrl in redirect mode) and, when the callback is bound to the browser, recorded as the session's
 * result for the button's polling. A callback the browser cannot prove is its own records nothing: anyone
 * holding a state could otherwise write the customer's outcome.
 */
export async function handleCallback(deps: CallbackDeps, input: CallbackInput): Promise<CallbackResult> {
  const progress: Progress = { session: null, mode: 'popup', bound: false };
  try {
    const environment = await checkBeforeExchange(deps, input, progress);
    const session = progress.session!;
    const exchange = await input.exchangeCode(session, environment);
    if ('failure' in exchange) throw codeExchangeError(exchange.failure);
    let tokens: TokenSet;
    try {
      tokens = parseTokenResponse(exchange.response, deps.now());
    } catch (unreadable) {
      if (unreadable instanceof InvalidTokenResponseError) throw new CodeExchangeFailedError('bad_response');
      throw unreadable;
    }
    const { connection, created } = await deps.complete(session.id, tokens, { log: input.log });
    return { session, mode: progress.mode, outcome: { status: 'success', connection, created } };
  } catch (error) {
    const code = error instanceof AppError ? error.code : 'internal_error';
    const { session, bound, mode } = progress;
    // A state found gone at the exchange lost a race with a duplicate of this callback, which decides the
    // session's outcome: recording this one could make the button's polling settle on it.
    if (session && bound && code !== 'state_invalid') {
      await deps.sessions.recordError(session.id, code).catch((recordError: unknown) => {
        input.log?.warn({ err: recordError, sessionId: session.id }, 'recording the connect outcome failed');
      });
    }
    return { session, mode, outcome: { status: 'error', code, error, byLever: error instanceof LeverAuthorizationError } };
  }
}
