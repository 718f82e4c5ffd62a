import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createConsoleSessions, writeConnectionEvent } from '@lever-connect/connections';
import { ensureConsoleBuilt } from '@lever-connect/console/build';
import cookie from '@fastify/cookie';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleCookieName, setSessionCookie } from '../src/console/session.js';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** The `name=value` of a Set-Cookie header, and its attributes (lower-cased names). */
function parseSetCookie(header: string) {
  const [pair, ...attributes] = header.split(';').map((s) => s.trim());
  const [name, value] = pair!.split('=') as [string, string];
  return { name, value, attributes: new Map(attributes.map((a) => [a.split('=')[0]!.toLowerCase(), a.split('=')[1] ?? true])) };
}

describe('the console session (HTTP)', () => {
  let t: TestApp;
  let connectionId: string;
  let secrets: string[];

  const signIn = async (apiKey: string, headers: Record<string, string> = {}) => {
    const res = await t.app.inject({ method: 'POST', url: '/console/session', payload: { apiKey }, headers });
    expect(res.statusCode, res.body).toBe(201);
    const cookie = parseSetCookie(String(res.headers['set-cookie']));
    return { cookie: `${cookie.name}=${cookie.value}`, token: cookie.value, csrf: res.json().csrfToken as string, body: res.json(), setCookie: cookie };
  };
  const withSession = (s: { cookie: string; csrf?: string }, method: Method, url: string, options: { payload?: object; csrf?: string | null; headers?: Record<string, string> } = {}) =>
    t.app.inject({
      method,
      url,
      headers: { cookie: s.cookie, ...(options.csrf === null ? {} : { 'x-csrf-token': options.csrf ?? s.csrf ?? '' }), ...options.headers },
      ...(options.payload ? { payload: options.payload } : {}),
    });

  beforeAll(async () => {
    await ensureConsoleBuilt();
    t = await buildTestApp();
    const prisma = t.db.db.prisma;
    // A connection with real tokens, read once (token reads), and a webhook endpoint: every secret the
    // console's pages could come near.
    const tenant = await prisma.tenant.upsert({ where: { externalId: 'tenant-a' }, create: { externalId: 'tenant-a' }, update: {} });
    connectionId = randomUUID();
    const accessToken = `at_${randomBytes(16).toString('hex')}`;
    const refreshToken = `rt_${randomBytes(16).toString('hex')}`;
    const connection = await prisma.connection.create({
      data: {
        id: connectionId,
        tenantId: tenant.id,
        environment: 'production',
        leverAccountId: 'acct_console',
        scopes: ['offline_access'],
        accessTokenCiphertext: t.core.cipher.encrypt(accessToken, { row: connectionId, column: 'accessToken' }),
        refreshTokenCiphertext: t.core.cipher.encrypt(refreshToken, { row: connectionId, column: 'refreshToken' }),
        accessTokenExpiresAt: new Date(Date.now() + 3600_000),
        refreshTokenIssuedAt: new Date(),
        grantCreatedAt: new Date(),
      },
      include: { tenant: { select: { externalId: true } } },
    });
    await writeConnectionEvent(prisma, 'connection.created', connection);
    const read = await t.app.inject({ method: 'GET', url: `/v1/connections/${connectionId}/access-token`, headers: bearer(t.adminKey) });
    expect(read.json().accessToken).toBe(accessToken);
    const endpoint = await t.app.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: bearer(t.adminKey), payload: { url: 'http://localhost:9/hooks' } });
    secrets = [accessToken, refreshToken, t.adminKey, t.tenantKey, endpoint.json().secret];
  });
  afterAll(async () => {
    await t?.close();
  });

  it('exchanges an API key for an HttpOnly, SameSite=Strict session cookie and answers a CSRF token, never the key', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/console/session', payload: { apiKey: t.adminKey } });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const cookie = parseSetCookie(String(res.headers['set-cookie']));
    expect(cookie.name).toBe('lc_console');
    expect(cookie.value).toMatch(/^lcs_[A-Za-z0-9_-]{43}$/);
    expect(cookie.attributes.get('httponly')).toBe(true);
    expect(cookie.attributes.get('samesite')).toBe('Strict');
    expect(cookie.attributes.get('path')).toBe('/');
    expect(cookie.attributes.has('secure')).toBe(false); // not production
    expect(cookie.attributes.has('domain')).toBe(false);
    expect(res.json()).toEqual({
      csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      principal: { apiKeyId: expect.any(String), apiKeyPrefix: t.adminKey.slice(0, 9), tenantExternalId: null, admin: true },
      idleTimeoutSeconds: 1800,
    });
    expect(res.body).not.toContain(t.adminKey);
    // Only the token's hash is stored.
    const rows = await t.db.db.prisma.consoleSession.findMany();
    expect(rows.some((r) => r.tokenHash === cookie.value)).toBe(false);
    expect(JSON.stringify(rows)).not.toContain(cookie.value);
  });

  it('lets the cookie stand for its key on /v1 routes, and only there', async () => {
    const s = await signIn(t.adminKey);
    const list = await withSession(s, 'GET', '/v1/connections');
    expect(list.statusCode).toBe(200);
    expect(list.json().data.map((c: { id: string }) => c.id)).toContain(connectionId);
    expect((await withSession(s, 'GET', '/v1/webhook-endpoints')).statusCode).toBe(200);
    // Not for the operator's other doors: /metrics and the queue dashboard still need the key itself.
    const metrics = await withSession(s, 'GET', '/metrics');
    expect(metrics.statusCode).toBe(401);
    expect(metrics.json().error.code).toBe('missing_api_key');
    // Without a cookie and without a key: the usual 401.
    expect((await t.app.inject({ method: 'GET', url: '/v1/connections' })).json().error.code).toBe('missing_api_key');
  });

  it('gives a tenant key session its own tenant only, and refuses it the admin routes', async () => {
    const other = await t.db.db.prisma.tenant.create({ data: { externalId: 'tenant-z' } });
    const hidden = await t.db.db.prisma.connection.create({
      data: { tenantId: other.id, environment: 'production', leverAccountId: 'acct_z', scopes: [] },
    });
    const s = await signIn(t.tenantKey);
    expect(s.body.principal).toEqual({ apiKeyId: expect.any(String), apiKeyPrefix: t.tenantKey.slice(0, 9), tenantExternalId: 'tenant-a', admin: false });
    const list = await withSession(s, 'GET', '/v1/connections');
    expect(list.json().data.map((c: { tenant: { externalId: string } }) => c.tenant.externalId)).toEqual(['tenant-a']);
    expect((await withSession(s, 'GET', `/v1/connections/${hidden.id}`)).statusCode).toBe(404);
    expect((await withSession(s, 'GET', '/v1/overview')).json().connections.total).toBe(1);
    for (const url of ['/v1/webhook-endpoints', '/v1/api-keys']) {
      const res = await withSession(s, 'GET', url);
      expect(res.statusCode, url).toBe(403);
      expect(res.json().error.code).toBe('forbidden');
    }
    const session = await withSession(s, 'POST', '/v1/connect-sessions', { payload: { tenant: { externalId: 'tenant-z' } } });
    expect(session.statusCode).toBe(403);
  });

  it('refuses a change without the CSRF token, with a wrong one, or from another origin', async () => {
    const s = await signIn(t.adminKey);
    const url = `/v1/connections/${randomUUID()}/refresh`;
    for (const [what, options] of [
      ['no header', { csrf: null }],
      ['a wrong token', { csrf: 'x'.repeat(43) }],
      ["another session's token", { csrf: (await signIn(t.adminKey)).csrf }],
      ['another origin', { headers: { origin: 'https://evil.example' } }],
      ['a cross-site fetch', { headers: { 'sec-fetch-site': 'cross-site' } }],
    ] as const) {
      const res = await withSession(s, 'POST', url, options);
      expect(res.statusCode, what).toBe(403);
      expect(res.json().error.code, what).toBe('csrf_token_invalid');
    }
    // With the token, from the page's own origin: past the session, to the route (an unknown connection).
    const ok = await withSession(s, 'POST', url, { headers: { origin: 'http://console.test:8080', host: 'console.test:8080', 'sec-fetch-site': 'same-origin' } });
    expect(ok.statusCode).toBe(404);
    // Or from PUBLIC_BASE_URL's origin, when a proxy in front sends another Host.
    const proxied = await withSession(s, 'POST', url, { headers: { origin: new URL(t.core.config.publicBaseUrl).origin, host: 'api.internal:3000' } });
    expect(proxied.statusCode).toBe(404);
    const sameHostOtherScheme = await withSession(s, 'POST', url, { headers: { origin: 'https://console.test:8080', host: 'console.test:8080' } });
    expect(sameHostOtherScheme.statusCode).toBe(404);
    // Reads need no token (SameSite=Strict keeps other sites' requests from carrying the cookie at all).
    expect((await withSession(s, 'GET', '/v1/connections', { csrf: null })).statusCode).toBe(200);
    // A key is never subject to it.
    expect((await t.app.inject({ method: 'POST', url, headers: bearer(t.adminKey) })).statusCode).toBe(404);
  });

  it('signs in with JSON from its own origin only, and refuses bad keys alike', async () => {
    const form = await t.app.inject({ method: 'POST', url: '/console/session', payload: `apiKey=${t.adminKey}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.statusCode).toBe(415);
    expect(form.headers['set-cookie']).toBeUndefined();
    const cross = await t.app.inject({ method: 'POST', url: '/console/session', payload: { apiKey: t.adminKey }, headers: { origin: 'https://evil.example' } });
    expect(cross.statusCode).toBe(403);
    expect(cross.json().error.code).toBe('csrf_token_invalid');
    for (const apiKey of ['nonsense', `lc_${'A'.repeat(43)}`]) {
      const res = await t.app.inject({ method: 'POST', url: '/console/session', payload: { apiKey } });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('invalid_api_key');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    expect((await t.app.inject({ method: 'POST', url: '/console/session', payload: {} })).json().error.code).toBe('validation_failed');
  });

  it('signs a session out at once when its key is revoked', async () => {
    const { key, apiKey } = await t.core.apiKeys.create({ name: 'support desk' });
    const s = await signIn(key);
    expect((await withSession(s, 'GET', '/v1/connections')).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${apiKey.id}`, headers: bearer(t.adminKey) })).statusCode).toBe(204);
    const after = await withSession(s, 'GET', '/v1/connections');
    expect(after.statusCode).toBe(401);
    expect(after.json().error.code).toBe('console_session_invalid');
    const session = await withSession(s, 'GET', '/console/session');
    expect(session.statusCode).toBe(204);
    expect(parseSetCookie(String(session.headers['set-cookie'])).attributes.get('expires')).toMatch(/1970/);
    expect(await t.db.db.prisma.consoleSession.count({ where: { apiKeyId: apiKey.id } })).toBe(0);
  });

  it('ends a session left idle past CONSOLE_SESSION_IDLE_SECONDS', async () => {
    const s = await signIn(t.adminKey);
    expect((await withSession(s, 'GET', '/v1/connections')).statusCode).toBe(200);
    // As if its last use were 31 minutes ago (the default idle timeout is 30).
    await t.db.db.prisma.consoleSession.updateMany({ data: { lastUsedAt: new Date(Date.now() - 31 * 60_000) }, where: { tokenHash: createHash('sha256').update(s.token).digest('hex') } });
    const res = await withSession(s, 'GET', '/v1/connections');
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('console_session_invalid');
  });

  it('signs out with the CSRF token, after which the cookie is worth nothing', async () => {
    const s = await signIn(t.adminKey);
    const refused = await withSession(s, 'DELETE', '/console/session', { csrf: null });
    expect(refused.statusCode).toBe(403);
    expect((await withSession(s, 'GET', '/console/session')).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/console/session' })).statusCode).toBe(204); // no cookie: signed out
    const out = await withSession(s, 'DELETE', '/console/session');
    expect(out.statusCode).toBe(204);
    expect(parseSetCookie(String(out.headers['set-cookie'])).attributes.get('expires')).toMatch(/1970/);
    expect((await withSession(s, 'GET', '/v1/connections')).json().error.code).toBe('console_session_invalid');
    // Signing out again is harmless.
    expect((await withSession(s, 'DELETE', '/console/session')).statusCode).toBe(204);
  });

  it('judges a request with a key by its key, whatever cookie it carries', async () => {
    const s = await signIn(t.tenantKey);
    const res = await t.app.inject({ method: 'GET', url: '/v1/webhook-endpoints', headers: { cookie: s.cookie, ...bearer(t.adminKey) } });
    expect(res.statusCode).toBe(200);
    const bad = await t.app.inject({ method: 'GET', url: '/v1/connections', headers: { cookie: s.cookie, authorization: 'Bearer nonsense' } });
    expect(bad.json().error.code).toBe('invalid_api_key');
  });

  it('never puts a token, a key or a webhook secret in a page or an answer the console reads', async () => {
    const s = await signIn(t.adminKey);
    const endpointId = (await withSession(s, 'GET', '/v1/webhook-endpoints')).json().data[0].id;
    const urls = [
      '/console',
      '/console/connections',
      `/console/connections/${connectionId}`,
      '/console/session',
      '/v1/overview',
      '/v1/connections',
      `/v1/connections?q=tenant-a`,
      `/v1/connections/${connectionId}`,
      `/v1/events?connectionId=${connectionId}`,
      `/v1/connections/${connectionId}/token-reads`,
      '/v1/webhook-endpoints',
      `/v1/webhook-endpoints/${endpointId}`,
      `/v1/webhook-endpoints/${endpointId}/deliveries`,
      '/v1/api-keys',
    ];
    for (const url of urls) {
      const res = await withSession(s, 'GET', url);
      expect(res.statusCode, url).toBe(200);
      for (const secret of [...secrets, s.token]) expect(res.body, url).not.toContain(secret);
    }
  });

  describe('the page and its files', () => {
    it('serves the page for every console path, with a strict CSP, revalidated on each load', async () => {
      for (const url of ['/console', '/console/', '/console/connections/abc', '/console/api-keys']) {
        const res = await t.app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(200);
        expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(res.body).toContain('<div id="app"></div>');
        expect(res.headers['content-security-policy']).toBe(
          "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        );
        expect(res.headers['cache-control']).toBe('no-cache');
        expect(res.headers['x-frame-options']).toBe('DENY');
        expect(res.headers['x-content-type-options']).toBe('nosniff');
      }
      // Nothing inline and nothing from elsewhere: every script and stylesheet is a file of ours.
      const html = (await t.app.inject({ method: 'GET', url: '/console' })).body;
      expect(html).not.toMatch(/<script(?![^>]*\ssrc="\/console\/assets\/)/);
      expect(html).not.toMatch(/<style|style="|https?:\/\//);
    });

    it('serves the hashed files for a year, answers 304 to a matching ETag, and 404 to an unknown file', async () => {
      const html = (await t.app.inject({ method: 'GET', url: '/console' })).body;
      const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
      expect(assets.length).toBeGreaterThanOrEqual(2);
      for (const url of assets) {
        const res = await t.app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(200);
        expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
        expect(res.headers['content-type']).toMatch(url.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
        const again = await t.app.inject({ method: 'GET', url, headers: { 'if-none-match': String(res.headers.etag) } });
        expect(again.statusCode).toBe(304);
      }
      expect((await t.app.inject({ method: 'GET', url: '/console/assets/nope.js' })).statusCode).toBe(404);
    });
  });
});

describe('the console cookie with secure cookies (the default)', () => {
  it('is __Host-lc_console, Secure, HttpOnly, SameSite=Strict, Path=/ and without a Domain', async () => {
    const app = Fastify();
    await app.register(cookie);
    app.get('/', async (_request, reply) => {
      setSessionCookie(reply, { secureCookies: true }, 'lcs_token');
      return 'ok';
    });
    const res = await app.inject({ method: 'GET', url: '/' });
    const set = parseSetCookie(String(res.headers['set-cookie']));
    expect(set.name).toBe('__Host-lc_console');
    expect(consoleCookieName({ secureCookies: true })).toBe('__Host-lc_console');
    expect([...set.attributes.keys()].sort()).toEqual(['httponly', 'path', 'samesite', 'secure']);
    expect(set.attributes.get('path')).toBe('/');
    expect(set.attributes.get('samesite')).toBe('Strict');
    await app.close();
  });
});

describe('console sessions (the service)', () => {
  it('ends a session idle too long or older than its maximum age, and touches it at most every few seconds', async () => {
    let now = new Date('2026-03-01T10:00:00Z');
    const rows = new Map<string, { id: string; tokenHash: string; apiKeyId: string; createdAt: Date; lastUsedAt: Date }>();
    const writes: string[] = [];
    const apiKey = { id: 'k1', prefix: 'lc_abcdef', tenantId: null, revokedAt: null as Date | null, scopes: [] as string[], tenant: null };
    const prisma = {
      consoleSession: {
        create: async ({ data }: { data: { tokenHash: string; apiKeyId: string; createdAt: Date; lastUsedAt: Date } }) => {
          const row = { id: `s${rows.size}`, ...data };
          rows.set(row.tokenHash, row);
          return { id: row.id };
        },
        deleteMany: async ({ where }: { where: { id?: string } }) => {
          for (const [hash, row] of rows) if (where.id === row.id) rows.delete(hash);
          return { count: 0 };
        },
        findUnique: async ({ where }: { where: { tokenHash: string } }) => {
          const row = rows.get(where.tokenHash);
          return row ? { ...row, apiKey } : null;
        },
        updateMany: async ({ data }: { data: { lastUsedAt: Date } }) => {
          writes.push(data.lastUsedAt.toISOString());
          for (const row of rows.values()) row.lastUsedAt = data.lastUsedAt;
          return { count: 1 };
        },
      },
    };
    const sessions = createConsoleSessions({
      prisma: prisma as never,
      apiKeys: { verify: async () => ({ apiKeyId: 'k1', prefix: 'lc_abcdef', tenantId: null, tenantExternalId: null, scopes: ['admin'] }) },
      policy: { idleTimeoutMs: 30 * 60_000, maxAgeMs: 12 * 3600_000 },
      now: () => now,
    });
    const { token, session } = await sessions.signIn('lc_x');
    expect(sessions.csrfMatches(token, session.csrfToken)).toBe(true);
    expect(sessions.csrfMatches(token, undefined)).toBe(false);
    const at = (minutes: number) => (now = new Date(Date.parse('2026-03-01T10:00:00Z') + minutes * 60_000));

    at(0.5);
    expect(await sessions.resolve(token)).not.toBeNull();
    expect(writes).toEqual([]); // 30 s after its last use: within the touch interval (60 s), no write
    at(29);
    expect(await sessions.resolve(token)).not.toBeNull();
    expect(writes).toHaveLength(1);
    at(58);
    expect(await sessions.resolve(token)).not.toBeNull(); // 29 min after the last use: still on
    at(88.5);
    expect(await sessions.resolve(token)).toBeNull(); // 30.5 min idle: over
    expect(rows.size).toBe(0);

    // Used all along, a session still ends at its maximum age.
    const second = await sessions.signIn('lc_x');
    for (let minutes = 88.5; minutes < 88.5 + 12 * 60; minutes += 20) {
      at(minutes);
      expect(await sessions.resolve(second.token), `at ${minutes}`).not.toBeNull();
    }
    at(88.5 + 12 * 60 + 1);
    expect(await sessions.resolve(second.token)).toBeNull();

    // A revoked key ends it at once.
    const third = await sessions.signIn('lc_x');
    apiKey.revokedAt = now;
    expect(await sessions.resolve(third.token)).toBeNull();
    expect(await sessions.resolve('lcs_malformed')).toBeNull();
  });
});
