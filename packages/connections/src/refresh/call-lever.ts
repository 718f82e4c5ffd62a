import type { LeverEnvironmentConfig } from '@lever-connect/config';
import { TokenRefreshError, type TokenSet } from '@lever-connect/lever';
import type { ConnectionWithTenant } from '../store/connection-repo.js';
import type { RefreshContext } from './context.js';
import { markNeedsReauth, noteInvalidCredentials, recordFailure } from './outcomes.js';
import type { RefreshResult } from './types.js';

/**
 * Holding both guards: sends the refresh token to Lever's token endpoint (bounded by LEVER_HTTP_TIMEOUT_MS).
 * Returns Lever's tokens, or — when Lever refused or could not be reached — the outcome after it was
 * recorded (outcomes.ts): invalid_grant ends the grant, anything else backs off and keeps it.
 */
export async function callLever(
  ctx: RefreshContext,
  connection: ConnectionWithTenant,
  refreshToken: string,
  env: LeverEnvironmentConfig,
): Promise<{ tokens: TokenSet } | { result: RefreshResult }> {
  try {
    return { tokens: await ctx.deps.callLever(env, refreshToken) };
  } catch (error) {
    try {
      if (!(error instanceof TokenRefreshError)) throw error;
      const failure = error.failure;
      if (failure.kind === 'permanent') return { result: { outcome: 'needs_reauth', reason: await markNeedsReauth(ctx, connection, failure) } };
      if (failure.kind === 'operator') await noteInvalidCredentials(ctx, connection);
      const retryInMs = await recordFailure(ctx, connection, failure);
      return { result: { outcome: 'failed', failure, retryInMs } };
    } catch (cause) {
      // Recording the outcome failed. If Lever may have rotated (an unexpected error, an ambiguous
      // failure), keep the lease: the next attempt is then a takeover and counts as ambiguous, so a later
      // invalid_grant reads refresh_response_lost. If Lever surely refused (nothing rotated), free it, so a
      // real revocation is not mislabelled as our loss.
      if (error instanceof TokenRefreshError && !error.failure.ambiguous) {
        await ctx.deps.repo.releaseLease(connection.id, ctx.deps.ownerId).catch(() => undefined);
      }
      throw cause;
    }
  }
}
