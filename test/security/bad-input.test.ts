import { randomUUID } from 'node:crypto';
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
    t = await buildTestApp({ DEMO_ENABLED: 'true' });
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

  describe('tenant ids and names: no control characters, NFC', () => {
    // C0 (NUL, BEL, ESC, US), DEL, C1 (NEL, CSI), bidi overrides, embeddings, isolates and marks, a lone surrogate.
    const REFUSED = ['\u0000', '\u0007', '\u001b', '\u001f', '\u007f', '\u0085', '\u009b', '\u202a', '\u202e', '\u2066', '\u2069', '\u200f', '\u061c', '\ud800'];
    const hex = (c: string) => `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    const tenants = () => t.db.db.prisma.tenant.count();

    it.each(REFUSED.map((c) => [hex(c), c]))('refuses %s in a tenant id or name wherever one enters, and stores nothing', async (_name, c) => {
      // The domain's rule names the field as the domain does; a NUL is refused earlier, by the schema's check.
      const field = (name: string) => (c === '\u0000' ? `body.${name}` : name);
      const before = await tenants();
      expectRefused(await send('POST', '/v1/connect-sessions', { tenant: { externalId: `acme${c}evil` } }), field('tenant.externalId'));
      expectRefused(await send('POST', '/v1/connect-sessions', { tenant: { externalId: 'acme-ok', name: `Acme${c}` } }), field('tenant.name'));
      expectRefused(await send('POST', '/v1/api-keys', { name: 'k', tenantExternalId: `acme${c}` }), field('tenantExternalId'));
      expectRefused(await send('POST', '/v1/webhook-endpoints', { url: 'https://hooks.example.com/t', tenantExternalId: `${c}acme` }), field('tenantExternalId'));
      expect(await tenants()).toBe(before);
    });

    it('refuses one on a webhook endpoint update', async () => {
      const created = await send('POST', '/v1/webhook-endpoints', { url: 'https://hooks.example.com/u' });
      expectRefused(await send('PATCH', `/v1/webhook-endpoints/${created.json().id}`, { tenantExternalId: 'a\u202eb' }), 'tenantExternalId');
    });

    it('answers a NUL in a path parameter or a filter with 400, never a 500', async () => {
      for (const [method, url, field] of [
        ['GET', '/v1/tenants/%00', 'params.externalId'],
        ['GET', '/v1/tenants/acme%00', 'params.externalId'],
        ['DELETE', '/v1/tenants/acme%00', 'params.externalId'],
        ['GET', '/v1/connections?tenant=acme%00', 'querystring.tenant'],
      ] as const) {
        const res = await t.app.inject({ method, url, headers: bearer(t.adminKey) });
        expectRefused(res, field);
      }
      // The demo (simulator only, unauthenticated) reads connections by tenant too.
      const demo = await t.app.inject({ method: 'GET', url: '/demo/api/connections?tenant=acme%00' });
      expectRefused(demo, 'querystring.tenant');
    });

    it('stores ids and names NFC-normalized, and finds a tenant by either form', async () => {
      const decomposed = 'cafe\u0301-nfc'; // "café" as e + combining acute
      const composed = 'caf\u00e9-nfc';
      expect((await send('POST', '/v1/connect-sessions', { tenant: { externalId: decomposed, name: 'Zu\u0308rich' } })).statusCode).toBe(201);
      expect((await send('POST', '/v1/connect-sessions', { tenant: { externalId: composed } })).statusCode).toBe(201);
      const rows = await t.db.db.prisma.tenant.findMany({ where: { externalId: { startsWith: 'caf' } } });
      expect(rows.map((r) => [r.externalId, r.name])).toEqual([[composed, 'Z\u00fcrich']]);
      for (const form of [composed, decomposed]) {
        const res = await t.app.inject({ method: 'GET', url: `/v1/tenants/${encodeURIComponent(form)}`, headers: bearer(t.adminKey) });
        expect(res.statusCode, form).toBe(200);
        expect(res.json().externalId).toBe(composed);
      }
      const key = await send('POST', '/v1/api-keys', { name: 'nfc', tenantExternalId: decomposed });
      expect(key.json().apiKey.tenantExternalId).toBe(composed);
      // The key's scope is the same tenant, whichever form a session names it by.
      const scoped = await t.app.inject({
        method: 'POST',
        url: '/v1/connect-sessions',
        headers: { ...bearer(key.json().key), 'content-type': 'application/json' },
        payload: JSON.stringify({ tenant: { externalId: decomposed } }),
      });
      expect(scoped.statusCode).toBe(201);
    });

    it('keeps a tenant stored before the rule readable (id with a control character), but names no new one with it', async () => {
      const legacy = 'legacy\u202eid\u0001';
      await t.db.db.prisma.tenant.create({ data: { externalId: legacy } });
      const url = `/v1/tenants/${encodeURIComponent(legacy)}`;
      const read = await t.app.inject({ method: 'GET', url, headers: bearer(t.adminKey) });
      expect(read.statusCode).toBe(200);
      expect(read.json().externalId).toBe(legacy);
      const list = await t.app.inject({ method: 'GET', url: `/v1/connections?tenant=${encodeURIComponent(legacy)}`, headers: bearer(t.adminKey) });
      expect(list.statusCode).toBe(200);
      expect((await t.app.inject({ method: 'DELETE', url, headers: bearer(t.adminKey) })).statusCode).toBe(200);
      expectRefused(await send('POST', '/v1/connect-sessions', { tenant: { externalId: legacy } }), 'tenant.externalId');
    });

    it("never lets a scoped key reach a decomposed twin of its tenant stored before ids were normalized", async () => {
      const composed = 'm\u00fcller-scope';
      const decomposed = 'mu\u0308ller-scope';
      const key = (await send('POST', '/v1/api-keys', { name: 'scoped', tenantExternalId: composed })).json().key as string;
      const twin = await t.db.db.prisma.tenant.create({ data: { externalId: decomposed } });
      const asScoped = (externalId: string) =>
        t.app.inject({ method: 'POST', url: '/v1/connect-sessions', headers: { ...bearer(key), 'content-type': 'application/json' }, payload: JSON.stringify({ tenant: { externalId } }) });
      const denied = await asScoped(decomposed);
      expect(denied.statusCode).toBe(403);
      expect(await t.db.db.prisma.connectSession.count({ where: { tenantId: twin.id } })).toBe(0);
      expect((await asScoped(composed)).statusCode).toBe(201);
    });

    it('keeps using a tenant stored before ids were normalized (decomposed) rather than splitting it in two', async () => {
      const decomposed = 'legacy-re\u0301sume\u0301';
      const stored = await t.db.db.prisma.tenant.create({ data: { externalId: decomposed } });
      expect((await send('POST', '/v1/connect-sessions', { tenant: { externalId: decomposed } })).statusCode).toBe(201);
      const rows = await t.db.db.prisma.tenant.findMany({ where: { externalId: { startsWith: 'legacy-r' } } });
      expect(rows.map((r) => r.id)).toEqual([stored.id]);
      // Read by the id it was stored under, as before.
      const res = await t.app.inject({ method: 'GET', url: `/v1/tenants/${encodeURIComponent(decomposed)}`, headers: bearer(t.adminKey) });
      expect(res.json().externalId, res.body).toBe(decomposed);
    });
  });

  describe('no NUL reaches Postgres, whatever the field', () => {
    it.each<[string, 'POST' | 'PATCH', string, unknown, string]>([
      ['an API key name', 'POST', '/v1/api-keys', { name: 'key\u0000' }, 'body.name'],
      ['a webhook description', 'POST', '/v1/webhook-endpoints', { url: 'https://hooks.example.com/n', description: 'a\u0000b' }, 'body.description'],
      ['a returnUrl', 'POST', '/v1/connect-sessions', { tenant: { externalId: 'nul-a' }, returnUrl: 'https://app.example.com/\u0000' }, 'body.returnUrl'],
      ['an object key in a free-form body', 'POST', '/lever/webhooks/00000000-0000-4000-8000-000000000000', { token: 't', data: { 'a\u0000': 1 } }, 'body.data.a\u0000'],
    ])('refuses a NUL in %s with 400', async (_name, method, url, payload, field) => {
      expectRefused(await send(method, url, payload), field);
    });

    it('refuses a NUL in a query string', async () => {
      expectRefused(await t.app.inject({ method: 'GET', url: '/v1/tenants?cursor=a%00', headers: bearer(t.adminKey) }), 'querystring.cursor');
    });
  });

  describe("a finished connect session's result stops being readable", () => {
    const MINUTE = 60_000;
    async function session(tenant: string, finish: { usedAt?: Date; expiresAt?: Date; resultStatus?: string }) {
      const created = await send('POST', '/v1/connect-sessions', { tenant: { externalId: tenant } });
      const token = created.json().token as string;
      await t.db.db.prisma.connectSession.updateMany({ where: { tenant: { externalId: tenant } }, data: finish });
      return t.app.inject({ method: 'GET', url: `/connect/${token}/result` });
    }

    it('is read as usual until 10 minutes (CONNECT_RESULT_TTL_SECONDS) after the session finished', async () => {
      const used = await session('result-ttl-used-recent', { usedAt: new Date(Date.now() - 9 * MINUTE), resultStatus: 'success' });
      expect(used.statusCode).toBe(200);
      expect(used.json()).toMatchObject({ status: 'success' });
      const expired = await session('result-ttl-expired-recent', { expiresAt: new Date(Date.now() - 9 * MINUTE), resultStatus: 'error' });
      expect(expired.statusCode).toBe(200);
      expect(expired.json()).toMatchObject({ status: 'error' });
      // An error recorded on an open session does not finish it (the customer may try again).
      const open = await session('result-ttl-open', { resultStatus: 'error' });
      expect(open.json()).toMatchObject({ status: 'error' });
    });

    it('answers 404 connect_session_not_found, as for an unknown token, once that time has passed', async () => {
      const unknown = await t.app.inject({ method: 'GET', url: '/connect/cs_unknown/result' });
      for (const res of [
        await session('result-ttl-used-old', { usedAt: new Date(Date.now() - 11 * MINUTE), resultStatus: 'success' }),
        await session('result-ttl-expired-old', { expiresAt: new Date(Date.now() - 11 * MINUTE) }),
      ]) {
        expect(res.statusCode).toBe(404);
        expect(res.json().error).toEqual(unknown.json().error);
        expect(res.body).not.toContain('connectionId');
      }
    });
  });

  describe("a tenant's connections are listed at most 100 at a time", () => {
    async function tenantWith(externalId: string, count: number) {
      const tenant = await t.db.db.prisma.tenant.create({ data: { externalId } });
      const now = Date.now();
      await t.db.db.prisma.connection.createMany({
        data: Array.from({ length: count }, (_, i) => ({
          tenantId: tenant.id,
          environment: 'production' as const,
          leverAccountId: `acct-${i}`,
          scopes: [],
          createdAt: new Date(now - i * 1000), // acct-0 is the newest
        })),
      });
      return tenant;
    }
    const get = (url: string) => t.app.inject({ method: 'GET', url, headers: bearer(t.adminKey) });

    it('answers the newest 100, says the list is truncated and where the rest is', async () => {
      await tenantWith('many-connections', 103);
      const res = await get('/v1/tenants/many-connections');
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.connections).toHaveLength(100);
      expect(body.connections[0].leverAccountId).toBe('acct-0');
      expect(body.connections[99].leverAccountId).toBe('acct-99');
      expect(body.connectionsTruncated).toBe(true);
      const rest = await get(`/v1/connections?tenant=many-connections&limit=100&cursor=${body.connectionsNextCursor}`);
      expect(rest.json().data.map((c: { leverAccountId: string }) => c.leverAccountId)).toEqual(['acct-100', 'acct-101', 'acct-102']);
      expect(rest.json().nextCursor).toBeNull();
    });

    it('says when nothing was left out', async () => {
      await tenantWith('few-connections', 2);
      const body = (await get('/v1/tenants/few-connections')).json();
      expect(body.connections).toHaveLength(2);
      expect(body).toMatchObject({ connectionsTruncated: false, connectionsNextCursor: null });
    });

    it('still disconnects every connection of the tenant, and removes the Lever webhooks of each', async () => {
      const tenant = await tenantWith('many-to-delete', 103);
      const oldest = await t.db.db.prisma.connection.findFirstOrThrow({ where: { tenantId: tenant.id, leverAccountId: 'acct-102' } });
      await t.db.db.prisma.leverWebhookSubscription.create({ data: { id: randomUUID(), connectionId: oldest.id, event: 'applicationCreated' } });
      const res = await t.app.inject({ method: 'DELETE', url: '/v1/tenants/many-to-delete', headers: bearer(t.adminKey) });
      expect(res.json()).toEqual({ disconnected: 103 });
      expect(await t.db.db.prisma.leverWebhookSubscription.count({ where: { connectionId: oldest.id } })).toBe(0);
    });
  });

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
