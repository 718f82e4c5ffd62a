import type { LeverEnvironment, LeverEnvironmentConfig } from '@lever-connect/config';
import type { TokenFailure } from '@lever-connect/lever';
import type { ConnectionWithTenant } from '../store/connection-repo.js';
import { callLever } from './call-lever.js';
import { createRefreshContext, type RefreshContext, type RefresherDeps } from './context.js';
import { BUDGET_WINDOW_MS } from './lever-budget.js';
import { LockBusyError, LockUnavailableError, type LockHandle } from './locks.js';
import { markNeedsReauth } from './outcomes.js';
import { applyStash, scheduleNext, storeAnswer } from './persist.js';
import { backoffMs, isRefreshDue } from './schedule.js';
import type { Attempt, ClaimedConnection, Refresher, RefreshOptions, RefreshResult } from './types.js';

/** A claimed connection whose lock is busy or whose dependencies are away is not due again before this. */
const CLAIMED_RECHECK_MS = 5_000;
/**
 * How long the sweep waits for the lock of a connection it claimed. A token read that holds it lets go as
 * soon as it finds our lease (LEASE_RECHECK_MS), so the wait is short; a real holder outlasts it.
 */
const CLAIMED_LOCK_WAIT_MS = 1_000;
/** How often a reader holding the lock but not the lease looks again. */
const LEASE_RECHECK_MS = 100;
/** How long a read may wait for a slot in the global Lever budget. */
const READ_RATE_WAIT_MS = 2_000;
/** The wake-up for a dead holder's lease comes this long after the lease ends (the database's clock decides). */
const LEASE_WAKE_SLACK_MS = 1_000;
/** A sweep the budget stopped wakes up within this much after the next window opens (processes do not all knock at once). */
const SWEEP_THROTTLE_SPREAD_MS = 50;
const NO_REFRESH_TOKEN: TokenFailure = { kind: 'permanent', reason: 'invalid_grant', description: 'no refresh token stored (offline_access missing)', ambiguous: false };

/*
 * One refresh of one connection. Lever revokes the whole grant when a refresh token is used twice, so
 * Lever is only ever called holding two guards: the connection's Redis lock (Redlock, extended while
 * working) and a short lease on its row in Postgres (the lock vanishes if Redis is flushed or fails over;
 * the lease does not). The two entry points take them in opposite orders, each after the same checks:
 *
 *   refresh (read, manual):  switches → lock → re-read → stash? → due? → budget → lease       ┐
 *   refreshClaimed (sweep):  [switches: once per sweep] → lease + re-read (the sweep's claim)  ├→ underGuards:
 *                            → lock → stash? → refresh token? → budget                         ┘  takeover grace →
 *                                                                                                  call Lever (call-lever.ts) →
 *                                                                                                  store + schedule (persist.ts) →
 *                                                                                                  release
 *
 * A reader that holds the lock and finds a sweep's lease lets go and looks again, so neither order can
 * deadlock the other. Arming the next wake-up and releasing the lock go out together (the written row
 * already says when it is due).
 */

/** Why no attempt can start (switched off, fenced, fence unreadable), or undefined. */
async function checkSwitches(ctx: RefreshContext): Promise<RefreshResult | undefined> {
  if (!ctx.deps.config.refresh.enabled) return { outcome: 'disabled' };
  try {
    if (!(await ctx.deps.fence.isOwner())) return { outcome: 'fenced' };
  } catch {
    return { outcome: 'unavailable', dependency: 'database', retryInMs: backoffMs(3, undefined) };
  }
  return undefined;
}

/**
 * Takes the connection's Redis lock and runs `attempt` under it; releases the lock when the attempt's work
 * is done (after a write still retrying, alongside arming the next wake-up). `noLock` answers when the lock
 * could not be had.
 */
async function withLock(
  ctx: RefreshContext,
  connectionId: string,
  waitMs: number,
  attempt: (lock: LockHandle) => Promise<Attempt>,
  noLock: (result: RefreshResult) => Promise<RefreshResult> = async (r) => r,
): Promise<RefreshResult> {
  const { deps } = ctx;
  let lock: LockHandle;
  const lockStarted = Date.now();
  try {
    lock = await deps.locks.acquire(connectionId, { waitMs });
    deps.observeLockWait?.('acquired', Date.now() - lockStarted);
  } catch (error) {
    if (error instanceof LockBusyError) {
      deps.observeLockWait?.('busy', Date.now() - lockStarted);
      return noLock({ outcome: 'busy' });
    }
    if (error instanceof LockUnavailableError) {
      deps.observeLockWait?.('unavailable', Date.now() - lockStarted);
      return noLock({ outcome: 'unavailable', dependency: 'redis', retryInMs: backoffMs(3, undefined) });
    }
    throw error;
  }
  let done: Attempt | undefined;
  try {
    done = await attempt(lock);
    return done.result;
  } catch (error) {
    deps.log.warn({ connectionId, err: error }, 'refresh interrupted by a dependency failure');
    return { outcome: 'unavailable', dependency: 'database', retryInMs: backoffMs(3, undefined) };
  } finally {
    if (done?.pending) void done.pending.catch(() => undefined).finally(() => lock.release());
    else await Promise.all([lock.release(), done?.alongside]);
  }
}

