import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootSim, SANDBOX, type TestSim } from './helpers.js';

type Page = { data: Array<{ id: string }> };

describe('GET /__sim/stats/api', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await bootSim();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.control('POST', '/reset'));

  it('counts answers by status per <environment>:<account>, and requests without a valid token under unknown', async () => {
    const prod = await sim.connect({ sim_account: 'acct_a' });
    const sandbox = await sim.connect({ sim_account: 'acct_a', audience: SANDBOX });
    for (let i = 0; i < 3; i++) expect((await sim.api('/v1/users', prod.accessToken)).status).toBe(200);
    expect((await sim.api('/v1/opportunities/nope', prod.accessToken)).status).toBe(404);
    expect((await sim.api('/sandbox/v1/stages', sandbox.accessToken)).status).toBe(200);
    await sim.fault({ target: 'api', kind: '503', matchAccount: 'acct_a' });
    expect((await sim.api('/v1/users', prod.accessToken)).status).toBe(503);
    expect((await sim.api('/v1/users', undefined)).status).toBe(401);
    expect((await sim.api('/v1/users', 'garbage')).status).toBe(401);
    // A valid token for the other API is refused, so it names no account either.
    expect((await sim.api('/v1/users', sandbox.accessToken)).status).toBe(401);

    expect((await sim.apiStats()).accounts).toEqual({
      'production:acct_a': { '200': 3, '404': 1, '503': 1 },
      'sandbox:acct_a': { '200': 1 },
      unknown: { '401': 3 },
    });
  });

  it('counts accepted requests per sim-clock second, never the refused ones', async () => {
    const { accessToken } = await sim.connect({ sim_account: 'acct_busy' });
    const before = Math.floor((await sim.simNow()) / 1000);
    const results = await Promise.all(Array.from({ length: 30 }, () => sim.api('/v1/stages', accessToken)));
    const after = Math.floor((await sim.simNow()) / 1000);
    const ok = results.filter((r) => r.status === 200).length;
    const limited = results.filter((r) => r.status === 429).length;
    expect(ok + limited).toBe(30);

    const stats = await sim.apiStats();
    expect(stats.accounts['production:acct_busy']).toEqual({ '200': ok, ...(limited ? { '429': limited } : {}) });
    const series = stats.perSecond['production:acct_busy']!;
    expect(series.reduce((sum, s) => sum + s.count, 0)).toBe(ok);
    for (const { second, count } of series) {
      expect(second).toBeGreaterThanOrEqual(before);
      expect(second).toBeLessThanOrEqual(after);
      // A full bucket (20) plus what it refills within that second (10): Lever's limiter allows up to 30 in
      // one wall-clock second, which is why a proxy must pace itself rather than trust the burst.
      expect(count).toBeLessThanOrEqual(30);
    }
    expect(stats.perSecond.unknown).toBeUndefined();

    // The seconds are the sim clock's: moving it moves them.
    await sim.advance(100);
    expect((await sim.api('/v1/stages', accessToken)).status).toBe(200);
    const moved = (await sim.apiStats()).perSecond['production:acct_busy']!;
    expect(moved.at(-1)!.second).toBeGreaterThanOrEqual(after + 100);
    expect(moved.at(-1)!.count).toBe(1);
  });

  it('counts application POSTs in a series of their own as well as the account series', async () => {
    const { accessToken } = await sim.connect({ sim_account: 'acct_apply' });
    const [opportunity] = ((await (await sim.api('/v1/opportunities?limit=1', accessToken)).json()) as Page).data;
    const apply = () => sim.api(`/v1/opportunities/${opportunity!.id}/applications`, accessToken, { method: 'POST' });
    const statuses = [(await apply()).status, (await apply()).status, (await apply()).status];
    expect(statuses.filter((s) => s === 201)).toHaveLength(2);

    const stats = await sim.apiStats();
    const total = (key: string) => (stats.perSecond[key] ?? []).reduce((sum, s) => sum + s.count, 0);
    expect(total('production:acct_apply:applications')).toBe(2);
    expect(total('production:acct_apply')).toBe(3); // the list call and two applications
    expect(stats.accounts['production:acct_apply']).toEqual({ '200': 1, '201': 2, '429': 1 });
  });

  it('keeps the last 600 seconds per account', async () => {
    const { accessToken } = await sim.connect({ sim_account: 'acct_window' });
    await sim.api('/v1/users', accessToken);
    await sim.advance(300);
    await sim.api('/v1/users', accessToken);
    expect((await sim.apiStats()).perSecond['production:acct_window']).toHaveLength(2);
    await sim.advance(301); // the first second is now 601 s old
    const series = (await sim.apiStats()).perSecond['production:acct_window']!;
    expect(series).toHaveLength(1);
    expect(series[0]!.count).toBe(1);
  });

  it('is cleared by POST /__sim/reset', async () => {
    const { accessToken } = await sim.connect();
    await sim.api('/v1/users', accessToken);
    await sim.control('POST', '/reset');
    expect(await sim.apiStats()).toEqual({ accounts: {}, perSecond: {} });
  });
});
