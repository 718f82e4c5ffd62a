import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootSim, type TestSim } from './helpers.js';

type Page = { data: Array<{ id: string }>; hasNext: boolean; next?: string };

describe('Lever API (/v1)', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await bootSim();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.control('POST', '/reset'));

  it('answers 401 without a bearer token or with garbage', async () => {
    expect((await sim.api('/v1/users', undefined)).status).toBe(401);
    const res = await sim.api('/v1/users', 'not.a.jwt');
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('pages through 250 opportunities with limit and the opaque next offset', async () => {
    const { accessToken } = await sim.connect();
    const seen: string[] = [];
    let offset: string | undefined;
    let pages = 0;
    do {
      const res = await sim.api(`/v1/opportunities?limit=100${offset ? `&offset=${encodeURIComponent(offset)}` : ''}`, accessToken);
      expect(res.status).toBe(200);
      const page = (await res.json()) as Page;
      seen.push(...page.data.map((o) => o.id));
      expect(page.hasNext).toBe(page.next !== undefined);
      offset = page.next;
      pages++;
    } while (offset);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
  });

  it('defaults to 100 per page and serves users, postings and stages', async () => {
    const { accessToken } = await sim.connect();
    const page = (await (await sim.api('/v1/opportunities', accessToken)).json()) as Page;
    expect(page.data).toHaveLength(100);
    for (const path of ['/v1/users', '/v1/postings', '/v1/stages']) {
      const res = await sim.api(path, accessToken);
      expect(res.status).toBe(200);
      expect(((await res.json()) as Page).data.length).toBeGreaterThan(0);
    }
    const users = (await (await sim.api('/v1/users', accessToken)).json()) as Page;
    expect(users.data.map((u) => u.id)).toContain('user_acct_default_admin');
  });

  it('generates the same data for an account every time and different data per account', async () => {
    const a = await sim.connect({ sim_account: 'acct_a' });
    const first = (await (await sim.api('/v1/opportunities?limit=5', a.accessToken)).json()) as Page;
    await sim.control('POST', '/reset');
    const again = await sim.connect({ sim_account: 'acct_a' });
    const second = (await (await sim.api('/v1/opportunities?limit=5', again.accessToken)).json()) as Page;
    expect(second.data).toEqual(first.data);
    const b = await sim.connect({ sim_account: 'acct_b' });
    const other = (await (await sim.api('/v1/opportunities?limit=5', b.accessToken)).json()) as Page;
    expect(other.data[0]!.id).not.toBe(first.data[0]!.id);
  });

  it('refuses limit outside 1..100 and a forged offset with 400', async () => {
    const { accessToken } = await sim.connect();
    for (const query of ['limit=0', 'limit=101', 'limit=abc', 'offset=forged']) {
      expect((await sim.api(`/v1/opportunities?${query}`, accessToken)).status, query).toBe(400);
    }
  });

  it('rate-limits per account at a burst of 20 with 429 and Retry-After, other accounts unaffected', async () => {
    const busy = await sim.connect({ sim_account: 'acct_busy' });
    const calm = await sim.connect({ sim_account: 'acct_calm' });
    const results = await Promise.all(Array.from({ length: 30 }, () => sim.api('/v1/stages', busy.accessToken)));
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(5);
    expect(results.filter((r) => r.status === 200).length).toBeLessThanOrEqual(22);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await sim.api('/v1/stages', calm.accessToken)).status).toBe(200);
    expect((await sim.stats()).rateLimited).toBe(limited.length);
    // The bucket refills with time (sim clock).
    await sim.advance(2);
    expect((await sim.api('/v1/stages', busy.accessToken)).status).toBe(200);
  });

  it('limits POST /opportunities/:id/applications to 2 per second per account', async () => {
    const { accessToken } = await sim.connect();
    const page = (await (await sim.api('/v1/opportunities?limit=1', accessToken)).json()) as Page;
    const id = page.data[0]!.id;
    const post = () =>
      sim.api(`/v1/opportunities/${id}/applications`, accessToken, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post()).status);
    expect(statuses.slice(0, 2)).toEqual([201, 201]);
    expect(statuses.slice(2)).toContain(429);
    expect((await sim.api(`/v1/opportunities/unknown/applications`, accessToken, { method: 'POST' })).status).toBe(429);
    await sim.advance(1);
    expect((await sim.api(`/v1/opportunities/unknown/applications`, accessToken, { method: 'POST' })).status).toBe(404);
  });

  it('serves the same API for sandbox tokens under /sandbox/v1', async () => {
    const { accessToken } = await sim.connect({ audience: 'https://api.sandbox.lever.co/v1/' });
    const page = (await (await sim.api('/sandbox/v1/opportunities?limit=10', accessToken)).json()) as Page;
    expect(page.data).toHaveLength(10);
    expect(page.hasNext).toBe(true);
  });

  it('counts API calls', async () => {
    const { accessToken } = await sim.connect();
    await sim.api('/v1/users', accessToken);
    await sim.api('/v1/users', undefined);
    const stats = await sim.stats();
    expect(stats.apiCalls).toBe(2);
    expect(stats.rejectedApiMissing).toBe(1);
  });
});
