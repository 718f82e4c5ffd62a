import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_ACCESS } from '../src/route-access.js';
import { bearer, buildTestApp, insertConnection, type TestApp } from './helpers.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

describe('tenant isolation: a key scoped to tenant A, walking the route table with tenant B', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof insertConnection>>;
  let b: Awaited<ReturnType<typeof insertConnection>>;
  let endpointId: string;

  const call = (key: string, method: Method, url: string, payload?: object) =>
    t.app.inject({ method, url, headers: bearer(key), ...(payload ? { payload } : {}) });

  beforeAll(async () => {
    t = await buildTestApp();
    a = await insertConnection(t, 'tenant-a');
    b = await insertConnection(t, 'tenant-b');
    // B's grant ends within the notice period, so the admin's overview lists it (and tenant A's must not).
    await t.db.db.prisma.connection.update({ where: { id: b.connection.id }, data: { grantCreatedAt: new Date(Date.now() - 360 * 86_400_000) } });
    // B's connection has been read before (by an admin), so its audit trail is not empty.
    expect((await call(t.adminKey, 'GET', `/v1/connections/${b.connection.id}/access-token`)).statusCode).toBe(200);
    const endpoint = await call(t.adminKey, 'POST', '/v1/webhook-endpoints', { url: 'http://localhost:9/hooks' });
    expect(endpoint.statusCode).toBe(201);
    endpointId = endpoint.json().id;
  });
  afterAll(async () => {
    await t?.close();
  });

  /**
   * Tenant B's resources as seen with tenant A's key. `hidden`: a 404 exactly like an id that never
   * existed. `filtered`: a 200 list without B. `forbidden`: refused for the key's scope (names no data).
   */
  const crossTenant = (): Record<string, Array<{ url: string; payload?: object; outcome: 'hidden' | 'filtered' | 'forbidden' }>> => {
    const id = b.connection.id;
    return {
      'POST /v1/connect-sessions': [
        { url: '/v1/connect-sessions', payload: { tenant: { externalId: 'tenant-b' } }, outcome: 'forbidden' },
        { url: '/v1/connect-sessions', payload: { tenant: { externalId: 'tenant-a' }, connectionId: id }, outcome: 'hidden' },
      ],
      'GET /v1/connections': [
        { url: '/v1/connections', outcome: 'filtered' },
        { url: '/v1/connections?tenant=tenant-b', outcome: 'filtered' },
        { url: '/v1/connections?environment=sandbox&status=active', outcome: 'filtered' },
        { url: '/v1/connections?leverAccountId=acct_tenant-b', outcome: 'filtered' },
        { url: '/v1/connections?q=tenant-b', outcome: 'filtered' },
        { url: '/v1/connections?q=acct_tenant', outcome: 'filtered' },
        { url: `/v1/connections?q=${id}`, outcome: 'filtered' },
      ],
      'GET /v1/connections/:id': [{ url: `/v1/connections/${id}`, outcome: 'hidden' }],
      'DELETE /v1/connections/:id': [{ url: `/v1/connections/${id}`, outcome: 'hidden' }],
      'GET /v1/connections/:id/access-token': [
        { url: `/v1/connections/${id}/access-token`, outcome: 'hidden' },
        { url: `/v1/connections/${id}/access-token?forceRefresh=true`, outcome: 'hidden' },
      ],
      'POST /v1/connections/:id/refresh': [{ url: `/v1/connections/${id}/refresh`, outcome: 'hidden' }],
      'GET /v1/connections/:id/token-reads': [{ url: `/v1/connections/${id}/token-reads`, outcome: 'hidden' }],
      // The proxy: another tenant's connection is a 404 before Lever (or the path check) is involved.
      'GET /v1/connections/:id/lever/*': [{ url: `/v1/connections/${id}/lever/users`, outcome: 'hidden' }],
      'POST /v1/connections/:id/lever/*': [{ url: `/v1/connections/${id}/lever/opportunities/x/notes`, payload: { value: 'n' }, outcome: 'hidden' }],
      'PUT /v1/connections/:id/lever/*': [{ url: `/v1/connections/${id}/lever/opportunities/x/stage`, payload: { stage: 's' }, outcome: 'hidden' }],
      'PATCH /v1/connections/:id/lever/*': [{ url: `/v1/connections/${id}/lever/opportunities/x`, payload: { headline: 'h' }, outcome: 'hidden' }],
      'DELETE /v1/connections/:id/lever/*': [{ url: `/v1/connections/${id}/lever/webhooks/x`, outcome: 'hidden' }],
      'GET /v1/connections/:id/lever-webhooks': [{ url: `/v1/connections/${id}/lever-webhooks`, outcome: 'hidden' }],
      'POST /v1/connections/:id/lever-webhooks/reconcile': [{ url: `/v1/connections/${id}/lever-webhooks/reconcile`, outcome: 'hidden' }],
      'GET /v1/tenants': [
        { url: '/v1/tenants', outcome: 'filtered' },
        { url: '/v1/tenants?cursor=tenant-a', outcome: 'filtered' },
      ],
      'GET /v1/tenants/:externalId': [{ url: '/v1/tenants/tenant-b', outcome: 'hidden' }],
      'DELETE /v1/tenants/:externalId': [{ url: '/v1/tenants/tenant-b', outcome: 'hidden' }],
      'GET /v1/overview': [{ url: '/v1/overview', outcome: 'filtered' }],
      'GET /v1/events': [
        { url: '/v1/events', outcome: 'filtered' },
        { url: `/v1/events?connectionId=${id}`, outcome: 'filtered' },
        { url: '/v1/events?type=connection.created', outcome: 'filtered' },
      ],
    };
  };

  /** The same URL with B's id replaced by one that never existed. */
  const neverExisted = (url: string) => url.replace(b.connection.id, randomUUID()).replace('tenant-b', `ghost-${randomUUID()}`);

  const tenantRoutes = Object.entries(ROUTE_ACCESS)
    .filter(([, access]) => access === 'tenant')
    .map(([route]) => route);

  it('has a cross-tenant case for every tenant route (a new route needs one)', () => {
    expect(Object.keys(crossTenant()).sort()).toEqual([...tenantRoutes].sort());
  });

  it.each(tenantRoutes)("%s never shows tenant B's data to tenant A's key", async (route) => {
    const method = route.split(' ')[0] as Method;
    for (const { url, payload, outcome } of crossTenant()[route]!) {
      const res = await call(t.tenantKey, method, url, payload);
      const what = `${route} ${url}`;
      expect(res.body, what).not.toContain(b.connection.id);
      expect(res.body, what).not.toContain(b.tenant.id);
      expect(res.body, what).not.toContain(b.accessToken);
      if (outcome === 'forbidden') {
        expect(res.statusCode, what).toBe(403);
        expect(res.json().error.code).toBe('forbidden');
      } else if (outcome === 'hidden') {
        expect(res.statusCode, `${what}: ${res.body}`).toBe(404);
        const ghost = await call(t.tenantKey, method, neverExisted(url), payload);
        expect(ghost.statusCode, neverExisted(url)).toBe(404);
        expect(res.json().error, what).toEqual(ghost.json().error);
      } else {
        expect(res.statusCode, `${what}: ${res.body}`).toBe(200);
        expect(res.body, what).not.toContain('tenant-b');
        // The admin key sees B at the same URL, so the filter (not an empty table) hid it.
        const admin = await call(t.adminKey, method, url.replace('?cursor=tenant-a', ''));
        expect(admin.body, `admin ${url}`).toMatch(new RegExp(`${b.connection.id}|tenant-b`));
      }
    }
  });

  it("leaves tenant B's connection, tokens and audit trail as they were", async () => {
    const prisma = t.db.db.prisma;
    const after = await prisma.connection.findUniqueOrThrow({ where: { id: b.connection.id } });
    expect(after).toMatchObject({
      status: 'active',
      version: b.connection.version,
      accessTokenCiphertext: b.connection.accessTokenCiphertext,
      refreshTokenCiphertext: b.connection.refreshTokenCiphertext,
    });
    await t.core.tokenAudit.flush();
    const reads = await t.core.tokenAudit.list(b.connection.id, { limit: 100 });
    const keys = await prisma.apiKey.findMany({ where: { id: { in: reads.data.map((r) => r.apiKeyId!) } } });
    expect(keys.map((k) => k.name)).toEqual(['admin']);
    expect(await prisma.event.count({ where: { connectionId: b.connection.id, type: { not: 'connection.created' } } })).toBe(0);
  });

  it("answers tenant A's key for its own tenant (the 404s above are isolation, not broken routes)", async () => {
    const own = a.connection.id;
    for (const url of [`/v1/connections/${own}`, `/v1/connections/${own}/access-token`, `/v1/connections/${own}/token-reads`, '/v1/tenants/tenant-a']) {
      const res = await call(t.tenantKey, 'GET', url);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
    }
    const list = await call(t.tenantKey, 'GET', '/v1/connections');
    expect(list.json().data.map((c: { id: string }) => c.id)).toEqual([own]);
  });

  it.each(Object.entries(ROUTE_ACCESS).filter(([, access]) => access === 'admin'))('%s refuses the tenant key with 403', async (route) => {
    const [method, url] = route.split(' ') as [Method, string];
    const concrete = url.replace(':id', endpointId).replace(':deliveryId', randomUUID());
    const res = await call(t.tenantKey, method, concrete, method === 'POST' || method === 'PATCH' ? {} : undefined);
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json().error.code).toBe('forbidden');
  });

  const idRoutes = Object.entries(ROUTE_ACCESS).filter(([route, access]) => access !== 'public' && route.includes('/:id'));

  it('answers 404 to guessed UUIDs on every route that takes one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uuid(), fc.constantFrom(...idRoutes), async (uuid, [route, access]) => {
        const [method, url] = route.split(' ') as [Method, string];
        const key = access === 'admin' ? t.adminKey : t.tenantKey;
        const res = await call(key, method, url.replace(':id', uuid).replace(':deliveryId', uuid), method === 'POST' || method === 'PATCH' ? {} : undefined);
        expect(res.statusCode, `${route} ${uuid}: ${res.body}`).toBe(404);
        expect(res.json().error.code).toBe('not_found');
      }),
      { numRuns: 40 },
    );
  });

  it.each([
    'not-a-uuid',
    '42',
    '00000000-0000-4000-8000-00000000000',
    '00000000-0000-4000-8000-00000000000g',
    '{00000000-0000-4000-8000-000000000000}',
    '000000000000400080000000000000000',
    "1' OR '1'='1",
    'urn:uuid:00000000-0000-4000-8000-000000000000',
  ])('answers 400 validation_failed naming the field to the malformed id %j', async (bad) => {
    for (const [route, access] of idRoutes) {
      const [method, url] = route.split(' ') as [Method, string];
      const key = access === 'admin' ? t.adminKey : t.tenantKey;
      const concrete = url.replace(':id', encodeURIComponent(bad)).replace(':deliveryId', randomUUID());
      const res = await call(key, method, concrete, method === 'POST' || method === 'PATCH' ? {} : undefined);
      expect(res.statusCode, `${route} ${bad}: ${res.body}`).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'validation_failed', details: { field: 'params.id' } });
    }
  });

  it('answers 400 to a malformed delivery id and an over-long tenant id', async () => {
    const delivery = await call(t.adminKey, 'POST', `/v1/webhook-endpoints/${endpointId}/deliveries/nope/retry`, {});
    expect(delivery.json().error).toMatchObject({ code: 'validation_failed', details: { field: 'params.deliveryId' } });
    for (const method of ['GET', 'DELETE'] as const) {
      const res = await call(t.tenantKey, method, `/v1/tenants/${'x'.repeat(201)}`);
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'validation_failed', details: { field: 'params.externalId' } });
    }
  });
});
