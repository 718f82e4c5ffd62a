import { waitFor } from '@lever-connect/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ONLY_ROUTES, ROUTE_ACCESS } from '../src/route-access.js';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

describe('API keys and the route access table', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  const sampleUrl = (route: string) =>
    route.replace(':id', '00000000-0000-4000-8000-000000000000').replace(':token', 'cs_unknown');

  it('lists every registered route in the access table', () => {
    const registered = t.app
      .printRoutes({ commonPrefix: false })
      .split('\n')
      .filter(Boolean);
    expect(registered.length).toBeGreaterThan(0);
    for (const key of Object.keys(ROUTE_ACCESS)) {
      const [method, url] = key.split(' ') as [string, string];
      if (DEV_ONLY_ROUTES.has(key)) continue; // registered only outside production; demo.test.ts covers them
      expect(t.app.hasRoute({ method: method as 'GET', url }), key).toBe(true);
    }
  });

  it.each(Object.entries(ROUTE_ACCESS).filter(([, access]) => access !== 'public'))(
    '%s answers 401 with a code when the key is missing, malformed or unknown',
    async (route) => {
      const [method, url] = route.split(' ') as ['GET', string];
      for (const headers of [{}, bearer('not-a-key'), bearer('lc_' + 'x'.repeat(43)), { authorization: 'Basic abc' }]) {
        const res = await t.app.inject({ method, url: sampleUrl(url), headers });
        expect(res.statusCode, `${route} ${JSON.stringify(headers)}`).toBe(401);
        const body = res.json();
        expect(body.error.code).toMatch(/^(missing_api_key|invalid_api_key)$/);
        expect(body.requestId).toBeTypeOf('string');
      }
    },
  );

  it.each(Object.entries(ROUTE_ACCESS).filter(([, access]) => access === 'admin'))(
    '%s answers 403 to a tenant-scoped key',
    async (route) => {
      const [method, url] = route.split(' ') as ['GET', string];
      const res = await t.app.inject({ method, url: sampleUrl(url), headers: bearer(t.tenantKey), payload: method === 'GET' || method === 'DELETE' ? undefined : {} });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('forbidden');
    },
  );

  it('rejects a revoked key at once', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(t.adminKey), payload: { name: 'short-lived' } });
    expect(created.statusCode).toBe(201);
    const { key, apiKey } = created.json();
    expect(key).toMatch(/^lc_/);
    expect(apiKey.prefix).toBe(key.slice(0, 9));
    expect((await t.app.inject({ method: 'GET', url: '/v1/connections', headers: bearer(key) })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${apiKey.id}`, headers: bearer(t.adminKey) })).statusCode).toBe(204);
    const after = await t.app.inject({ method: 'GET', url: '/v1/connections', headers: bearer(key) });
    expect(after.statusCode).toBe(401);
    expect(after.json().error.code).toBe('invalid_api_key');
  });

  it("stamps a key's lastUsedAt after it is used", async () => {
    const created = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(t.adminKey), payload: { name: 'stamped' } });
    const { key, apiKey } = created.json();
    expect(apiKey.lastUsedAt).toBeNull();
    const usedAfter = Date.now();
    expect((await t.app.inject({ method: 'GET', url: '/v1/connections', headers: bearer(key) })).statusCode).toBe(200);
    // The stamp is written fire-and-forget (at most once a minute per key), so it lands shortly after.
    const lastUsedAt = await waitFor(
      'lastUsedAt to be written',
      async () => {
        const list = await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(t.adminKey) });
        return (list.json().data as Array<{ id: string; lastUsedAt: string | null }>).find((k) => k.id === apiKey.id)?.lastUsedAt;
      },
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    expect(Date.parse(lastUsedAt)).toBeGreaterThanOrEqual(usedAfter);
    expect(Date.parse(lastUsedAt)).toBeLessThanOrEqual(Date.now());
  });

  it('never returns a key or its hash when listing keys', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(t.adminKey) });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain(t.adminKey);
    expect(res.body).not.toMatch(/"hash"/);
  });

  it('answers a body that is not JSON with 400 malformed_body in the error shape', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: { ...bearer(t.adminKey), 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'malformed_body', message: expect.any(String) }, requestId: expect.any(String) });
  });

  it('answers unknown routes with the error shape', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'route_not_found' } });
  });
});
