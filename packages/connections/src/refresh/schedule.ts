/** Pure scheduling math: when to refresh, how long to back off. Times in ms since the epoch. */

export interface RefreshTiming {
  /** Lead before expiry (REFRESH_LEAD_SECONDS). */
  leadSeconds: number;
  /** Spread (REFRESH_JITTER_SECONDS) so connections made in the same minute do not refresh in the same second. */
  jitterSeconds: number;
}

/**
 * The lead actually used for a token: the configured lead, capped at a third of the token's lifetime so a
 * short-lived token (tests, or Lever shortening lifetimes) still refreshes well before it expires.
 */
export function effectiveLeadMs(lifetimeMs: number, leadSeconds: number): number {
  return Math.max(0, Math.min(leadSeconds * 1000, lifetimeMs / 3));
}

/**
 * When to refresh a token that expires at `expiresAt` and was issued at `issuedAt`. Jitter only moves the
 * time earlier, never later, so the lead is always honoured.
 */
export function nextRefreshAt(
  expiresAt: Date,
  issuedAt: Date,
  timing: RefreshTiming,
  random: () => number = Math.random,
): Date {
  const lifetimeMs = Math.max(0, expiresAt.getTime() - issuedAt.getTime());
  const leadMs = effectiveLeadMs(lifetimeMs, timing.leadSeconds);
  const jitterMs = Math.min(timing.jitterSeconds * 1000, lifetimeMs / 6);
  return new Date(expiresAt.getTime() - leadMs - Math.floor(random() * jitterMs));
}

/**
 * True when the stored access token has less than `minTtlSeconds` left (capped like the lead, at a third of
 * its lifetime).
 */
export function isRefreshDue(
  token: { expiresAt: Date | null; issuedAt: Date | null },
  minTtlSeconds: number,
  now: Date,
): boolean {
  if (!token.expiresAt) return true;
  const issued = token.issuedAt ?? new Date(token.expiresAt.getTime() - 3600_000);
  const lifetimeMs = token.expiresAt.getTime() - issued.getTime();
  return token.expiresAt.getTime() - now.getTime() <= effectiveLeadMs(lifetimeMs, minTtlSeconds);
}

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 5 * 60_000 };

/**
 * Exponential backoff with full jitter (AWS architecture blog), never shorter than Lever's Retry-After.
 * `attempt` counts failures so far (1 after the first).
 */
export function backoffMs(
  attempt: number,
  retryAfterMs: number | undefined,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  const jittered = Math.max(policy.baseMs / 2, Math.floor(random() * ceiling));
  return Math.max(jittered, retryAfterMs ?? 0);
}

export const GRANT_LIFETIME_MS = 365 * 24 * 3600 * 1000;

/** Lever refresh tokens die one year after the grant, whatever their use. */
export function grantExpiresAt(grantCreatedAt: Date): Date {
  return new Date(grantCreatedAt.getTime() + GRANT_LIFETIME_MS);
}
