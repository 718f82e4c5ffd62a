import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectLever, connectMany } from '../support/connect-flow.js';
import { startStack, type Stack } from '../support/stack.js';

interface ApiStats {
  accounts: Record<string, Record<string, number>>;
  perSecond: Record<string, Array<{ second: number; count: number }>>;
}

/**
 * What Lever saw of one account, per second, while callers asked for more than its budget: the busiest
 * second over the whole run (the opening burst included), and the steady rate: the mean over the run's
 * last 20 whole seconds. The opening burst is Lever's to allow (its bucket holds 20) and is judged by the
 * busiest second; with fifty accounts opening at once the machine needs a few seconds to send them all, so
 * the steady rate is taken after that.
 */
function seen(stats: ApiStats, key: string, from: number, to: number) {
  const series = (stats.perSecond[key] ?? []).filter((s) => s.second >= Math.floor(from / 1000) && s.second <= Math.floor(to / 1000));
  const steady = series.filter((s) => s.second >= Math.floor(from / 1000) + 10 && s.second < Math.floor(from / 1000) + 30);
  return {
    max: Math.max(0, ...series.map((s) => s.count)),
    mean: steady.reduce((sum, s) => sum + s.count, 0) / Math.max(1, steady.length),
    seconds: steady.length,
    total: series.reduce((sum, s) => sum + s.count, 0),
    rejected429: stats.accounts[key]?.['429'] ?? 0,
  };
}

/**
 * Callers that each send one call after another (the next when the last is answered) until `until`: with
 * more of them than one account's turns, they always ask for more than the budget. Calls go to the api
 * processes in turn. Returns the statuses they got.
 */
async function callers(options: { count: number; until: number; apis: string[]; call: (api: string, i: number) => Promise<Response> }): Promise<number[]> {
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: options.count }, async (_, i) => {
      let n = i;
      while (Date.now() < options.until) {
        const res = await options.call(options.apis[n++ % options.apis.length]!, i);
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    }),
  );
  return statuses;
}

/**
 * One budget per Lever account across every api process (issue "Lever API proxy"): three api processes,
 * callers asking for more than Lever allows, and the simulator counting what reached it per second.
 */
describe('the Lever API proxy keeps one budget per Lever account across api processes', () => {
  let stack: Stack;
  let apis: string[];
  const sim = () => stack.sim.url;
  const apiStats = async () => (await (await fetch(`${sim()}/__sim/stats/api`)).json()) as ApiStats;

  beforeAll(async () => {
    // One admin key drives fifty accounts at Lever's full rate (500 calls/s): the per-key and per-tenant proxy
    // quotas (100/s by default, tested in test/security/fair-share.test.ts) would be the limit measured here.
    stack = await startStack({
      apis: 3,
      workers: 0,
      env: { LOG_LEVEL: 'warn', QUOTA_PROXY_PER_KEY_PER_SECOND: '0', QUOTA_PROXY_PER_TENANT_PER_SECOND: '0' },
    });
    apis = stack.apis.map((p) => p.url);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('one account, twelve callers on three processes for 30 s: no 429 from Lever, ≤ 20 calls in any second, 9.5–10/s; application POSTs ≤ 2/s', async () => {
    const outcome = await connectLever({ apiUrl: stack.api.url, apiKey: stack.adminKey, tenant: 'budget-one', simAccount: 'acct_budget_one' });
    const id = outcome.result.connectionId!;
    const opportunities = (await (
      await fetch(`${stack.api.url}/v1/connections/${id}/lever/opportunities?limit=5`, { headers: { authorization: `Bearer ${stack.adminKey}` } })
    ).json()) as { data: Array<{ id: string }> };
    const from = Date.now();
    const until = from + 30_000;
    const statuses = await callers({
      count: 12,
      until,
      apis,
      // Two of the twelve apply candidates (the 2/s class); the others read.
      call: (api, i) =>
        i < 2
          ? fetch(`${api}/v1/connections/${id}/lever/opportunities/${opportunities.data[i]!.id}/applications`, {
              method: 'POST',
              headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'application/json' },
              body: '{}',
            })
          : fetch(`${api}/v1/connections/${id}/lever/users?limit=1`, { headers: { authorization: `Bearer ${stack.adminKey}` } }),
    });
    const stats = await apiStats();
    const account = seen(stats, 'production:acct_budget_one', from, until + 2_000);
    const applications = seen(stats, 'production:acct_budget_one:applications', from, until + 2_000);
    expect(statuses.every((s) => s === 200 || s === 201)).toBe(true);
    expect(account.rejected429).toBe(0);
    expect(account.max).toBeLessThanOrEqual(20);
    expect(account.seconds).toBe(20);
    expect(account.mean).toBeLessThanOrEqual(10);
    expect(account.mean).toBeGreaterThanOrEqual(9.5);
    expect(applications.max).toBeLessThanOrEqual(2);
    expect(applications.total).toBeGreaterThan(40);
  }, 120_000);

  it('fifty accounts at once, three callers each, 30 s: each account on its own budget', async () => {
    const ids = await connectMany({ apiUrl: stack.api.url, apiKey: stack.adminKey, count: 50, prefix: 'budget-many' });
    const from = Date.now();
    const until = from + 30_000;
    await callers({
      count: 150,
      until,
      apis,
      call: (api, i) => fetch(`${api}/v1/connections/${ids[i % 50]}/lever/users?limit=1`, { headers: { authorization: `Bearer ${stack.adminKey}` } }),
    });
    const stats = await apiStats();
    const accounts = Array.from({ length: 50 }, (_, i) => seen(stats, `production:acct_budget-many-${i}`, from, until + 2_000));
    expect(accounts.reduce((sum, a) => sum + a.rejected429, 0)).toBe(0);
    expect(Math.max(...accounts.map((a) => a.max))).toBeLessThanOrEqual(20);
    expect(Math.max(...accounts.map((a) => a.mean))).toBeLessThanOrEqual(10);
    expect(Math.min(...accounts.map((a) => a.mean))).toBeGreaterThanOrEqual(9.5);
  }, 180_000);
});
