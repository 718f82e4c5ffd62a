import { createHash } from 'node:crypto';
import type { SimContext } from './context.js';
import type { MintAccessToken } from './access-tokens.js';
import { revokeGrant } from './revoke-grant.js';
import type { Grant, IssuedTokens } from './store.js';

export const CODE_TTL_MS = 10 * 60 * 1000;

export type CodeRejection = 'invalid_code' | 'code_reuse' | 'code_expired' | 'client_mismatch' | 'redirect_uri_mismatch' | 'pkce_failed';
export type CodeExchangeOutcome = { ok: true; grant: Grant; tokens: IssuedTokens } | { ok: false; reason: CodeRejection };

export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/**
 * The authorization_code grant. Synchronous from lookup to grant creation, so two exchanges of one code
 * cannot both succeed. Any exchange attempt burns the code, even a failed one: a code is good for one try.
 */
export function exchangeCode(
  ctx: Pick<SimContext, 'store' | 'stats' | 'clock'>,
  input: { clientId: string; code: string; redirectUri: string | undefined; codeVerifier: string | undefined },
  mint: MintAccessToken,
): CodeExchangeOutcome {
  const now = ctx.clock.now();
  const code = ctx.store.findCode(input.code);
  if (!code || code.clientId !== input.clientId) return { ok: false, reason: code ? 'client_mismatch' : 'invalid_code' };
  if (code.used) {
    // Auth0: replaying a code revokes what it produced, because the first exchange may have been a thief's.
    const grant = code.grantId ? ctx.store.findGrant(code.grantId) : undefined;
    if (grant) revokeGrant(ctx, grant, 'code_reuse');
    return { ok: false, reason: 'code_reuse' };
  }
  code.used = true;
  if (now - code.createdAt > CODE_TTL_MS) return { ok: false, reason: 'code_expired' };
  if (input.redirectUri !== code.redirectUri) return { ok: false, reason: 'redirect_uri_mismatch' };
  if (code.codeChallenge !== undefined && (!input.codeVerifier || pkceChallenge(input.codeVerifier) !== code.codeChallenge)) {
    return { ok: false, reason: 'pkce_failed' };
  }
  const grant = ctx.store.createGrant({
    account: code.account,
    userId: code.userId,
    clientId: code.clientId,
    audience: code.audience,
    scope: code.scope,
    createdAt: now,
  });
  code.grantId = grant.id;
  const access = mint(grant);
  const refreshToken = grant.scope.includes('offline_access') ? ctx.store.issueRefreshToken(grant, now) : undefined;
  return { ok: true, grant, tokens: { ...access, ...(refreshToken ? { refreshToken } : {}) } };
}
