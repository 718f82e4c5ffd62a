import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis connections, one per purpose:
 * - `bullmq`: blocking commands, retries forever (BullMQ requires maxRetriesPerRequest: null).
 * - `command`: locks and short-lived state; once connected, fails fast when Redis is down so callers can
 *   tell "Redis unavailable" from "lock busy" instead of hanging.
 */
export function createRedis(url: string, purpose: 'bullmq' | 'command', onError?: (error: Error) => void): Redis {
  const options: RedisOptions =
    purpose === 'bullmq'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : {
          maxRetriesPerRequest: 1,
          // Until the first connect, commands wait for it (within the retry limit): a process's first lock or
          // stash read, issued while the socket is still opening, must not read as "Redis is down". After
          // that, fail fast (set below).
          enableOfflineQueue: true,
          connectTimeout: 2_000,
          commandTimeout: 3_000,
          // Commands issued in the same tick (locks, stash reads, rate-limit takes of concurrent refreshes) go
          // out in one write: socket writes were the largest share of a refresh's CPU.
          enableAutoPipelining: true,
        };
  const redis = new Redis(url, { ...options, lazyConnect: false, retryStrategy: (times) => Math.min(times * 200, 2_000) });
  // ioredis emits 'error' on every failed reconnect; an unhandled one would crash the process.
  redis.on('error', (error) => onError?.(error));
  // ioredis reads this option on every command.
  if (purpose === 'command') redis.once('ready', () => (redis.options.enableOfflineQueue = false));
  return redis;
}
