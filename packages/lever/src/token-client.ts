import type { LeverEnvironmentConfig } from '@lever-connect/config';
import { classifyTokenFailure, type TokenFailure } from './classify-error.js';
import { InvalidTokenResponseError, parseTokenResponse, type TokenSet } from './token-set.js';

/** A refresh that Lever (or the network) refused; `failure` says what to do about it. */
export class TokenRefreshError extends Error {
  readonly code = 'lever_refresh_failed';
  constructor(readonly failure: TokenFailure) {
    super(`Lever refresh failed: ${failure.kind} (${failure.reason}${failure.status ? `, HTTP ${failure.status}` : ''})`);
    this.name = 'TokenRefreshError';
  }
}

export interface TokenClientOptions {
  timeoutMs: number;
  now?: () => Date;
}

/** Errors thrown by fetch before any byte was written (the request certainly did not reach Lever). */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function requestWasSent(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string } } | undefined)?.cause;
  return !(cause?.code && NOT_SENT_CODES.has(cause.code));
}

/**
 * Calls Lever's token endpoint with the refresh_token grant. Credentials go in the body
 * (client_secret_post), as Lever documents.
 */
export async function refreshAccessToken(
  env: Pick<LeverEnvironmentConfig, 'authUrl' | 'tokenPath' | 'clientId' | 'clientSecret'>,
  refreshToken: string,
  options: TokenClientOptions,
): Promise<TokenSet> {
  const now = options.now ?? (() => new Date());
  let response: Response;
  try {
    response = await fetch(env.authUrl + env.tokenPath, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: env.clientId,
        client_secret: env.clientSecret,
        refresh_token: refreshToken,
      }),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    throw new TokenRefreshError(classifyTokenFailure({ type: 'network', error, requestSent: requestWasSent(error) }));
  }
  let body: unknown;
  try {
    const text = await response.text();
    body = text ? JSON.parse(text) : undefined;
  } catch (error) {
    if (response.ok) {
      // Lever answered 200 but we could not read it: it has rotated, we lost the new token.
      throw new TokenRefreshError({ kind: 'transient', reason: 'timeout', ambiguous: true, status: response.status });
    }
    body = undefined;
    void error;
  }
  if (!response.ok) {
    throw new TokenRefreshError(
      classifyTokenFailure({ type: 'http', status: response.status, body, retryAfter: response.headers.get('retry-after') }),
    );
  }
  try {
    return parseTokenResponse(body, now());
  } catch (error) {
    if (error instanceof InvalidTokenResponseError) {
      throw new TokenRefreshError({ kind: 'transient', reason: 'bad_response', ambiguous: true, status: response.status });
    }
    throw error;
  }
}
