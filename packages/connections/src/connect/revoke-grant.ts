import type { Config, LeverEnvironment } from '@lever-connect/config';
import { revokeRefreshToken, type RevokeOutcome } from '@lever-connect/lever';
import type { Logger } from 'pino';

/** Lever's revocation is best effort: never let it hold a customer's page for long. */
const REVOKE_TIMEOUT_MS = 5_000;

export type RevokeRefreshToken = (environment: LeverEnvironment, refreshToken: string) => Promise<RevokeOutcome>;

/** Lever's `/oauth/revoke` for that environment, bounded. */
export function leverRevoker(config: Pick<Config, 'lever'>): RevokeRefreshToken {
  return (environment, refreshToken) =>
    revokeRefreshToken(config.lever.environments[environment], refreshToken, {
      timeoutMs: Math.min(config.lever.httpTimeoutMs, REVOKE_TIMEOUT_MS),
    });
}

/**
 * A completed authorization we refuse (account mismatch, a lost race) still created a grant at Lever; end it
 * rather than leave a live refresh-token family nobody holds. Best effort: never throws.
 */
export async function revokeDiscardedGrant(
  revoke: RevokeRefreshToken,
  environment: LeverEnvironment,
  refreshToken: string,
  log: Pick<Logger, 'info' | 'warn'> | undefined,
): Promise<void> {
  let outcome: RevokeOutcome;
  try {
    outcome = await revoke(environment, refreshToken);
  } catch (err) {
    log?.warn({ err, environment }, 'revoking a discarded grant failed; it stays live at Lever');
    return;
  }
  if (outcome.revoked) log?.info({ environment }, 'discarded grant revoked at Lever');
  else log?.warn({ environment, ...outcome }, 'revoking a discarded grant failed; it stays live at Lever');
}
