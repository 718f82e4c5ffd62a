import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from '../../apps/api/test/helpers.js';

/**
 * Bad input over HTTP (app.inject): values of the wrong JSON type, control characters in tenant ids and
 * names, NULs that Postgres cannot store. Each is a 400 `validation_failed` naming the field, never a 500
 * and never a silently changed value.
 */
describe('security: bad input', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  const send = (method: 'POST' | 'PATCH', url: string, payload: unknown) =>
    t.app.inject({ method, url, headers: { ...bearer(t.adminKey), 'content-type': 'application/json' }, payload: JSON.stringify(payload) });

  function expectRefused(res: { statusCode: number; json(): { error: { code: string; details?: { field?: string } } } }, field: string) {
    expect(res.statusCode, JSON.stringify(res.json())).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'validation_failed', details: { field } });
  }

  describe('JSON bodies are taken as sent: no type coercion', () => {
    it.each<[string, 'POST' | 'PATCH', string, unknown, string]>([
      ['a number as the tenant id', 'POST', '/v1/connect-sessions', { tenant: { externalId: 42 } }, 'body.tenant.externalId'],
      ['a boolean as the tenant id', 'POST', '/v1/connect-sessions', { tenant: { externalId: true } }, 'body.tenant.externalId'],
      ['null as the tenant name', 'POST', '/v1/connect-sessions', { tenant: { externalId: 'coerce-a', name: null } }, 'body.tenant.name'],
      ['a string as leverWebhookEvents', 'POST', '/v1/connect-sessions', { tenant: { externalId: 'coerce-a' }, leverWebhookEvents: 'applicationCreated' }, 'body.leverWebhookEvents'],
      ['a number as an API key name', 'POST', '/v1/api-keys', { name: 7 }, 'body.name'],
      ['a number as an API key tenant', 'POST', '/v1/api-keys', { name: 'k', tenantExternalId: 7 }, 'body.tenantExternalId'],
      ['a string as enabled', 'POST', '/v1/webhook-endpoints', { url: 'https://hooks.example.com/x', enabled: 'false' }, 'body.enabled'],
      ['a number as enabled', 'POST', '/v1/webhook-endpoints', { url: 'https://hooks.example.com/x', enabled: 0 }, 'body.enabled'],
      ['a string as eventTypes', 'POST', '/v1/webhook-endpoints', { url: 'https://hooks.example.com/x', eventTypes: 'connection.needs_reauth' }, 'body.eventTypes'],
    ])('refuses %s', async (_name, method, url, payload, field) => {
      expectRefused(await send(method, url, payload), field);
    });

    it('refuses a string where an endpoint update or a rotation expects a number or a boolean', async () => {
      const created = await send('POST', '/v1/webhook-endpoints', { url: 'https://hooks.example.com/strict' });
      expect(created.statusCode).toBe(201);
      const id = created.json().id as string;
      expectRefused(await send('PATCH', `/v1/webhook-endpoints/${id}`, { enabled: 'true' }), 'body.enabled');
      expectRefused(await send('POST', `/v1/webhook-endpoints/${id}/rotate-secret`, { overlapSeconds: '60' }), 'body.overlapSeconds');
      // Nothing was changed by the refused requests.
      expect((await t.app.inject({ method: 'GET', url: `/v1/webhook-endpoints/${id}`, headers: bearer(t.adminKey) })).json()).toMatchObject({ enabled: true });
      // The same requests with the right types go through.
      expect((await send('PATCH', `/v1/webhook-endpoints/${id}`, { enabled: false })).statusCode).toBe(200);
      expect((await send('POST', `/v1/webhook-endpoints/${id}/rotate-secret`, { overlapSeconds: 60 })).statusCode).toBe(200);
    });

    it('still coerces query strings and path parameters (they are text on the wire)', async () => {
      const list = await t.app.inject({ method: 'GET', url: '/v1/connections?limit=5', headers: bearer(t.adminKey) });
      expect(list.statusCode).toBe(200);
      const tenants = await t.app.inject({ method: 'GET', url: '/v1/tenants?limit=1', headers: bearer(t.adminKey) });
      expect(tenants.statusCode).toBe(200);
      expect(tenants.json().data.length).toBeLessThanOrEqual(1);
      const bad = await t.app.inject({ method: 'GET', url: '/v1/connections?limit=five', headers: bearer(t.adminKey) });
      expectRefused(bad, 'querystring.limit');
    });
  });
});
