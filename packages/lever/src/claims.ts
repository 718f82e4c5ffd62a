import { decodeJwt } from 'jose';

/** Lever's custom claims (../shared/LEVER.md). */
export const LEVER_CLAIMS = {
  accountId: 'https://oauth.lever.co/accountId',
  userId: 'https://oauth.lever.co/userId',
  clientId: 'https://oauth.lever.co/clientId',
} as const;

export interface LeverClaims {
  /** The Lever account: the natural key that recognises a reconnect of the same account. */
  accountId: string;
  userId: string | undefined;
  clientId: string | undefined;
  audience: string[];
  scopes: string[];
}

export class UnreadableAccessTokenError extends Error {
  readonly code = 'lever_unreadable_access_token';
  constructor(message: string) {
    super(message);
    this.name = 'UnreadableAccessTokenError';
  }
}

/**
 * Reads the claims of a Lever access token. Lever signs with HS512 and a secret we do not have, so the
 * signature cannot be verified here; the token came straight from Lever's token endpoint over TLS.
 */
export function readLeverClaims(accessToken: string): LeverClaims {
  let payload: Record<string, unknown>;
  try {
    payload = decodeJwt(accessToken);
  } catch {
    throw new UnreadableAccessTokenError('the access token is not a JWT');
  }
  const accountId = payload[LEVER_CLAIMS.accountId];
  if (typeof accountId !== 'string' || !accountId) {
    throw new UnreadableAccessTokenError('the access token carries no Lever account id');
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const aud = payload.aud;
  return {
    accountId,
    userId: str(payload[LEVER_CLAIMS.userId]),
    clientId: str(payload[LEVER_CLAIMS.clientId]),
    audience: Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : aud ? [String(aud)] : [],
    scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
  };
}
