/** Lever's two API audiences (LEVER.md); the trailing slash is part of the value. */
export const PRODUCTION_AUDIENCE = 'https://api.lever.co/v1/';
export const SANDBOX_AUDIENCE = 'https://api.sandbox.lever.co/v1/';

export type SimMode = 'production' | 'sandbox';
export type ApiEnvironment = 'production' | 'sandbox';

export const API_AUDIENCE: Record<ApiEnvironment, string> = {
  production: PRODUCTION_AUDIENCE,
  sandbox: SANDBOX_AUDIENCE,
};

/**
 * The audience a token is minted for. Production Lever without `audience` "silently fails": Auth0 issues a
 * token for its own userinfo endpoint, which no Lever API accepts. The sandbox tolerates the omission
 * (that is why Lever's Postman collection works there), so sandbox mode fills in the sandbox audience.
 */
export function effectiveAudience(requested: string | undefined, mode: SimMode, issuer: string): string {
  if (requested) return requested;
  return mode === 'sandbox' ? SANDBOX_AUDIENCE : `${issuer}userinfo`;
}

/** True when the token is for one of Lever's APIs (and not the useless userinfo audience). */
export function isApiAudience(audience: string): boolean {
  return audience === PRODUCTION_AUDIENCE || audience === SANDBOX_AUDIENCE;
}
