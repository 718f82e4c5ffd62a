import { RateLimitedError } from '@lever-connect/errors';
import { deleteRedisPrefix, randomRedisPrefix, TEST_REDIS_URL } from '@lever-connect/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAccountBudget, createQuotas, type BudgetClass, type ProxyCaller, type QuotaPolicy } from '../src/index.js';

const off: QuotaPolicy = { perSecond: 0, burst: 0 };
/** An account budget that never holds a call back: what is tested is the quotas checked with the turn. */
const roomy: BudgetClass = { name: 'api', ratePerSecond: 1000, burst: 1000 };

describe("per-tenant and per-key quotas, taken with the account's turn (quotas.ts, budget.ts)", () => {
  const prefix = randomRedisPrefix();
  let redis: Redis;
  let other: Redis;
  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
    other = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    redis.disconnect();
    other.disconnect();
    await deleteRedisPrefix(prefix);
  });

  /** A proxied call's admission as the proxy asks for it: 'ok', the quota it is over, or 'turn' (the budget refused). */
  function admitter(client: Redis, name: string, config: { proxyPerTenant: QuotaPolicy; proxyPerKey: QuotaPolicy }, cls: BudgetClass = roomy) {
    const quotas = createQuotas({ redis: client, prefix: `${prefix}:${name}`, config: { forcedRefreshPerTenant: off, ...config } });
    const budget = createAccountBudget({ redis: client, prefix: `${prefix}:${name}` });
    return async (caller: ProxyCaller, maxWaitMs = 30_000): Promise<string> => {
      const gates = quotas.proxyGates(caller);
      const turn = await budget.reserve('production:acct_q', [cls], maxWaitMs, gates);
      if (turn.granted) return 'ok';
      return turn.gate === undefined ? 'turn' : gates[turn.gate]!.what;
    };
  }

  it('checks the tenant and the key with the turn, all or nothing: a call the key refuses takes nothing from the tenant', async () => {
    // The tenant allows 4 at once, the key 2 (1/s each: nothing refills within the test).
    const admit = admitter(redis, 'a', { proxyPerTenant: { perSecond: 1, burst: 4 }, proxyPerKey: { perSecond: 1, burst: 2 } });
    expect(await admit({ tenantId: 't1', apiKeyId: 'k1' })).toBe('ok');
    // Once the script is loaded (the first call above), one Redis command per call: turn and both quotas.
    const sent = vi.spyOn(redis, 'sendCommand');
    expect(await admit({ tenantId: 't1', apiKeyId: 'k1' })).toBe('ok');
    expect(sent.mock.calls.map(([command]) => command.name)).toEqual(['evalsha']);
    sent.mockRestore();
    // The key is spent; the tenant, with 2 of 4 used, stays untouched however often the key refuses.
    for (let i = 0; i < 5; i++) expect(await admit({ tenantId: 't1', apiKeyId: 'k1' })).toBe('Lever API calls per API key');
    // Another key of the same tenant gets exactly the tenant's 2 left; then the tenant's quota is named.
    expect(await admit({ tenantId: 't1', apiKeyId: 'k2' })).toBe('ok');
    expect(await admit({ tenantId: 't1', apiKeyId: 'k2' })).toBe('ok');
    expect(await admit({ tenantId: 't1', apiKeyId: 'k2' })).toBe('Lever API calls per tenant');
  });

  it('charges no quota for a call whose turn is too far away, and reserves no turn for a call over quota', async () => {
    // The account lets 1 call through at once (Lever's burst of 2, three quarters kept: effectiveLimits), 1/s after.
    const tight: BudgetClass = { name: 'api', ratePerSecond: 1, burst: 2 };
    const admit = admitter(redis, 'b', { proxyPerTenant: { perSecond: 1, burst: 2 }, proxyPerKey: off }, tight);
    expect(await admit({ tenantId: 't1', apiKeyId: null }, 0)).toBe('ok');
    // The next turn is a second away: refused with a max wait of 0, three times, and the tenant pays nothing...
    for (let i = 0; i < 3; i++) expect(await admit({ tenantId: 't1', apiKeyId: null }, 0)).toBe('turn');
    // ...so it still has its second call, which waits for its turn.
    expect(await admit({ tenantId: 't1', apiKeyId: null })).toBe('ok');
    // Over quota now: refused without a turn, so the account's next turn is still the one after the last granted.
    expect(await admit({ tenantId: 't1', apiKeyId: null })).toBe('Lever API calls per tenant');
    const budget = createAccountBudget({ redis, prefix: `${prefix}:b` });
    const next = await budget.reserve('production:acct_q', [tight], 30_000);
    expect(next.granted && next.waitMs).toBeGreaterThan(900);
    expect(next.granted && next.waitMs).toBeLessThanOrEqual(2_100);
  });

  it("counts concurrent calls of one tenant in one batch against its quota exactly, across processes", async () => {
    const config = { proxyPerTenant: { perSecond: 1, burst: 5 }, proxyPerKey: off };
    const here = admitter(redis, 'c', config);
    const there = admitter(other, 'c', config);
    // 8 at once from two processes: the ones that wait for a reservation in flight go in one script run.
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? there : here)({ tenantId: 't1', apiKeyId: 'k1' })));
    expect(results.filter((r) => r === 'ok')).toHaveLength(5);
    expect(results.filter((r) => r === 'Lever API calls per tenant')).toHaveLength(3);
    // Another tenant is not held back.
    expect(await here({ tenantId: 't2', apiKeyId: 'k1' })).toBe('ok');
  });

  it('names only the quotas that are on, and a console session (no key) counts against its tenant only', () => {
    const quotas = createQuotas({ redis, prefix, config: { forcedRefreshPerTenant: off, proxyPerTenant: { perSecond: 4, burst: 8 }, proxyPerKey: off } });
    expect(quotas.proxyGates({ tenantId: 't1', apiKeyId: 'k1' })).toEqual([{ key: `${prefix}:quota:proxy:tenant:t1`, intervalMs: 250, toleranceMs: 1750, what: 'Lever API calls per tenant' }]);
    const both = createQuotas({ redis, prefix, config: { forcedRefreshPerTenant: off, proxyPerTenant: { perSecond: 4, burst: 8 }, proxyPerKey: { perSecond: 2, burst: 4 } } });
    expect(both.proxyGates({ tenantId: 't1', apiKeyId: 'k1' }).map((g) => g.what)).toEqual(['Lever API calls per tenant', 'Lever API calls per API key']);
    expect(both.proxyGates({ tenantId: 't1', apiKeyId: null }).map((g) => g.what)).toEqual(['Lever API calls per tenant']);
  });

  it("refuses a tenant's forced refresh over its quota with quota_exceeded and Retry-After, shared across processes", async () => {
    const config = { forcedRefreshPerTenant: { perSecond: 1 / 20, burst: 1 }, proxyPerTenant: off, proxyPerKey: off };
    const here = createQuotas({ redis, prefix: `${prefix}:d`, config });
    const there = createQuotas({ redis: other, prefix: `${prefix}:d`, config });
    await here.forcedRefresh('t1');
    const refused = await there.forcedRefresh('t1').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect(refused).toMatchObject({ code: 'quota_exceeded', details: { quota: 'forced refresh per tenant' } });
    expect((refused as RateLimitedError).retryAfterSeconds).toBeGreaterThanOrEqual(19);
    await there.forcedRefresh('t2');
  });
});
