import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis connections, one per purpose:
 * - `bullmq`: blocking commands, retries forever (BullMQ requires maxRetriesPerRequest: null).
 * - `command`: locks and short-lived state; fails fast when Redis is down so callers can tell
 *   "Redis unavailable" from "lock busy" instead of hanging.
 */
export function createRedis(url: string, purpose: 'bullmq' | 'command', onError?: (error: Error) => void): Redis {
  const options: RedisOptions =
    purpose === 'bullmq'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : {
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          connectTimeout: 2_000,
          commandTimeout: 3_000,
          // Commands issued in the same tick (locks, stash reads, rate-limit takes of concurrent refreshes) go
          // out in one write: socket writes were the largest share of a refresh's CPU.
          enableAutoPipelining: true,
        };
  const redis = new Redis(url, { ...options, lazyConnect: false, retryStrategy: (times) => Math.min(times * 200, 2_000) });
  // ioredis emits 'error' on every failed reconnect; an unhandled one would crash the process.
  redis.on('error', (error) => onError?.(error));
  return redis;
}
