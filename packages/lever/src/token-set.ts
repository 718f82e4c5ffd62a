/** What Lever's token endpoint answers on success, normalised. Lever sends no absolute expiry. */
export interface TokenSet {
  accessToken: string;
  /** Absent only when the grant lacks offline_access. */
  refreshToken: string | undefined;
  tokenType: string;
  scopes: string[];
  /** now + expires_in, computed when the response arrived. */
  expiresAt: Date;
  expiresInSeconds: number;
}

export class InvalidTokenResponseError extends Error {
  readonly code = 'lever_invalid_token_response';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTokenResponseError';
  }
}

export function parseTokenResponse(body: unknown, receivedAt: Date): TokenSet {
  if (typeof body !== 'object' || body === null) throw new InvalidTokenResponseError('token response is not an object');
  const b = body as Record<string, unknown>;
  if (typeof b.access_token !== 'string' || b.access_token.length === 0) {
    throw new InvalidTokenResponseError('token response has no access_token');
  }
  const raw = Number(b.expires_in ?? 3600);
  if (!Number.isFinite(raw)) throw new InvalidTokenResponseError('token response has a bad expires_in');
  // A 200 whose access token is already expired (expires_in 0 or less) still carries the grant's new refresh
  // token, which Lever has made the only live one: it must be stored, not dropped as a bad answer. The access
  // token is then treated as expired now, so the next refresh follows at once.
  const expiresIn = Math.max(0, raw);
  return {
    accessToken: b.access_token,
    refreshToken: typeof b.refresh_token === 'string' && b.refresh_token ? b.refresh_token : undefined,
    tokenType: typeof b.token_type === 'string' ? b.token_type : 'Bearer',
    scopes: typeof b.scope === 'string' ? b.scope.split(' ').filter(Boolean) : [],
    expiresAt: new Date(receivedAt.getTime() + expiresIn * 1000),
    expiresInSeconds: expiresIn,
  };
}
