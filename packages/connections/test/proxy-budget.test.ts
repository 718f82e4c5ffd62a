import { deleteRedisPrefix, randomRedisPrefix, TEST_REDIS_URL } from '@lever-connect/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAccountBudget, type AccountBudget, type BudgetClass } from '../src/index.js';

const api: BudgetClass = { name: 'api', ratePerSecond: 10, burst: 20 };
const applications: BudgetClass = { name: 'applications', ratePerSecond: 2, burst: 2 };

/** The granted turns' offsets from the first, ms (Redis's clock: allow a few ms of drift between calls). */
const turns = (results: Array<{ granted: boolean; waitMs?: number }>) => results.map((r) => (r.granted ? r.waitMs! : -1));

describe("a Lever account's budget in Redis (budget.ts)", () => {
  const prefix = randomRedisPrefix();
  let redis: Redis;
  let other: Redis;
  let budget: AccountBudget;
  let elsewhere: AccountBudget;
  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
    other = new Redis(TEST_REDIS_URL);
    budget = createAccountBudget({ redis, prefix });
    // A second process: its own connection, the same keys.
    elsewhere = createAccountBudget({ redis: other, prefix });
  });
  afterAll(async () => {
    redis.disconnect();
    other.disconnect();
    await deleteRedisPrefix(prefix);
  });

  it('lets 15 of Lever\'s burst of 20 go at once, then one turn per 100 ms, never more than 16 in any second, first come first served', async () => {
    const at: number[] = [];
    // Alternating between two "processes": one queue, in arrival order.
    for (let i = 0; i < 40; i++) {
      const turn = await (i % 2 ? elsewhere : budget).reserve('production:acct_burst', [api], 30_000);
      expect(turn.granted).toBe(true);
      at.push(Date.now() + (turn.granted ? turn.waitMs : 0));
    }
    const first = at[0]!;
    // A quarter of Lever's burst is kept as slack for calls that reach Lever bunched (effectiveLimits).
    expect(at.slice(0, 15).every((t) => t - first <= 50)).toBe(true);
    expect(at[15]! - first).toBeGreaterThanOrEqual(90);
    for (let i = 1; i < at.length; i++) expect(at[i]! + 5).toBeGreaterThanOrEqual(at[i - 1]!); // never out of order
    // Any second holds at most 16 turns (a few ms of slack: Redis's clock and ours are read apart).
    for (const t of at) expect(at.filter((s) => s >= t && s < t + 990).length).toBeLessThanOrEqual(16);
    // Then the steady rate: 97.5 % of Lever's 10 a second (effectiveLimits).
    expect(at[39]! - first).toBeGreaterThanOrEqual(2450);
    expect(at[39]! - first).toBeLessThanOrEqual(2700);
  });

  it('refuses a turn further away than the caller will wait, and takes nothing for it', async () => {
    for (let i = 0; i < 16; i++) await budget.reserve('production:acct_full', [api], 30_000);
    const refused = await budget.reserve('production:acct_full', [api], 50);
    expect(refused).toMatchObject({ granted: false });
    expect(refused.granted === false && refused.retryInMs).toBeGreaterThan(50);
    // Nothing was reserved: the next caller willing to wait gets the turn the refused one would have had.
    const next = await budget.reserve('production:acct_full', [api], 30_000);
    expect(next.granted && next.waitMs).toBeLessThanOrEqual(1_050);
  });

  it('keeps accounts, and environments of one account, apart', async () => {
    for (let i = 0; i < 16; i++) await budget.reserve('production:acct_a', [api], 30_000);
    expect(await budget.reserve('production:acct_b', [api], 0)).toEqual({ granted: true, waitMs: 0 });
    expect(await budget.reserve('sandbox:acct_a', [api], 0)).toEqual({ granted: true, waitMs: 0 });
  });

  it('holds application POSTs to 2 per second on top of the account budget', async () => {
    const waits = turns(await Promise.all(Array.from({ length: 6 }, () => budget.reserve('production:acct_apps', [api, applications], 30_000))));
    const sorted = [...waits].sort((a, b) => a - b);
    expect(sorted[0]).toBeLessThanOrEqual(50);
    expect(sorted[1]).toBeGreaterThanOrEqual(450);
    expect(sorted[5]).toBeGreaterThanOrEqual(2400);
    // Other calls of the account do not queue behind the application POSTs (the api budget has turns left).
    const other = await budget.reserve('production:acct_apps', [api], 30_000);
    expect(other.granted && other.waitMs).toBeLessThan(1_000);
  });

  it('after a pause (Lever answered 429) starts again at the steady rate, without a burst', async () => {
    await budget.pause('production:acct_paused', [api], 300);
    const waits = turns(await Promise.all(Array.from({ length: 5 }, () => budget.reserve('production:acct_paused', [api], 30_000)))).sort((a, b) => a - b);
    expect(waits[0]).toBeGreaterThanOrEqual(250);
    for (let i = 1; i < waits.length; i++) expect(waits[i]! - waits[i - 1]!).toBeGreaterThanOrEqual(90);
  });

  it('reserves the calls that arrive together in one script run, in arrival order, with the same turns as one by one', async () => {
    const own = new Redis(TEST_REDIS_URL);
    try {
      const batched = createAccountBudget({ redis: own, prefix });
      const runs = vi.spyOn(own as unknown as { leverApiReserve: (...args: unknown[]) => Promise<number[]> }, 'leverApiReserve');
      const results = await Promise.all(Array.from({ length: 40 }, () => batched.reserve('production:acct_batch', [api], 30_000)));
      // The first call goes alone; the other 39 arrived while it was at Redis and go together.
      expect(runs).toHaveBeenCalledTimes(2);
      const waits = turns(results);
      expect(waits.every((w) => w >= 0)).toBe(true);
      for (let i = 1; i < waits.length; i++) expect(waits[i]!).toBeGreaterThanOrEqual(waits[i - 1]!); // arrival order
      expect(waits.slice(0, 15).every((w) => w <= 50)).toBe(true);
      expect(waits[15]).toBeGreaterThanOrEqual(90);
      for (const w of waits) expect(waits.filter((v) => v >= w && v < w + 990).length).toBeLessThanOrEqual(16);
      expect(waits[39]! - waits[0]!).toBeGreaterThanOrEqual(2450);
      expect(waits[39]! - waits[0]!).toBeLessThanOrEqual(2700);
    } finally {
      own.disconnect();
    }
  });

  it('refuses, inside one run, only the calls whose turn is too far for them, and takes nothing for those', async () => {
    // One call a second and no burst: every turn is a second after the one before.
    const slow: BudgetClass = { name: 'api', ratePerSecond: 1, burst: 2 };
    const first = await budget.reserve('production:acct_mixed', [slow], 30_000);
    const firstAt = Date.now() + (first.granted ? first.waitMs : Number.NaN);
    // `opener` goes alone (the queue was empty); the other two arrive while it is at Redis: one run.
    const [opener, impatient, patient] = await Promise.all([
      budget.reserve('production:acct_mixed', [slow], 0),
      budget.reserve('production:acct_mixed', [slow], 200),
      budget.reserve('production:acct_mixed', [slow], 30_000),
    ]);
    expect(opener).toMatchObject({ granted: false });
    expect(impatient).toMatchObject({ granted: false });
    expect(patient.granted).toBe(true);
    // The patient call got the turn right after the first one's (~1 026 ms): the refused calls took none.
    const gap = Date.now() + (patient.granted ? patient.waitMs : Number.NaN) - firstAt;
    expect(gap).toBeGreaterThanOrEqual(980);
    expect(gap).toBeLessThanOrEqual(1_100);
  });
});
