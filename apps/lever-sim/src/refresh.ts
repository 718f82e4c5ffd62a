import type { MintAccessToken } from './access-tokens.js';
import type { SimContext } from './context.js';
import { lifetimeRejection, type LifetimeRejection } from './grant-lifetime.js';
import { revokeGrant } from './revoke-grant.js';
import type { Grant, IssuedTokens } from './store.js';

export type RefreshRejection =
  | 'unknown_refresh_token'
  | 'client_mismatch'
  | 'grant_revoked'
  | 'refresh_token_reuse'
  | LifetimeRejection;

export type RefreshOutcome =
  | { ok: true; grant: Grant; tokens: IssuedTokens; replayed: boolean }
  | { ok: false; reason: RefreshRejection; grant?: Grant };

/**
 * The refresh_token grant with rotation and reuse detection. Everything from the lookup to the rotation
 * happens in one synchronous call: of N simultaneous refreshes with one token exactly one rotates, and the
 * others find a rotated token, which is reuse and revokes the grant — the behaviour lever-connect's
 * refresh lock exists to avoid.
 */
export function refreshGrant(
  ctx: Pick<SimContext, 'store' | 'stats' | 'clock' | 'config'>,
  input: { clientId: string; refreshToken: string },
  mint: MintAccessToken,
): RefreshOutcome {
  const now = ctx.clock.now();
  const record = ctx.store.findRefreshToken(input.refreshToken);
  const grant = record ? ctx.store.findGrant(record.grantId) : undefined;
  if (!record || !grant) return { ok: false, reason: 'unknown_refresh_token' };
  if (grant.clientId !== input.clientId) return { ok: false, reason: 'client_mismatch', grant };
  if (grant.status !== 'active') return { ok: false, reason: 'grant_revoked', grant };

  if (record.status === 'rotated') {
    const leewayMs = ctx.config.reuseLeewaySeconds * 1000;
    const rotatedAt = record.rotatedAt ?? 0;
    if (leewayMs > 0 && record.successor && !record.leewayUsed && now - rotatedAt <= leewayMs) {
      // A replay hands out the successor issued at the rotation, so it is bound by the same lives as that
      // successor: a long leeway must not stretch a grant past its year or its 90 idle days.
      const expired = lifetimeRejection(grant, rotatedAt, now);
      if (expired) return { ok: false, reason: expired, grant };
      // Leeway replay hands back the refresh token the rotation issued (the client most likely lost that
      // response) without rotating again, so the successor stays the family's live token; the access token is
      // minted afresh, as a client retrying seconds or minutes later needs one that has not expired.
      record.leewayUsed = true;
      return { ok: true, grant, tokens: { ...mint(grant), refreshToken: record.successor.refreshToken }, replayed: true };
    }
    revokeGrant(ctx, grant, 'refresh_token_reuse');
    ctx.stats.increment('refreshTokenReuse');
    return { ok: false, reason: 'refresh_token_reuse', grant };
  }
  const expired = lifetimeRejection(grant, record.issuedAt, now);
  if (expired) return { ok: false, reason: expired, grant };

  record.status = 'rotated';
  record.rotatedAt = now;
  const refreshToken = ctx.store.issueRefreshToken(grant, now);
  grant.refreshCount++;
  const tokens: IssuedTokens = { ...mint(grant), refreshToken };
  // Kept only when a replay can be honoured: a long benchmark would otherwise hold every access token ever issued.
  if (ctx.config.reuseLeewaySeconds > 0) record.successor = tokens;
  return { ok: true, grant, tokens, replayed: false };
}
