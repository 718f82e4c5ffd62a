import { randomUUID } from 'node:crypto';
import { SCOPES, allows, type Scope } from '@lever-connect/connections';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_SCOPES } from '../src/route-access.js';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A request for a route pattern: ids made up (the answer may be 404; what matters is whether auth let it in). */
function requestFor(route: string): { method: Method; url: string; payload?: object } {
  const [method, pattern] = route.split(' ') as [Method, string];
  const url = pattern
    .replace(':deliveryId', randomUUID())
    .replace(':externalId', 'scope-tenant')
    .replace(':id', randomUUID())
    .replace('*', 'users');
  const payload =
    method === 'POST' && pattern === '/v1/connect-sessions'
      ? { tenant: { externalId: 'scope-tenant' } }
      : method === 'POST' && pattern === '/v1/api-keys'
        ? { name: 'k' }
        : method === 'POST' && pattern === '/v1/webhook-endpoints'
          ? { url: 'https://example.com/hook' }
          : method === 'PATCH'
            ? { description: 'd' }
            : undefined;
  return { method, url, ...(payload ? { payload } : {}) };
}

/** API key scopes (least privilege): every keyed route names the scope it needs, and a key without it gets 403 insufficient_scope. */
describe('API key scopes', () => {
  let t: TestApp;
  const keys = new Map<string, string>();
  beforeAll(async () => {
    t = await buildTestApp();
    for (const scope of SCOPES) keys.set(scope, (await t.core.apiKeys.create({ name: scope, scopes: [scope] })).key);
  });
  afterAll(async () => {
    await t?.close();
  });

  const routes = Object.entries(ROUTE_SCOPES);

  it.each(routes)('%s needs %s: a key without it gets 403 insufficient_scope, one with it is let in', async (route, needed) => {
    const req = requestFor(route);
    for (const scope of SCOPES) {
      const res = await t.app.inject({ ...req, headers: bearer(keys.get(scope)!) });
      if (allows([scope], needed as Scope)) {
        expect(res.statusCode, `${scope} on ${route}: ${res.body}`).not.toBe(401);
        expect(res.body, `${scope} on ${route}`).not.toContain('insufficient_scope');
      } else {
        expect(res.statusCode, `${scope} on ${route}`).toBe(403);
        expect(res.json().error).toMatchObject({ code: 'insufficient_scope', details: { scope: needed } });
      }
    }
  });

  it('lets connections:write read too, and admin do everything', () => {
    expect(allows(['connections:write'], 'connections:read')).toBe(true);
    expect(allows(['connections:read'], 'connections:write')).toBe(false);
    for (const scope of SCOPES) expect(allows(['admin'], scope)).toBe(true);
  });

  it('creates keys with scopes over HTTP (tenant keys never get admin or webhooks:write) and lists them', async () => {
    const create = (payload: object) => t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(t.adminKey), payload });
    const read = await create({ name: 'reader', tenantExternalId: 'scope-a', scopes: ['tokens:read'] });
    expect(read.statusCode).toBe(201);
    expect(read.json().apiKey).toMatchObject({ scopes: ['tokens:read'], tenantExternalId: 'scope-a' });
    expect((await create({ name: 'x', tenantExternalId: 'scope-a', scopes: ['admin'] })).json().error.code).toBe('validation_failed');
    expect((await create({ name: 'x', tenantExternalId: 'scope-a', scopes: ['webhooks:write'] })).json().error.code).toBe('validation_failed');
    expect((await create({ name: 'x', scopes: ['everything'] })).statusCode).toBe(400);
    expect((await create({ name: 'x', scopes: [] })).statusCode).toBe(400);
    expect((await create({ name: 'default' })).json().apiKey.scopes).toEqual(['admin']);
    expect((await create({ name: 'tenant default', tenantExternalId: 'scope-a' })).json().apiKey.scopes).toEqual(['tokens:read', 'connections:read', 'connections:write']);
    const listed = (await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(t.adminKey) })).json().data as Array<{ name: string; scopes: string[] }>;
    expect(listed.find((k) => k.name === 'reader')!.scopes).toEqual(['tokens:read']);
  });

  it('keeps keys made before scopes working as they did (an unscoped key as admin, a tenant key with its full set)', async () => {
    const prisma = t.db.db.prisma;
    const legacy = await t.core.apiKeys.create({ name: 'legacy', tenantExternalId: 'scope-legacy' });
    await prisma.apiKey.update({ where: { id: legacy.apiKey.id }, data: { scopes: [] } });
    const legacyAdmin = await t.core.apiKeys.create({ name: 'legacy admin' });
    await prisma.apiKey.update({ where: { id: legacyAdmin.apiKey.id }, data: { scopes: [] } });
    expect((await t.app.inject({ method: 'GET', url: `/v1/connections`, headers: bearer(legacy.key) })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'POST', url: '/v1/connect-sessions', headers: bearer(legacy.key), payload: { tenant: { externalId: 'scope-legacy' } } })).statusCode).toBe(201);
    expect((await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(legacy.key) })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(legacyAdmin.key) })).statusCode).toBe(200);
  });
});
