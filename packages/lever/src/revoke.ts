import type { LeverEnvironmentConfig } from '@lever-connect/config';
import { request } from 'undici';

/**
 * Auth0's revocation endpoint. Lever documents none (LEVER.md): it may or may not exist on Lever's host, so
 * every caller treats a revocation as best effort.
 */
export const REVOKE_PATH = '/oauth/revoke';

/** What became of a best-effort revocation. Never carries the token. */
export type RevokeOutcome =
  | { revoked: true }
  | { revoked: false; reason: 'http_error'; status: number }
  | { revoked: false; reason: 'timeout' | 'network_error' };

export interface RevokeOptions {
  /** One deadline for connect, headers and body, in ms. */
  timeoutMs: number;
}

/**
 * Asks Lever to end the grant behind a refresh token (RFC 7009 as Auth0 implements it: the whole grant, every
 * token of its family). Credentials go in the body (client_secret_post), as for the token endpoint.
 *
 * Never throws and never waits longer than `timeoutMs`: a revocation only tidies up at Lever (a grant we
 * threw away, a disconnected customer); deleting our copy of the tokens is what actually ends our access.
 */
export async function revokeRefreshToken(
  env: Pick<LeverEnvironmentConfig, 'authUrl' | 'clientId' | 'clientSecret'>,
  refreshToken: string,
  options: RevokeOptions,
): Promise<RevokeOutcome> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  try {
    const response = await request(env.authUrl + REVOKE_PATH, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ client_id: env.clientId, client_secret: env.clientSecret, token: refreshToken }).toString(),
      signal,
    });
    // The body is empty on success and OAuth JSON on failure; neither is needed, but it must be read to
    // free the connection.
    await response.body.dump();
    if (response.statusCode >= 200 && response.statusCode < 300) return { revoked: true };
    return { revoked: false, reason: 'http_error', status: response.statusCode };
  } catch {
    return { revoked: false, reason: signal.aborted ? 'timeout' : 'network_error' };
  }
}
