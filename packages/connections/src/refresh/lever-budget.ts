import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';

export interface LeverRateLimiter {
  /**
   * Takes one call to Lever's token endpoint from the global budget, waiting up to `maxWaitMs` for a slot.
   * Returns 0 when taken, at the slot's own time (see `slotAt`), otherwise how long (ms) until the next
   * window opens.
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

/**
 * When slot `index` (0-based, counted across every process) of window `window` may call Lever: the window's
 * slots are spread evenly over it. Without this a catch-up sent each second's whole budget in its first
 * Lever round trip: a sweep starts its claimed refreshes together, so a worker held up to
 * REFRESH_CONCURRENCY rotations in flight at once, and a crash then could cost that many grants (with no
 * reuse leeway). Paced, a catch-up's calls leave evenly over the second (Lever sees a steady rate) and the
 * calls in flight at any instant are the budget × Lever's latency, shared by the workers alive then; no
 * second holds more than the budget either way. What that does to one crash's loss: docs/operating.md.
 */
export function slotAt(window: number, index: number, perSecond: number): number {
  return window * BUDGET_WINDOW_MS + Math.floor((index * BUDGET_WINDOW_MS) / perSecond);
}

// One fixed one-second window per environment, counted in Redis so every process of the deployment shares
// it. A call reserves up to ARGV[2] slots at once and is told how many it got (0 when the window is spent)
// and the index of the first (the slots are consecutive). A refused ask counts nothing: callers have
// different ceilings (a forced refresh's is lower), so a refused forced ask must not eat into what the
// scheduled ones may still take.
const RESERVE = `
local limit, want = tonumber(ARGV[1]), tonumber(ARGV[2])
local before = tonumber(redis.call('GET', KEYS[1]) or '0')
if before >= limit then return { 0, before } end
local got = math.min(want, limit - before)
if redis.call('INCRBY', KEYS[1], got) == got then redis.call('PEXPIRE', KEYS[1], 2000) end
return { got, before }`;

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
export function createLeverRateLimiter(deps: { redis: Redis; prefix: string; perSecond: number; now?: () => number; sleep?: (ms: number) => Promise<unknown> }): LeverRateLimiter {
  const now = deps.now ?? Date.now;
  const wait = deps.sleep ?? ((ms: number) => sleep(ms));
  const batch = reservationSize(deps.perSecond);
  /** Slots this process reserved and has not used yet, per environment (their indexes, lowest first), valid in their window only. */
  const reserved = new Map<string, { window: number; free: number[] }>();
  const takeReserved = (environment: string, window: number): number | undefined => {
    const local = reserved.get(environment);
    if (!local || local.window !== window) return undefined;
    return local.free.shift();
  };
  const keep = (environment: string, window: number, indexes: number[]) => {
    const current = reserved.get(environment);
    // Slots reserved by concurrent callers of this process add up (each was granted by Redis).
    const free = current && current.window === window ? [...current.free, ...indexes].sort((x, y) => x - y) : indexes;
    reserved.set(environment, { window, free });
  };
  /** Taken: returns at the slot's time. */
  const at = async (window: number, index: number): Promise<0> => {
    const delay = slotAt(window, index, deps.perSecond) - now();
    if (delay > 0) await wait(delay);
    return 0;
  };
  const ask = async (environment: string, window: number, limit: number, want: number): Promise<{ got: number; first: number }> => {
    const [got, first] = (await deps.redis.eval(RESERVE, 1, `${deps.prefix}:lever-rate:${environment}:${window}`, limit, want)) as [number, number];
    return { got, first };
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
          const { got, first } = await ask(environment, window, limit, 1);
          if (got > 0) return at(window, first);
        } else {
          const local = takeReserved(environment, window);
          if (local !== undefined) return at(window, local);
          const { got, first } = await ask(environment, window, deps.perSecond, batch);
          if (got > 0) {
            keep(environment, window, Array.from({ length: got - 1 }, (_, i) => first + 1 + i));
            return at(window, first);
          }
          // Redis said the window is spent, but callers of this process that asked at the same time each
          // reserved a batch and may hold slots they do not need: take one of those before refusing. Without
          // this, 50 concurrent asks under a budget of 50 got 25 slots (25 batches of 2) and 25 refusals.
          const spare = takeReserved(environment, window);
          if (spare !== undefined) return at(window, spare);
        }
        const untilNext = (window + 1) * BUDGET_WINDOW_MS - t;
        if (t + untilNext > deadline) return untilNext;
        await new Promise((r) => setTimeout(r, untilNext + Math.floor(Math.random() * 50)));
      }
    },
  };
}
