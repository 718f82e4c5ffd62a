import { randomUUID } from 'node:crypto';
import type { SimContext } from './context.js';
import { signJwt, verifyJwt } from './jwt.js';
import type { Grant, IssuedTokens } from './store.js';

export const CLAIM_ACCOUNT_ID = 'https://oauth.lever.co/accountId';
export const CLAIM_USER_ID = 'https://oauth.lever.co/userId';
export const CLAIM_CLIENT_ID = 'https://oauth.lever.co/clientId';

export type MintAccessToken = (grant: Grant) => Pick<IssuedTokens, 'accessToken' | 'accessTokenExpiresAt'>;

/** Returns a minter bound to the issuer of the current request; records the jti so revocation reaches the token. */
export function accessTokenMinter(ctx: Pick<SimContext, 'clock' | 'config' | 'signingSecret' | 'store'>, issuer: string): MintAccessToken {
  return (grant) => {
    const iat = Math.floor(ctx.clock.now() / 1000);
    const exp = iat + ctx.config.accessTokenTtlSeconds;
    const jti = randomUUID();
    const accessToken = signJwt(
      {
        [CLAIM_ACCOUNT_ID]: grant.account,
        [CLAIM_USER_ID]: grant.userId,
        [CLAIM_CLIENT_ID]: grant.clientId,
        iss: issuer,
        sub: `${grant.userId}@clients`,
        aud: grant.audience,
        iat,
        exp,
        scope: grant.scope.join(' '),
        jti,
      },
      ctx.signingSecret,
    );
    ctx.store.recordAccessToken(jti, grant.id, accessToken);
    return { accessToken, accessTokenExpiresAt: exp * 1000 };
  };
}

export type AccessTokenRejection = 'malformed' | 'expired' | 'wrong_audience' | 'revoked' | 'unknown';
export type AccessTokenCheck =
  | { ok: true; grant: Grant; claims: Record<string, unknown> }
  | { ok: false; reason: AccessTokenRejection; account?: string };

/**
 * Checks an access token as Lever's API does: our signature, not expired on the sim clock, meant for this
 * API (`audience`, when given), and its grant still live.
 */
export function checkAccessToken(
  ctx: Pick<SimContext, 'clock' | 'signingSecret' | 'store'>,
  token: string,
  audience?: string,
): AccessTokenCheck {
  const claims = verifyJwt(token, ctx.signingSecret);
  if (!claims || typeof claims.jti !== 'string' || typeof claims.exp !== 'number') return { ok: false, reason: 'malformed' };
  const account = typeof claims[CLAIM_ACCOUNT_ID] === 'string' ? (claims[CLAIM_ACCOUNT_ID] as string) : undefined;
  const fail = (reason: AccessTokenRejection): AccessTokenCheck => ({ ok: false, reason, ...(account ? { account } : {}) });
  if (audience !== undefined && claims.aud !== audience) return fail('wrong_audience');
  if (claims.exp * 1000 <= ctx.clock.now()) return fail('expired');
  const grant = ctx.store.grantOfAccessToken(claims.jti);
  if (!grant) return fail('unknown');
  if (grant.status !== 'active') return fail('revoked');
  return { ok: true, grant, claims };
}
