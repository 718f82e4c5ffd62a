import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, insertConnection, type TestApp } from '../../apps/api/test/helpers.js';
import { ROUTE_ACCESS } from '../../apps/api/src/route-access.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
const routes = Object.entries(ROUTE_ACCESS).map(([route, access]) => {
  const [method, url] = route.split(' ') as [Method, string];
  return { route, method, url, access };
});
const STACK_TRACE = /\n\s+at |node_modules|\.ts:\d+|Prisma|ECONN/;

/**
 * Attacks on the REST API with the app in-process (app.inject). Per-route tenant isolation and 401/403 on
 * every route are walked in apps/api/test/isolation.test.ts and auth.test.ts; this file adds the attacker's
 * view: forged and revoked keys, guessed ids, malformed and oversized bodies, header injection, and a fuzz
 * of every route.
 */
describe('security: API attacks', () => {
  let t: TestApp;
  let revokedKey: string;
  let otherTenantKey: string;

  beforeAll(async () => {
    t = await buildTestApp();
    const created = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(t.adminKey), payload: { name: 'to revoke' } });
    revokedKey = created.json().key;
    await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${created.json().apiKey.id}`, headers: bearer(t.adminKey) });
    const other = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(t.adminKey), payload: { name: 'b', tenantExternalId: 'tenant-b' } });
    otherTenantKey = other.json().key;
  });
  afterAll(async () => {
    await t?.close();
  });

  const sample = (url: string) =>
    url.replace(':id', randomUUID()).replace(':deliveryId', randomUUID()).replace(':externalId', 'tenant-a').replace(':token', 'cs_unknown');

  it('refuses missing, forged, truncated and revoked keys on every non-public route with 401 and a code', async () => {
    const forged = t.adminKey.slice(0, -4) + (t.adminKey.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    for (const { route, method, url, access } of routes) {
      if (access === 'public') continue;
      for (const headers of [{}, bearer(forged), bearer(t.adminKey.slice(0, 20)), bearer(revokedKey), { authorization: t.adminKey }, { authorization: `Bearer  ${t.adminKey}x` }]) {
        const res = await t.app.inject({ method, url: sample(url), headers });
        expect(res.statusCode, `${route} ${JSON.stringify(headers).slice(0, 40)}`).toBe(401);
        expect(res.json().error.code).toMatch(/^(missing_api_key|invalid_api_key)$/);
      }
    }
  });

  it("answers another tenant's key with 404 (tenant routes) or 403 (admin routes) for tenant A's real ids, never the data", async () => {
    // Real resources of tenant-a: a connection with tokens, an event, a connect session, a webhook endpoint with
    // a delivery. Random ids would pass with no isolation at all; these exist, and tenant-a's own key reads them.
    const a = await insertConnection(t, 'tenant-a');
    const session = await t.app.inject({ method: 'POST', url: '/v1/connect-sessions', headers: bearer(t.adminKey), payload: { tenant: { externalId: 'tenant-a' } } });
    expect(session.statusCode).toBe(201);
    const endpoint = await t.app.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: bearer(t.adminKey), payload: { url: 'http://localhost:9/hooks' } });
    expect(endpoint.statusCode).toBe(201);
    const endpointId: string = endpoint.json().id;
    const test = await t.app.inject({ method: 'POST', url: `/v1/webhook-endpoints/${endpointId}/test`, headers: bearer(t.adminKey) });
    expect(test.statusCode).toBe(202);
    const deliveryId: string = test.json().deliveryId;
    const real = (url: string) =>
      url
        .replace(':id', url.startsWith('/v1/webhook-endpoints') ? endpointId : a.connection.id)
        .replace(':deliveryId', deliveryId)
        .replace(':externalId', 'tenant-a');
    // The ids are real: tenant-a's own key reads its connection and its tenant.
    expect((await t.app.inject({ method: 'GET', url: `/v1/connections/${a.connection.id}`, headers: bearer(t.tenantKey) })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/v1/tenants/tenant-a', headers: bearer(t.tenantKey) })).statusCode).toBe(200);

    const secrets = [a.connection.id, a.accessToken, 'tenant-a'];
    for (const { route, method, url, access } of routes) {
      if (access === 'public' || route === 'POST /v1/connect-sessions') continue;
      const res = await t.app.inject({ method, url: real(url), headers: bearer(otherTenantKey), ...(method === 'POST' || method === 'PATCH' ? { payload: {} } : {}) });
      if (access === 'admin') expect(res.statusCode, route).toBe(403);
      else if (url.includes(':')) expect([400, 404], route).toContain(res.statusCode);
      for (const secret of secrets) expect(res.body, `${route} leaks ${secret === a.accessToken ? 'the access token' : secret}`).not.toContain(secret);
    }
    // Nothing tenant-b's key did changed tenant-a's connection.
    expect((await t.app.inject({ method: 'GET', url: `/v1/connections/${a.connection.id}`, headers: bearer(t.tenantKey) })).json()).toMatchObject({ id: a.connection.id, status: 'active' });
    const cross = await t.app.inject({
      method: 'POST',
      url: '/v1/connect-sessions',
      headers: bearer(otherTenantKey),
      payload: { tenant: { externalId: 'tenant-a' } },
    });
    expect(cross.statusCode).toBe(403);
  });

  it('answers guessed ids with 404 and non-UUIDs with 400, never 500', async () => {
    for (const { route, method, url } of routes.filter((r) => r.url.includes(':id'))) {
      for (const id of [randomUUID(), '00000000-0000-0000-0000-000000000000', '1', "1' OR '1'='1", '../../etc/passwd', 'x'.repeat(250)]) {
        const res = await t.app.inject({ method, url: url.replace(':id', encodeURIComponent(id)).replace(':deliveryId', randomUUID()), headers: bearer(t.adminKey), ...(method === 'POST' || method === 'PATCH' ? { payload: {} } : {}) });
        expect(res.statusCode, `${route} ${id}`).toBeLessThan(500);
        expect(res.statusCode, `${route} ${id}`).toBeGreaterThanOrEqual(400);
      }
    }
  });

  it('answers malformed JSON, a wrong content type and unknown fields with 4xx and a code', async () => {
    const post = (payload: string, contentType = 'application/json') =>
      t.app.inject({ method: 'POST', url: '/v1/connect-sessions', headers: { ...bearer(t.adminKey), 'content-type': contentType }, payload });
    for (const bad of ['{', '{"tenant":', 'null', '[]', '"x"', '{"tenant":{"externalId":"a"}}}', '\u0000']) {
      const res = await post(bad);
      expect(res.statusCode, bad).toBe(400);
      expect(res.json().error.code, bad).toMatch(/^(malformed_body|validation_failed|bad_request)$/);
    }
    const xml = await post('<tenant/>', 'application/xml');
    expect(xml.statusCode).toBe(415);
    expect(xml.json().error.code).toBe('unsupported_media_type');
    const unknown = await post(JSON.stringify({ tenant: { externalId: 'a' }, isAdmin: true }));
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error).toMatchObject({ code: 'validation_failed', details: { field: expect.stringContaining('isAdmin') } });
    const proto = await post('{"tenant":{"externalId":"a"},"__proto__":{"admin":true}}');
    expect(proto.statusCode).toBe(400);
  });

  it('answers a body over 64 KiB with 413 body_too_large', async () => {
    for (const url of ['/v1/connect-sessions', '/v1/webhook-endpoints', '/v1/api-keys']) {
      const res = await t.app.inject({
        method: 'POST',
        url,
        headers: { ...bearer(t.adminKey), 'content-type': 'application/json' },
        payload: JSON.stringify({ tenant: { externalId: 'a' }, pad: 'x'.repeat(70 * 1024) }),
      });
      expect(res.statusCode, url).toBe(413);
      expect(res.json().error.code).toBe('body_too_large');
    }
  });

  it('never echoes an unsafe x-request-id (CRLF, spaces, over-long) and never lets it set a header', async () => {
    for (const id of ['abc\r\nSet-Cookie: session=evil', 'a b', 'x'.repeat(65), '<script>', 'ok%0d%0aX-Evil:1']) {
      let res;
      try {
        res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': id } });
      } catch {
        continue; // the HTTP layer itself refused the header: nothing to echo
      }
      const echoed = String(res.headers['x-request-id']);
      expect(echoed).not.toBe(id);
      expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.headers['x-evil']).toBeUndefined();
    }
    const safe = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'req-123_abc.def' } });
    expect(safe.headers['x-request-id']).toBe('req-123_abc.def');
  });

  describe('fuzz: every route with generated bad input (fast-check)', () => {
    const segment = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.uuid(),
      fc.constantFrom('', '%00', '..', '%2e%2e%2f', '😀', "'", '"', '\\', 'null', '-1', '1e309', 'x'.repeat(400)),
    );
    const queryValue = fc.oneof(fc.string({ maxLength: 40 }), fc.integer().map(String), fc.constantFrom('true', 'null', '[]', '%', '&&', '='));
    const query = fc.dictionary(fc.constantFrom('limit', 'cursor', 'tenant', 'status', 'type', 'after', 'forceRefresh', 'mode', 'environment', 'x', '__proto__'), queryValue, { maxKeys: 4 });
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.record({
        tenant: fc.oneof(fc.record({ externalId: fc.string({ maxLength: 250 }) }), fc.anything({ maxDepth: 2 })),
        url: fc.oneof(fc.webUrl(), fc.string({ maxLength: 60 })),
        name: fc.string({ maxLength: 250 }),
        eventTypes: fc.array(fc.string({ maxLength: 30 }), { maxLength: 4 }),
        enabled: fc.anything({ maxDepth: 1 }),
        environment: fc.string({ maxLength: 12 }),
        connectionId: segment,
        returnUrl: fc.string({ maxLength: 100 }),
        overlapSeconds: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 5 })),
      }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
    );
    const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x');
    const auth = (k: TestApp) => fc.constantFrom<Record<string, string>>(bearer(k.adminKey), bearer(k.tenantKey), {}, { authorization: 'Bearer lc_fuzz' });

    it.each(routes.map((r) => [r.route, r] as const))('%s: never 5xx, never a stack trace', async (_route, r) => {
      await fc.assert(
        fc.asyncProperty(fc.array(segment, { minLength: 3, maxLength: 3 }), query, body, contentType, auth(t), async (segs, q, payload, type, headers) => {
          let i = 0;
          const path = r.url.replace(/:[A-Za-z]+/g, () => encodeURIComponent(segs[i++] ?? ''));
          const qs = new URLSearchParams(q as Record<string, string>).toString();
          const hasBody = r.method === 'POST' || r.method === 'PATCH';
          const res = await t.app.inject({
            method: r.method,
            url: `${path}${qs ? `?${qs}` : ''}`,
            headers: { ...headers, ...(hasBody ? { 'content-type': type } : {}) },
            ...(hasBody ? { payload } : {}),
          });
          if (res.statusCode >= 500 || STACK_TRACE.test(res.body)) {
            throw new Error(`${r.method} ${path}?${qs} → ${res.statusCode} ${res.body.slice(0, 300)}`);
          }
        }),
        { numRuns: Number(process.env.FUZZ_RUNS ?? 100) },
      );
    });
  });
});
