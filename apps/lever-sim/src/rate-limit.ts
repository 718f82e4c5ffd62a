import type { Clock } from './clock.js';

export interface BucketPolicy {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Bucket size: how many requests may arrive at once. */
  burst: number;
}

/** Lever's published limits (LEVER.md): 10 req/s with bursts of 20 per account; applications 2/s. */
export const API_RATE: BucketPolicy = { ratePerSecond: 10, burst: 20 };
export const APPLICATIONS_RATE: BucketPolicy = { ratePerSecond: 2, burst: 2 };

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimiter {
  take(key: string, policy: BucketPolicy): TakeResult;
  clear(): void;
}

/** Token buckets on the sim clock, so advancing the clock also refills them. */
export function createRateLimiter(clock: Clock): RateLimiter {
  let buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key, policy) {
      const now = clock.now();
      const bucket = buckets.get(key) ?? { tokens: policy.burst, at: now };
      bucket.tokens = Math.min(policy.burst, bucket.tokens + ((now - bucket.at) / 1000) * policy.ratePerSecond);
      bucket.at = now;
      buckets.set(key, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / policy.ratePerSecond)) };
    },
    clear() {
      buckets = new Map();
    },
  };
}
