import { AppError } from '@lever-connect/errors';
import type { TokenFailure } from '@lever-connect/lever';

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

/**
 * Lever answered the code exchange with an access token we cannot use: not a JWT carrying a Lever account
 * (`access_token_unreadable`), or minted for another audience than Lever's API of the environment
 * (`access_token_wrong_audience`: production Lever does that when `audience` is missing). Lever created a
 * grant all the same; the caller revokes it.
 */
export class UnusableAccessTokenError extends ConnectFlowError {
  constructor(code: 'access_token_unreadable' | 'access_token_wrong_audience') {
    const message = {
      access_token_unreadable: "Lever's access token is not a readable Lever token (no JWT with a Lever account id); nothing was connected",
      access_token_wrong_audience: "Lever's access token is not meant for Lever's API (wrong audience); nothing was connected",
    }[code];
    super(code, message, 502);
  }
}

/** The typed error for a failed code exchange, from the classification of Lever's answer. */
export function codeExchangeError(failure: TokenFailure): ConnectFlowError {
  if (failure.kind === 'permanent') return new AuthorizationCodeInvalidError();
  if (failure.kind === 'operator') return new LeverClientRejectedError(failure.status);
  return new CodeExchangeFailedError(failure.reason, failure.status);
}

/** The callback's state is unknown, expired, used, or not this browser's. */
export const stateInvalid = (why = 'unknown, expired or already used') =>
  new ConnectFlowError('state_invalid', `The state is ${why}`, 400);
