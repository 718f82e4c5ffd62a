import type { Redis } from 'ioredis';

export interface LeverRateLimiter {
  /**
   * Takes one call to Lever's token endpoint from the global budget, waiting up to `maxWaitMs` for a slot.
   * Returns 0 when taken, otherwise how long (ms) until the next window opens.
   */
  take(environment: string, maxWaitMs: number): Promise<number>;
}

// One fixed one-second window per environment, counted in Redis so every process of the deployment shares it.
const TAKE = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], 2000) end
if n > tonumber(ARGV[1]) then return 1 end
return 0`;

/**
 * The global budget of calls to Lever's token endpoint (REFRESH_RATE_LIMIT_PER_SECOND), for every trigger:
 * scheduled refreshes, refresh on read, forced refreshes. After an outage thousands of connections are due
 * at once; the backlog must drain at a steady rate instead of storming Lever (which would answer 429 and
 * prolong the outage). BullMQ's limiter paces the refresh queue; this one also covers the api's inline
 * refreshes, which BullMQ never sees.
 */
export function createLeverRateLimiter(deps: { redis: Redis; prefix: string; perSecond: number; now?: () => number }): LeverRateLimiter {
  const now = deps.now ?? Date.now;
  return {
    async take(environment, maxWaitMs) {
      const deadline = now() + maxWaitMs;
      for (;;) {
        const t = now();
        const window = Math.floor(t / 1000);
        const over = (await deps.redis.eval(TAKE, 1, `${deps.prefix}:lever-rate:${environment}:${window}`, deps.perSecond)) as number;
        if (over === 0) return 0;
        const wait = (window + 1) * 1000 - t;
        if (t + wait > deadline) return wait;
        await new Promise((r) => setTimeout(r, wait + Math.floor(Math.random() * 50)));
      }
    },
  };
}
