import type { Config, LeverEnvironment } from '@lever-connect/config';
import { revokeRefreshToken, type RevokeOutcome } from '@lever-connect/lever';
import type { Logger } from 'pino';

/** Lever's revocation is best effort: never let it hold a customer's page, or a disconnect, for long. */
const REVOKE_TIMEOUT_MS = 5_000;

export type RevokeRefreshToken = (environment: LeverEnvironment, refreshToken: string) => Promise<RevokeOutcome>;

/**
 * Why a grant is ended at Lever: the operator disconnected the connection (or its tenant), or we refused a
 * completed authorization (account mismatch, a lost race, an access token we cannot use).
 */
export type RevocationTrigger = 'disconnect' | 'refused_grant';

/** `revoked`, or why not: Lever's status was an error, it did not answer in time, or it could not be reached. */
export type RevocationResult = 'revoked' | 'http_error' | 'timeout' | 'network_error';

/** Lever's `/oauth/revoke` for that environment, bounded. */
export function leverRevoker(config: Pick<Config, 'lever'>): RevokeRefreshToken {
  return (environment, refreshToken) =>
    revokeRefreshToken(config.lever.environments[environment], refreshToken, {
      timeoutMs: Math.min(config.lever.httpTimeoutMs, REVOKE_TIMEOUT_MS),
    });
}

export interface GrantRevokerDeps {
  revoke: RevokeRefreshToken;
  log: Pick<Logger, 'info' | 'warn'>;
  /** Counts every attempt by trigger and result (the `lever_connect_grant_revocations_total` metric). */
  observe?(trigger: RevocationTrigger, result: RevocationResult): void;
}

/**
 * Ends grants at Lever, best effort: a revocation only tidies up at Lever (deleting our copy of the tokens is
 * what ends our access), so it never throws and never waits longer than the revoker's bound. A failure is
 * logged (never the token) and counted, so an operator can see grants left live at Lever.
 */
export function createGrantRevoker(deps: GrantRevokerDeps) {
  return {
    async revoke(
      trigger: RevocationTrigger,
      environment: LeverEnvironment,
      refreshToken: string,
      context: { connectionId?: string; log?: Pick<Logger, 'info' | 'warn'> | undefined } = {},
    ): Promise<RevocationResult> {
      const log = context.log ?? deps.log;
      const fields = { trigger, environment, ...(context.connectionId ? { connectionId: context.connectionId } : {}) };
      let outcome: RevokeOutcome;
      let thrown: { message: string } | undefined;
      try {
        outcome = await deps.revoke(environment, refreshToken);
      } catch (err) {
        // Lever's revoker never throws; another one might. Its message only: an error may quote its input.
        thrown = { message: err instanceof Error ? err.message : String(err) };
        outcome = { revoked: false, reason: 'network_error' };
      }
      const result: RevocationResult = outcome.revoked ? 'revoked' : outcome.reason;
      deps.observe?.(trigger, result);
      if (outcome.revoked) log.info(fields, 'grant revoked at Lever');
      else log.warn({ ...fields, ...outcome, ...(thrown ? { err: thrown } : {}) }, 'revoking a grant at Lever failed; it stays live there until it ends');
      return result;
    },
  };
}

export type GrantRevoker = ReturnType<typeof createGrantRevoker>;