/** Read path, holding the lock: re-read, then the checks before the lease, then the lease. */
async function lockThenLease(ctx: RefreshContext, connectionId: string, options: RefreshOptions, lock: LockHandle): Promise<Attempt> {
  const { deps, now } = ctx;
  const connection = await deps.repo.findById(connectionId);
  if (!connection) return { result: { outcome: 'not_found' } };
  if (connection.status !== 'active') return { result: { outcome: 'inactive', status: connection.status } };
  const applied = await applyStash(ctx, connection);
  if (applied) return applied;
  if (options.onlyIfVersion !== undefined && connection.version !== options.onlyIfVersion) return { result: { outcome: 'not_due', connection } };
  const due =
    // A sweep fires at next_refresh_at, which jitter moved earlier than expiry − lead: honour it, or the
    // refresh would come back "not due" until the jitter is spent.
    (options.trigger === 'schedule' && connection.nextRefreshAt !== null && connection.nextRefreshAt <= now()) ||
    isRefreshDue(
      { expiresAt: connection.accessTokenExpiresAt, issuedAt: connection.refreshTokenIssuedAt },
      options.trigger === 'read' ? deps.config.refresh.tokenMinTtlSeconds : deps.config.refresh.leadSeconds,
      now(),
    );
  if (!options.force && !due) return { result: { outcome: 'not_due', connection } };
  const refreshToken = connection.refreshTokenCiphertext ? deps.cipher.decrypt(connection.refreshTokenCiphertext, { row: connection.id, column: 'refreshToken' }) : undefined;
  if (!refreshToken) return { result: { outcome: 'needs_reauth', reason: await markNeedsReauth(ctx, connection, NO_REFRESH_TOKEN) } };
  const env = deps.config.lever.environments[connection.environment as LeverEnvironment];
  // A forced or manual refresh asked for by a caller gets only part of each second's budget: the scheduled
  // ones (whatever their reason to force) keep priority.
  const forced = options.trigger !== 'schedule' && (options.force === true || options.trigger === 'manual');
  const wait = await deps.rateLimiter.take(env.environment, options.trigger === 'schedule' ? 0 : READ_RATE_WAIT_MS, { forced });
  if (wait > 0) return { result: { outcome: 'throttled', retryInMs: wait + Math.floor(Math.random() * 1_000) } };

  const lease = await deps.repo.claimLease(connection.id, connection.version, deps.ownerId, ctx.leaseTtlMs);
  if (!lease) return { result: { outcome: 'busy' }, leaseHeld: true };
  // The claim made the row due when the lease runs out; a sweep must wake then, should this process die with
  // Lever's answer in flight (its reuse leeway is the only way back to the grant). Armed before Lever is called.
  await scheduleNext(ctx, { ...connection, nextRefreshAt: new Date(now().getTime() + ctx.leaseTtlMs + LEASE_WAKE_SLACK_MS) });
  return underGuards(ctx, { ...connection, lastAttemptAmbiguous: lease.lastAttemptAmbiguous }, lease.tookOver, refreshToken, env, options, lock);
}

