import type { Redis } from 'ioredis';

export interface LeverRateLimiter {
  /**
   * Takes one call to Lever's token endpoint from the global budget, waiting up to `maxWaitMs` for a slot.
   * Returns 0 when taken, otherwise how long (ms) until the next window opens.
   */
  take(environment: string, maxWaitMs: number, options?: { forced?: boolean }): Promise<number>;
}

/**
 * The share of each second's budget a forced or manual refresh may use: scheduled refreshes (and reads of
 * tokens close to expiry) keep the rest, so a burst of forced refreshes cannot hold them back.
 */
export const FORCED_SHARE = 0.5;

/** The budget counts calls per fixed window of this length (wall clock, aligned to whole seconds). */
export const BUDGET_WINDOW_MS = 1_000;

// One fixed one-second window per environment, counted in Redis so every process of the deployment shares
// it. A call reserves up to ARGV[2] slots at once and is told how many it got (0 when the window is spent).
// A refused ask counts nothing: callers have different ceilings (a forced refresh's is lower), so a refused
// forced ask must not eat into what the scheduled ones may still take.
const RESERVE = `
local limit, want = tonumber(ARGV[1]), tonumber(ARGV[2])
local before = tonumber(redis.call('GET', KEYS[1]) or '0')
if before >= limit then return 0 end
local got = math.min(want, limit - before)
if redis.call('INCRBY', KEYS[1], got) == got then redis.call('PEXPIRE', KEYS[1], 2000) end
return got`;

/**
 * How many slots one Redis call reserves: a twentieth of the budget (at most 50). A busy worker then asks
 * Redis once per that many refreshes instead of once per refresh; the price is that slots a process reserved
 * and did not use in its window are lost to the others (the budget is never exceeded, only under-used, and
 * by little: with the default 50/s a process reserves 2 at a time).
 */
export function reservationSize(perSecond: number): number {
  return Math.max(1, Math.min(50, Math.floor(perSecond / 20)));
}

/**
 * The global budget of calls to Lever's token endpoint (REFRESH_RATE_LIMIT_PER_SECOND), for every trigger:
 * scheduled refreshes, refresh on read, forced refreshes. After an outage thousands of connections are due
 * at once; the backlog must drain at a steady rate instead of storming Lever (which would answer 429 and
 * prolong the outage). BullMQ's limiter paces the refresh queue; this one also covers the api's inline
 * refreshes, which BullMQ never sees.
 */
export function createLeverRateLimiter(deps: { redis: Redis; prefix: string; perSecond: number; now?: () => number }): LeverRateLimiter {
  const now = deps.now ?? Date.now;
  const batch = reservationSize(deps.perSecond);
  /** Slots this process reserved and has not used yet, per environment, valid in their window only. */
  const reserved = new Map<string, { window: number; left: number }>();
  const takeReserved = (environment: string, window: number): boolean => {
    const local = reserved.get(environment);
    if (!local || local.window !== window || local.left === 0) return false;
    local.left--;
    return true;
  };
  return {
    async take(environment, maxWaitMs, options = {}) {
      const deadline = now() + maxWaitMs;
      // A forced refresh asks Redis for one slot under a lower ceiling, never from this process's batch.
      const limit = options.forced ? Math.max(1, Math.floor(deps.perSecond * FORCED_SHARE)) : deps.perSecond;
      for (;;) {
        const t = now();
        const window = Math.floor(t / BUDGET_WINDOW_MS);
        if (options.forced) {
          const got = (await deps.redis.eval(RESERVE, 1, `${deps.prefix}:lever-rate:${environment}:${window}`, limit, 1)) as number;
          if (got > 0) return 0;
          const wait = (window + 1) * BUDGET_WINDOW_MS - t;
          if (t + wait > deadline) return wait;
          await new Promise((r) => setTimeout(r, wait + Math.floor(Math.random() * 50)));
          continue;
        }
        if (takeReserved(environment, window)) return 0;
        const got = (await deps.redis.eval(RESERVE, 1, `${deps.prefix}:lever-rate:${environment}:${window}`, deps.perSecond, batch)) as number;
        if (got > 0) {
          // Slots reserved by concurrent callers of this process add up (each was granted by Redis).
          const current = reserved.get(environment);
          const carried = current && current.window === window ? current.left : 0;
          reserved.set(environment, { window, left: carried + got - 1 });
          return 0;
        }
        // Redis said the window is spent, but callers of this process that asked at the same time each
        // reserved a batch and may hold slots they do not need: take one of those before refusing. Without
        // this, 50 concurrent asks under a budget of 50 got 25 slots (25 batches of 2) and 25 refusals.
        if (takeReserved(environment, window)) return 0;
        const wait = (window + 1) * BUDGET_WINDOW_MS - t;
        if (t + wait > deadline) return wait;
        await new Promise((r) => setTimeout(r, wait + Math.floor(Math.random() * 50)));
      }
    },
  };
}
