import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootSim, type TestSim } from './helpers.js';

type Page = { data: Array<{ id: string }>; hasNext: boolean; next?: string };

/** Follows `next` while `hasNext`, as LEVER.md tells a client to; bounded so a paging bug fails instead of looping. */
async function walk(sim: TestSim, path: string, token: string, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let offset: string | undefined;
  for (let pages = 1; pages <= 1_000; pages++) {
    const separator = path.includes('?') ? '&' : '?';
    const res = await sim.api(`${path}${separator}limit=${limit}${offset ? `&offset=${encodeURIComponent(offset)}` : ''}`, token);
    expect(res.status, path).toBe(200);
    const page = (await res.json()) as Page;
    expect(page.data.length, path).toBeLessThanOrEqual(limit);
    expect(page.next !== undefined, `${path}: next iff hasNext`).toBe(page.hasNext);
    ids.push(...page.data.map((item) => item.id));
    if (!page.hasNext) return { ids, pages };
    offset = page.next;
  }
  throw new Error(`${path}: still hasNext after 1 000 pages`);
}

describe('pagination of every list', () => {
  let sim: TestSim;
  let token: string;
  beforeAll(async () => {
    // Walking 250 opportunities 7 at a time is 36 calls: more than one burst of Lever's bucket.
    sim = await bootSim({ rateLimits: { api: { ratePerSecond: 1_000, burst: 1_000 } } });
  });
  afterAll(() => sim.close());
  beforeEach(async () => {
    await sim.control('POST', '/reset');
    token = (await sim.connect()).accessToken;
  });

  it('walks opportunities page by page following next while hasNext and sees every opportunity exactly once', async () => {
    const { ids, pages } = await walk(sim, '/v1/opportunities', token, 7);
    expect(pages).toBe(Math.ceil(250 / 7));
    expect(ids).toHaveLength(250);
    expect(new Set(ids).size).toBe(250);
    // Same order as pages of 100: an offset token is a position in one stable order.
    expect((await walk(sim, '/v1/opportunities', token, 100)).ids).toEqual(ids);
  });

  it('pages users, stages, postings, notes and resumes the same way', async () => {
    const [opportunity] = ((await (await sim.api('/v1/opportunities?limit=1', token)).json()) as Page).data;
    for (let i = 0; i < 5; i++) {
      const res = await sim.api(`/v1/opportunities/${opportunity!.id}/notes`, token, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ value: `note ${i}` }),
      });
      expect(res.status).toBe(201);
    }
    for (const path of ['/v1/users', '/v1/stages', '/v1/postings', `/v1/opportunities/${opportunity!.id}/notes`]) {
      const whole = ((await (await sim.api(`${path}?limit=100`, token)).json()) as Page).data.map((item) => item.id);
      expect(whole.length, path).toBeGreaterThan(2);
      const { ids, pages } = await walk(sim, path, token, 2);
      expect(ids, path).toEqual(whole);
      expect(pages, path).toBe(Math.ceil(whole.length / 2));
    }
    // An empty list is one page without next.
    expect(await walk(sim, `/v1/opportunities/${opportunity!.id}/resumes`, token, 5)).toEqual({ ids: [], pages: 1 });
  });

  it('ignores ?page= (Lever does too): only offset moves', async () => {
    const first = (await (await sim.api('/v1/stages?limit=2', token)).json()) as Page;
    const paged = (await (await sim.api('/v1/stages?limit=2&page=3', token)).json()) as Page;
    expect(paged).toEqual(first);
  });
});
