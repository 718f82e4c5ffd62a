import type { LeverEnvironmentConfig } from '@lever-connect/config';
import { Agent, request } from 'undici';
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

/** Errors raised before any byte was written (the request certainly did not reach Lever). */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function requestWasSent(error: unknown): boolean {
  const e = error as { code?: string; cause?: { code?: string } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  return !(code && NOT_SENT_CODES.has(code));
}

/**
 * One keep-alive pool per process for Lever's token endpoint. undici's `request` rather than the global
 * fetch: fetch's WHATWG streams and AbortSignal plumbing were ~10 % of a refresh's CPU in the profile.
 */
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 256 });

class LeverTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer from Lever's token endpoint within ${ms} ms`);
    this.name = 'TimeoutError';
  }
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
  // One deadline for connect, headers and body: the Postgres lease is sized on it (refresh.ts).
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new LeverTimeoutError(options.timeoutMs)), options.timeoutMs);
  let status: number;
  let retryAfter: string | null;
  let text: string;
  try {
    const response = await request(env.authUrl + env.tokenPath, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: env.clientId,
        client_secret: env.clientSecret,
        refresh_token: refreshToken,
      }).toString(),
      signal: controller.signal,
    });
    status = response.statusCode;
    const header = response.headers['retry-after'];
    retryAfter = (Array.isArray(header) ? header[0] : header) ?? null;
    try {
      text = await response.body.text();
    } catch (error) {
      if (status >= 200 && status < 300) {
        // Lever answered 200 but the body never arrived whole: it has rotated, we lost the new token.
        throw new TokenRefreshError({ kind: 'transient', reason: 'timeout', ambiguous: true, status });
      }
      text = '';
      void error;
    }
  } catch (error) {
    if (error instanceof TokenRefreshError) throw error;
    const cause = controller.signal.aborted ? controller.signal.reason : error;
    throw new TokenRefreshError(classifyTokenFailure({ type: 'network', error: cause, requestSent: requestWasSent(error) }));
  } finally {
    clearTimeout(timer);
  }
  const ok = status >= 200 && status < 300;
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch (error) {
    if (ok) {
      // Lever answered 200 but we could not read it: it has rotated, we lost the new token.
      throw new TokenRefreshError({ kind: 'transient', reason: 'timeout', ambiguous: true, status });
    }
    body = undefined;
    void error;
  }
  if (!ok) throw new TokenRefreshError(classifyTokenFailure({ type: 'http', status, body, retryAfter }));
  try {
    return parseTokenResponse(body, now());
  } catch (error) {
    if (error instanceof InvalidTokenResponseError) {
      throw new TokenRefreshError({ kind: 'transient', reason: 'bad_response', ambiguous: true, status });
    }
    throw error;
  }
}
