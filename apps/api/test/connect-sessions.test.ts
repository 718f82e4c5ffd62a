import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

describe('POST /v1/connect-sessions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  const create = (payload: unknown, key = t.adminKey) =>
    t.app.inject({ method: 'POST', url: '/v1/connect-sessions', headers: bearer(key), payload: payload as object });

  it('creates a session for a new tenant, storing only the token hash', async () => {
    const res = await create({ tenant: { externalId: 'acme', name: 'Acme' } });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.token).toMatch(/^cs_/);
    expect(body.connectUrl).toBe(`http://127.0.0.1:3999/connect/${body.token}`);
    expect(body.environment).toBe('production');
    expect(Date.parse(body.expiresAt) - Date.now()).toBeGreaterThan(29 * 60_000);
    const rows = await t.db.db.prisma.connectSession.findMany();
    expect(JSON.stringify(rows)).not.toContain(body.token);
    expect(await t.db.db.prisma.tenant.findUnique({ where: { externalId: 'acme' } })).toMatchObject({ name: 'Acme' });
  });

  it("asks Lever for the webhooks scope only for a session that subscribes to Lever's events", async () => {
    const scopeOf = async (payload: object) => {
      const session = (await create(payload)).json() as { token: string };
      const start = await t.app.inject({ method: 'GET', url: `/connect/${session.token}` });
      expect(start.statusCode).toBe(302);
      return new URL(start.headers.location as string).searchParams.get('scope')!.split(' ');
    };
    expect(await scopeOf({ tenant: { externalId: 'acme' } })).not.toContain('webhooks:write:admin');
    expect(await scopeOf({ tenant: { externalId: 'acme' }, leverWebhookEvents: [] })).not.toContain('webhooks:write:admin');
    expect(await scopeOf({ tenant: { externalId: 'acme' }, leverWebhookEvents: ['candidateHired'] })).toEqual(expect.arrayContaining(['offline_access', 'webhooks:write:admin']));
    const unknown = await create({ tenant: { externalId: 'acme' }, leverWebhookEvents: ['somethingElse'] });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.code).toBe('validation_failed');
  });

  it('refuses a returnUrl outside CONNECT_ALLOWED_ORIGINS', async () => {
    const res = await create({ tenant: { externalId: 'acme' }, returnUrl: 'https://evil.example.net/cb' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('return_url_not_allowed');
    expect((await create({ tenant: { externalId: 'acme' }, returnUrl: 'https://app.example.com/cb' })).statusCode).toBe(201);
  });

  it('rejects unknown fields and names the bad field', async () => {
    const extra = await create({ tenant: { externalId: 'acme' }, scopes: ['x'] });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().error).toMatchObject({ code: 'validation_failed' });
    expect(extra.json().error.message).toContain('scopes');
    const missing = await create({});
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.message).toContain('tenant');
    const badEnv = await create({ tenant: { externalId: 'acme' }, environment: 'staging' });
    expect(badEnv.statusCode).toBe(400);
  });

  it('lets a tenant-scoped key create sessions only for its own tenant', async () => {
    expect((await create({ tenant: { externalId: 'tenant-a' } }, t.tenantKey)).statusCode).toBe(201);
    const other = await create({ tenant: { externalId: 'tenant-b' } }, t.tenantKey);
    expect(other.statusCode).toBe(403);
  });

  it('answers malformed JSON with a 400 and a code', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/connect-sessions',
      headers: { ...bearer(t.adminKey), 'content-type': 'application/json' },
      payload: '{"tenant":',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBeTypeOf('string');
  });

  it('answers an unknown connect link with a clear page, never a 500', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/connect/cs_doesnotexist', headers: { accept: 'text/html' } });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('connect_session_not_found');
    const json = await t.app.inject({ method: 'GET', url: '/connect/cs_doesnotexist' });
    expect(json.json().error.code).toBe('connect_session_not_found');
  });

  it('serves an OpenAPI 3.1 document where every route has a response schema', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses?: object }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(Object.keys(op.responses ?? {}).length, `${method} ${path}`).toBeGreaterThan(0);
      }
    }
  });
});
