import { deleteRedisPrefix, randomRedisPrefix, TEST_REDIS_URL } from '@lever-connect/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLeverRateLimiter, reservationSize, slotAt } from '../src/refresh/lever-budget.js';

// Two limiters on one Redis are two processes of one deployment sharing the global Lever budget.
describe('global Lever budget', () => {
  const prefix = randomRedisPrefix();
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    await deleteRedisPrefix(prefix);
    redis.disconnect();
  });

  /** The pauses a limiter made before its slots (no real waiting: the tests' clocks are fixed). */
  function recordedSleep() {
    const pauses: number[] = [];
    return { pauses, sleep: async (ms: number) => void pauses.push(ms) };
  }

  function countingRedis() {
    let evals = 0;
    const counted = new Proxy(redis, {
      get(target, key, receiver) {
        if (key === 'eval') return (...args: Parameters<Redis['eval']>) => (evals++, target.eval(...args));
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    return { redis: counted, evals: () => evals };
  }

  it('never grants more than the budget per window across processes, and reserves slots in batches', async () => {
    let clock = Math.ceil(Date.now() / 1000) * 1000 + 10_000_000; // a window no earlier run has touched
    const now = () => clock;
    const a = countingRedis();
    const b = countingRedis();
    const limiterA = createLeverRateLimiter({ redis: a.redis, prefix, perSecond: 100, now, sleep: recordedSleep().sleep });
    const limiterB = createLeverRateLimiter({ redis: b.redis, prefix, perSecond: 100, now, sleep: recordedSleep().sleep });
    expect(reservationSize(100)).toBe(5);

    const granted = { a: 0, b: 0 };
    for (let i = 0; i < 60; i++) {
      if ((await limiterA.take('production', 0)) === 0) granted.a++;
      if ((await limiterB.take('production', 0)) === 0) granted.b++;
    }
    expect(granted.a + granted.b).toBe(100);
    expect(granted).toEqual({ a: 50, b: 50 });
    // 10 reservations of 5 each, then one refused ask per further take.
    expect(a.evals()).toBe(10 + 10);

    // Refused: the wait is the time to the next window.
    clock += 250;
    expect(await limiterA.take('production', 0)).toBe(750);
    // The next window has a fresh budget; other environments have their own.
    clock += 750;
    expect(await limiterA.take('production', 0)).toBe(0);
    expect(await limiterB.take('sandbox', 0)).toBe(0);
  });

  it('gives concurrent callers of one process every slot their batches reserved before refusing any', async () => {
    let clock = Math.ceil(Date.now() / 1000) * 1000 + 40_000_000;
    const now = () => clock;
    const { sleep } = recordedSleep();
    const limiter = createLeverRateLimiter({ redis, prefix, perSecond: 50, now, sleep });
    expect(reservationSize(50)).toBe(2);
    // A sweep starts its claimed refreshes at once: 60 asks in flight together under a budget of 50.
    const waits = await Promise.all(Array.from({ length: 60 }, () => limiter.take('production', 0)));
    expect(waits.filter((w) => w === 0)).toHaveLength(50);
    expect(waits.filter((w) => w > 0)).toEqual(Array.from({ length: 10 }, () => 1000));
    // Nothing is left over, locally or at Redis, for this window; the next one is whole again.
    expect(await limiter.take('production', 0)).toBe(1000);
    clock += 1000;
    const next = await Promise.all(Array.from({ length: 50 }, () => limiter.take('production', 0)));
    expect(next.every((w) => w === 0)).toBe(true);
  });

  it('grants one slot per call when the budget is small', async () => {
    const clock = Math.ceil(Date.now() / 1000) * 1000 + 20_000_000;
    const limiter = createLeverRateLimiter({ redis, prefix, perSecond: 2, now: () => clock, sleep: recordedSleep().sleep });
    expect(reservationSize(2)).toBe(1);
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await limiter.take('production', 0));
    expect(results[0]).toBe(0);
    expect(results[1]).toBe(0);
    expect(results[2]).toBeGreaterThan(0);
  });

  it('lets forced refreshes take only half of a window, so the scheduled ones always keep the rest', async () => {
    let clock = Math.ceil(Date.now() / 1000) * 1000 + 30_000_000;
    const now = () => clock;
    const limiter = createLeverRateLimiter({ redis, prefix, perSecond: 10, now, sleep: recordedSleep().sleep });
    const forcedFirst = [];
    for (let i = 0; i < 8; i++) forcedFirst.push(await limiter.take('production', 0, { forced: true }));
    expect(forcedFirst.filter((w) => w === 0)).toHaveLength(5);
    let scheduled = 0;
    for (let i = 0; i < 8; i++) if ((await limiter.take('production', 0)) === 0) scheduled++;
    expect(scheduled).toBe(5);

    // The other way round: scheduled refreshes use the whole window, a forced one waits for the next.
    clock += 1000;
    scheduled = 0;
    for (let i = 0; i < 12; i++) if ((await limiter.take('production', 0)) === 0) scheduled++;
    expect(scheduled).toBe(10);
    expect(await limiter.take('production', 0, { forced: true })).toBe(1000);
  });

  it("spreads a window's slots evenly over it, across processes: a burst of asks leaves at the budget's pace", async () => {
    const start = Math.ceil(Date.now() / 1000) * 1000 + 50_000_000;
    const clock = start;
    const here = recordedSleep();
    const there = recordedSleep();
    const a = createLeverRateLimiter({ redis, prefix, perSecond: 50, now: () => clock, sleep: here.sleep });
    const b = createLeverRateLimiter({ redis, prefix, perSecond: 50, now: () => clock, sleep: there.sleep });
    // A catch-up: two workers' sweeps start 30 refreshes each at the window's start, under a budget of 50.
    const waits = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? b : a).take('production', 0)));
    expect(waits.filter((w) => w === 0)).toHaveLength(50);
    // Slot k of the window goes at k × 20 ms: each of the 50 slots once, whichever process holds it; slot 0
    // (and only it) goes at once.
    const offsets = [...here.pauses, ...there.pauses].sort((x, y) => x - y);
    expect(offsets).toEqual(Array.from({ length: 49 }, (_, k) => (k + 1) * 20));
    expect(slotAt(start / 1000, 49, 50) - start).toBe(980);
  });

  it('does not hold back an ask whose slot time has passed: a quiet window lets a late call go at once', async () => {
    let clock = Math.ceil(Date.now() / 1000) * 1000 + 60_000_000;
    const { pauses, sleep } = recordedSleep();
    const limiter = createLeverRateLimiter({ redis, prefix, perSecond: 50, now: () => clock, sleep });
    clock += 900; // slot 0 of this window was at +0 ms, slot 1 at +20: both are past
    expect(await limiter.take('production', 0)).toBe(0);
    expect(await limiter.take('production', 0)).toBe(0);
    expect(pauses).toEqual([]);
    // A third, with slots 0 and 1 taken, is due at +40 ms: past too.
    expect(await limiter.take('production', 0, { forced: true })).toBe(0);
    expect(pauses).toEqual([]);
  });
});
