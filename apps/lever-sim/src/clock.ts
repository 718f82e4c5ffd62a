/**
 * The simulator's notion of "now": real time plus an offset that only moves forward. Every expiry
 * (codes, access tokens, refresh-token idle and absolute lifetimes, rate-limit buckets) reads this clock,
 * so a test can jump 90 days ahead with `POST /__sim/clock` instead of waiting.
 */
export interface Clock {
  /** Milliseconds since the epoch, sim time. */
  now(): number;
  /** Moves sim time forward; negative values are refused because expiries must never un-happen. */
  advance(seconds: number): void;
  /** Back to real time (used by `/__sim/reset`). */
  reset(): void;
  offsetMs(): number;
}

export function createClock(realNow: () => number = Date.now): Clock {
  let offset = 0;
  return {
    now: () => realNow() + offset,
    advance(seconds) {
      if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError('advanceSeconds must be a number >= 0');
      offset += seconds * 1000;
    },
    reset() {
      offset = 0;
    },
    offsetMs: () => offset,
  };
}
