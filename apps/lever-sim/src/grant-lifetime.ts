import type { Grant, Store } from './store.js';

const DAY_MS = 86_400_000;
/** Lever: a refresh token lives 1 year from the authorization at most (LEVER.md). */
export const REFRESH_ABSOLUTE_LIFETIME_MS = 365 * DAY_MS;
/** ...and dies after 90 days without use. Each rotation issues a fresh token, so "use" = its issue time. */
export const REFRESH_IDLE_LIFETIME_MS = 90 * DAY_MS;

export type LifetimeRejection = 'refresh_token_expired' | 'refresh_token_idle_expired';

/**
 * Whether a grant's refresh-token family is past either life: 1 year after the authorization, or 90 days
 * after `lastUseAt` (when the token the client holds was issued). Used by a refresh, by a leeway replay
 * (whose answer is the successor issued at the rotation) and by `liveGrants`, so all three agree.
 */
export function lifetimeRejection(grant: Grant, lastUseAt: number, now: number): LifetimeRejection | undefined {
  if (now - grant.createdAt > REFRESH_ABSOLUTE_LIFETIME_MS) return 'refresh_token_expired';
  if (now - lastUseAt > REFRESH_IDLE_LIFETIME_MS) return 'refresh_token_idle_expired';
  return undefined;
}

/** A grant that a refresh could still extend: active, with a refresh token (offline_access), within both lives. */
export function isRefreshable(store: Pick<Store, 'findRefreshToken'>, grant: Grant, now: number): boolean {
  if (grant.status !== 'active' || grant.currentRefreshToken === undefined) return false;
  const record = store.findRefreshToken(grant.currentRefreshToken);
  return record !== undefined && lifetimeRejection(grant, record.issuedAt, now) === undefined;
}

/** `liveGrants` of /__sim/stats. Scans every grant: stats are read by tests, not on a hot path. */
export function countRefreshableGrants(store: Pick<Store, 'listGrants' | 'findRefreshToken'>, now: number): number {
  let live = 0;
  for (const grant of store.listGrants()) if (isRefreshable(store, grant, now)) live++;
  return live;
}
