import type { LeverEnvironment } from '@lever-connect/config';
import type { TokenFailure } from '@lever-connect/lever';
import { connectionEvent } from '../store/connection-events.js';
import type { ConnectionWithTenant } from '../store/connection-repo.js';
import type { RefreshContext } from './context.js';
import { backoffMs, DEFAULT_BACKOFF } from './schedule.js';

/**
 * What a refresh Lever refused writes: a transient failure backs off and keeps the grant (recordFailure),
 * Lever's invalid_grant ends it (markNeedsReauth), a refused client secret is the operator's
 * (noteInvalidCredentials). DESIGN.md invariant 3.
 */

/** Records a transient failure by the lease holder and frees the lease; returns the backoff (ms). */
export async function recordFailure(ctx: RefreshContext, connection: ConnectionWithTenant, failure: TokenFailure): Promise<number> {
  const { deps, now } = ctx;
  const attempt = connection.refreshAttemptCount + 1;
  // Never back off longer than a third of the token's lifetime: short tokens must still be refreshed
  // soon after Lever comes back (the global rate limit, not the backoff, protects Lever from a storm).
  const lifetimeMs =
    connection.accessTokenExpiresAt && connection.refreshTokenIssuedAt
      ? connection.accessTokenExpiresAt.getTime() - connection.refreshTokenIssuedAt.getTime()
      : 3600_000;
  const retryInMs = backoffMs(attempt, failure.retryAfterMs, {
    ...DEFAULT_BACKOFF,
    capMs: Math.max(DEFAULT_BACKOFF.baseMs, Math.min(DEFAULT_BACKOFF.capMs, lifetimeMs / 3)),
  });
  const failingSince = connection.failingSince ?? now();
  const failingLongEnough = now().getTime() - failingSince.getTime() >= deps.config.refresh.failingAfterSeconds * 1000;
  const notify = failingLongEnough && !connection.refreshFailingNotified;
  await deps.repo.recordFailure(
    connection.id,
    deps.ownerId,
    {
      attempt,
      at: now(),
      reason: failure.reason,
      ambiguous: failure.ambiguous,
      failingSince,
      nextRefreshAt: new Date(now().getTime() + retryInMs),
      failingNotified: notify,
    },
    // Written only if the row was ours to write (a reconnect or delete meanwhile says what happened itself).
    // Every attempt's failure is an event (the console charts refreshes and failures from the outbox);
    // refresh_failing is the once-per-episode notice webhooks subscribe to by default.
    [
      connectionEvent('connection.refresh_failed', connection, { reason: failure.reason }),
      ...(notify ? [connectionEvent('connection.refresh_failing', connection, { reason: failure.reason })] : []),
    ],
  );
  return retryInMs;
}

/** Lever says the grant is gone: the customer must reconnect. Returns the reason recorded. */
export async function markNeedsReauth(ctx: RefreshContext, connection: ConnectionWithTenant, failure: TokenFailure): Promise<string> {
  // We sent a refresh whose answer never came; Lever rotated, so our token was dead: our loss, not a
  // customer's revocation, and it is reported as such.
  const reason = connection.lastAttemptAmbiguous ? 'refresh_response_lost' : 'invalid_grant';
  const written = await ctx.deps.repo.fencedUpdate(
    connection.id,
    connection.version,
    {
      status: 'needs_reauth',
      reauthReason: reason,
      lastRefreshFailedAt: ctx.now(),
      lastRefreshError: failure.description ? `invalid_grant: ${failure.description}` : 'invalid_grant',
      nextRefreshAt: null,
      leaseOwner: null,
      leaseExpiresAt: null,
    },
    [connectionEvent('connection.needs_reauth', { ...connection, status: 'needs_reauth' }, { reason })],
  );
  if (written) await ctx.deps.onChanged?.(connection.id);
  return reason;
}

/** Lever refused our client credentials: the operator's configuration, never blamed on the customer. */
export async function noteInvalidCredentials(ctx: RefreshContext, connection: ConnectionWithTenant): Promise<void> {
  const env = connection.environment as LeverEnvironment;
  ctx.deps.log.error(
    { connectionId: connection.id, environment: env },
    'Lever rejected our OAuth client credentials: check LEVER_*_CLIENT_ID/SECRET (connections are kept)',
  );
  await ctx.deps.appCredentials.rejected(env, ctx.deps.config.lever.environments[env].clientId);
}