/** Sweep path, holding the lease its claim took (with the row re-read) and now the lock: the checks before Lever. */
async function leaseThenLock(ctx: RefreshContext, claimed: ClaimedConnection, lock: LockHandle): Promise<Attempt> {
  const { deps, now } = ctx;
  const { connection } = claimed;
  let refreshToken: string;
  let env: LeverEnvironmentConfig;
  try {
    const applied = await applyStash(ctx, connection);
    if (applied) return applied;
    if (!connection.refreshTokenCiphertext) return { result: { outcome: 'needs_reauth', reason: await markNeedsReauth(ctx, connection, NO_REFRESH_TOKEN) } };
    env = deps.config.lever.environments[connection.environment as LeverEnvironment];
    const wait = await deps.rateLimiter.take(env.environment, 0);
    if (wait > 0) {
      // Due again the instant the next budget window opens, not at a random point inside it: wake-ups are
      // per second (scheduler.wakeAt), so a row due inside a window waited for the one after, and the last
      // connections of a catch-up trickled over three seconds at half the budget. Only the wake-up (which the
      // sweep moves by retryInMs) is spread a little, so it never runs before these rows are due.
      // (Rounded down to the window's start: `wait` was measured a moment before this clock read.)
      const windowOpens = new Date(Math.floor((now().getTime() + wait) / BUDGET_WINDOW_MS) * BUDGET_WINDOW_MS);
      await deps.repo.releaseLease(connection.id, deps.ownerId, windowOpens).catch(() => undefined);
      return { result: { outcome: 'throttled', retryInMs: wait + Math.floor(Math.random() * SWEEP_THROTTLE_SPREAD_MS) } };
    }
    refreshToken = deps.cipher.decrypt(connection.refreshTokenCiphertext, { row: connection.id, column: 'refreshToken' });
  } catch (error) {
    // Nothing was sent to Lever: the lease must not outlive this attempt (a takeover would count as ambiguous).
    await deps.repo.releaseLease(connection.id, deps.ownerId).catch(() => undefined);
    throw error;
  }
  return underGuards(ctx, connection, claimed.tookOver, refreshToken, env, { trigger: 'schedule' }, lock);
}

/** Waits out a takeover grace, then checks that the previous holder's write did not land meanwhile. */
async function afterTakeover(ctx: RefreshContext, connection: ConnectionWithTenant, signal: AbortSignal): Promise<boolean> {
  await new Promise((r) => setTimeout(r, ctx.takeoverGraceMs));
  if (signal.aborted) return false;
  const current = await ctx.deps.repo.leaseState(connection.id);
  return current?.version === connection.version && current.leaseOwner === ctx.deps.ownerId;
}

/** Holding both guards, whichever order took them: call Lever, then store what it answered (or record why not). */
async function underGuards(
  ctx: RefreshContext,
  connection: ConnectionWithTenant,
  tookOver: boolean,
  refreshToken: string,
  env: LeverEnvironmentConfig,
  options: RefreshOptions,
  lock: LockHandle,
): Promise<Attempt> {
  const releaseLease = () => ctx.deps.repo.releaseLease(connection.id, ctx.deps.ownerId).catch(() => undefined);
  if ((tookOver && !(await afterTakeover(ctx, connection, lock.signal))) || lock.signal.aborted) {
    await releaseLease();
    return { result: { outcome: 'busy' } };
  }
  const answer = await callLever(ctx, connection, refreshToken, env);
  if ('result' in answer) return { result: answer.result };
  return storeAnswer(ctx, connection, answer.tokens, refreshToken, env, options.trigger);
}

export function createRefresher(deps: RefresherDeps): Refresher {
  const ctx = createRefreshContext(deps);

  return {
    async refresh(connectionId, options) {
      const started = Date.now();
      const deadline = started + (options.waitMs ?? 0);
      let result = await checkSwitches(ctx);
      while (!result) {
        let leaseHeld = false;
        const attempt = await withLock(ctx, connectionId, Math.max(0, deadline - Date.now()), async (lock) => {
          const a = await lockThenLease(ctx, connectionId, options, lock);
          leaseHeld = a.leaseHeld === true;
          return a;
        });
        // A sweep claims the lease before it takes the lock: holding the lock, we would keep it from the
        // refresh it claimed. Let go, give it a moment, and look again (it refreshed, or it gave the lease back).
        if (attempt.outcome === 'busy' && leaseHeld && Date.now() + LEASE_RECHECK_MS < deadline) {
          await new Promise((r) => setTimeout(r, LEASE_RECHECK_MS));
          continue;
        }
        result = attempt;
      }
      deps.observe?.(result, options.trigger, Date.now() - started);
      return result;
    },

    async refreshClaimed(claimed) {
      const started = Date.now();
      const { connection } = claimed;
      // Nothing went to Lever: free the lease, and keep the sweep off this connection for a moment.
      const giveBack = async (result: RefreshResult) => {
        const recheckMs = result.outcome === 'unavailable' ? result.retryInMs : CLAIMED_RECHECK_MS;
        await deps.repo.releaseLease(connection.id, deps.ownerId, new Date(ctx.now().getTime() + recheckMs)).catch(() => undefined);
        return result;
      };
      const result = await withLock(ctx, connection.id, CLAIMED_LOCK_WAIT_MS, (lock) => leaseThenLock(ctx, claimed, lock), giveBack);
      deps.observe?.(result, 'schedule', Date.now() - started);
      return result;
    },

    blocked: () => checkSwitches(ctx),

    async drain() {
      await Promise.allSettled([...ctx.inflightWrites]);
    },

    stop() {
      ctx.stopping = true;
    },
  };
}
