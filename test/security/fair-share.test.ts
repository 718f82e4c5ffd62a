import { freePort } from '@lever-connect/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from '../../apps/api/test/helpers.js';
import { connectLever } from '../support/connect-flow.js';

/**
 * DESIGN.md invariant 6 from outside: one tenant cannot use up what the others need, even when every
 * tenant is served through the one admin key an operator's services usually share. Over quota: 429
 * `quota_exceeded` with Retry-After, and nothing reached Lever.
 */
describe('security: fair share between tenants and keys', () => {
  let t: TestApp;
  let sim: { url: string };
  let base: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await buildTestApp(
      {
        PUBLIC_BASE_URL: base,
        // One forced refresh per 20 s per tenant (burst 1); 3 proxied calls/s per tenant (burst 6), 4/s per key (burst 8).
        QUOTA_FORCED_REFRESH_PER_TENANT_PER_MINUTE: '3',
        QUOTA_PROXY_PER_TENANT_PER_SECOND: '3',
        QUOTA_PROXY_PER_KEY_PER_SECOND: '4',
        CONNECT_RATE_LIMIT_PER_MINUTE: '30',
      },
      { sim: true, simEnv: { SIM_AUTO_APPROVE: '1' } },
    );
    sim = t.sim!;
    await t.app.listen({ port, host: '127.0.0.1' });
    for (const tenant of ['fair-a', 'fair-b', 'fair-c']) {
      const outcome = await connectLever({ apiUrl: base, apiKey: t.adminKey, tenant, simAccount: `acct_${tenant}` });
      expect(outcome.result.status).toBe('success');
      ids[tenant] = outcome.result.connectionId!;
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  const simStats = async () => (await (await fetch(`${sim.url}/__sim/stats`)).json()) as Record<string, number>;
  const post = (url: string, key = t.adminKey) => fetch(base + url, { method: 'POST', headers: bearer(key) });
  const get = (url: string, key = t.adminKey) => fetch(base + url, { headers: bearer(key) });

  it("counts forced refreshes per tenant of the connection, whoever asks: tenant A's storm leaves B's refresh alone", async () => {
    const before = await simStats();
    const first = await post(`/v1/connections/${ids['fair-a']}/refresh`);
    expect(first.status).toBe(200);
    // The same tenant again, by the refresh route and by a forced token read: both over the quota.
    for (const res of [await post(`/v1/connections/${ids['fair-a']}/refresh`), await get(`/v1/connections/${ids['fair-a']}/access-token?forceRefresh=true`)]) {
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(20);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('quota_exceeded');
      expect(body.error.message).toMatch(/forced refresh per tenant/);
    }
    // Tenant B, through the same admin key, is not held back; and a plain read of A still gets its token.
    expect((await post(`/v1/connections/${ids['fair-b']}/refresh`)).status).toBe(200);
    expect((await get(`/v1/connections/${ids['fair-a']}/access-token`)).status).toBe(200);
    // Only the two refreshes that passed reached Lever.
    const after = await simStats();
    expect(after.refreshesOk! - before.refreshesOk!).toBe(2);
  });

  it("counts proxied calls per tenant, then per key: A's burst is cut at its quota and B's calls still pass", async () => {
    const before = await simStats();
    const burst = await Promise.all(Array.from({ length: 12 }, () => get(`/v1/connections/${ids['fair-a']}/lever/opportunities?limit=1`)));
    const statuses = burst.map((r) => r.status);
    const passed = statuses.filter((s) => s === 200).length;
    // Burst 6, plus at most what 3/s refills while the 12 are handled.
    expect(passed).toBeGreaterThanOrEqual(6);
    expect(passed).toBeLessThanOrEqual(8);
    expect(statuses.filter((s) => s !== 200).every((s) => s === 429)).toBe(true);
    const refused = burst.find((r) => r.status === 429)!;
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    // Every refusal is A's tenant quota (checked first): a refused call takes nothing from the shared key.
    const refusals = await Promise.all(burst.filter((r) => r.status === 429).map(async (r) => ((await r.json()) as { error: { code: string; details?: { quota?: string } } }).error));
    expect(refusals).toHaveLength(12 - passed);
    for (const error of refusals) expect(error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'Lever API calls per tenant' } });
    const after = await simStats();
    expect(after.apiCalls! - before.apiCalls!).toBe(passed);

    // Tenant B, through the same key, right away: its own bucket is full, and the key (burst 8 at 4/s) has a
    // turn left, since only A's passed calls (at most 6 plus what 3/s refilled meanwhile) were charged to it.
    const b = await get(`/v1/connections/${ids['fair-b']}/lever/opportunities?limit=1`);
    expect(b.status, await b.clone().text()).toBe(200);
  });

  it('bounds one key across tenants: a second key still reaches tenant C when the first has spent its quota', async () => {
    await new Promise((r) => setTimeout(r, 2_100)); // both buckets refill fully (burst 8 at 4/s, 6 at 3/s)
    const { key: other } = await t.core.apiKeys.create({ name: 'second service' });
    const spend = await Promise.all(
      ['fair-a', 'fair-b', 'fair-c', 'fair-a', 'fair-b', 'fair-c', 'fair-a', 'fair-b', 'fair-c', 'fair-a', 'fair-b', 'fair-c'].map((tenant) =>
        get(`/v1/connections/${ids[tenant]}/lever/opportunities?limit=1`),
      ),
    );
    const refusals = await Promise.all(spend.filter((r) => r.status === 429).map(async (r) => ((await r.json()) as { error: { message: string } }).error.message));
    expect(refusals.length).toBeGreaterThanOrEqual(3);
    expect(refusals.some((m) => /per API key/.test(m))).toBe(true);
    expect((await get(`/v1/connections/${ids['fair-c']}/lever/opportunities?limit=1`, other)).status).toBe(200);
  });

  it('rate-limits the public connect pages per client address with 429 rate_limited, counted in Redis', async () => {
    const from = (remoteAddress: string, i: number) => t.app.inject({ method: 'GET', url: `/connect/cs_unknown_${i}/result`, remoteAddress });
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++) statuses.push((await from('198.51.100.7', i)).statusCode);
    expect(statuses.slice(0, 30).every((s) => s === 404)).toBe(true);
    expect(statuses.slice(30)).toEqual([429, 429]);
    const limited = await from('198.51.100.7', 99);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.json().error.code).toBe('rate_limited');
    // A forged X-Forwarded-For does not buy a fresh count: TRUST_PROXY is off by default.
    const forged = await t.app.inject({ method: 'GET', url: '/connect/cs_x/result', remoteAddress: '198.51.100.7', headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(forged.statusCode).toBe(429);
    // Another address is not held back, nor is the REST API under a key.
    expect((await from('198.51.100.8', 0)).statusCode).toBe(404);
    expect((await get('/v1/connections?limit=1')).status).toBe(200);
    // The count lives in Redis, where every api process reads it.
    expect(await t.core.redis.keys(`${t.core.config.redisPrefix}:connect-rate:*198.51.100.7*`)).toHaveLength(1);
  });
});
