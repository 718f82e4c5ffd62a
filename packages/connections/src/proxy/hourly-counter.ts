import type { Redis } from 'ioredis';

const HOUR_MS = 3600_000;

/** One hour of a count: `hour` is the start of the hour (UTC). */
export interface HourCount {
  hour: Date;
  count: number;
}

/** The starts of the last `hours` hours, oldest first, the current (partial) hour last. */
export function lastHourStarts(now: Date, hours: number): Date[] {
  const current = Math.floor(now.getTime() / HOUR_MS);
  return Array.from({ length: hours }, (_, i) => new Date((current - hours + 1 + i) * HOUR_MS));
}

/**
 * A count per hour in Redis, shared by every process: one key per hour (`INCR`, expiring a day and an hour
 * later), so reading the last 24 h is one MGET. What the proxy uses it for (Lever's 429s, for the console)
 * is a Prometheus counter too; this one exists because a counter per process cannot be read back as "the
 * last 24 hours, across the fleet" without Prometheus. Losing it (Redis flushed) loses a chart, nothing else.
 */
export function createHourlyCounter(deps: { redis: Pick<Redis, 'multi' | 'mget'>; key: string; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  const keyOf = (hourStart: Date) => `${deps.key}:${Math.floor(hourStart.getTime() / HOUR_MS)}`;
  return {
    /** Counts one, fire and forget: a Redis failure must never fail the call being counted. */
    increment(): void {
      const key = keyOf(now());
      deps.redis
        .multi()
        .incr(key)
        .pexpire(key, 25 * HOUR_MS)
        .exec()
        .catch(() => undefined);
    },

    /** The last `hours` hours, oldest first; hours never counted are 0. */
    async lastHours(hours = 24): Promise<HourCount[]> {
      const starts = lastHourStarts(now(), hours);
      const values = await deps.redis.mget(...starts.map(keyOf));
      return starts.map((hour, i) => ({ hour, count: Number(values[i] ?? 0) }));
    },
  };
}

export type HourlyCounter = ReturnType<typeof createHourlyCounter>;
