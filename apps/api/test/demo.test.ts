import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helpers.js';

describe('demo routes (Lever simulator mode)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ DEMO_ENABLED: 'true' });
  });
  afterAll(async () => {
    await t?.close();
  });

  const createSession = (payload: unknown) =>
    t.app.inject({ method: 'POST', url: '/demo/api/connect-sessions', payload: payload as object });

  it('serves the connect button as a JavaScript module, without an API key', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/connect-button.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/javascript/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.body).toContain("customElements.define('lever-connect-button'");
  });

  it('serves the page with a nonce CSP that its own script carries, the tenant escaped', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/demo?tenant=${encodeURIComponent('"><script>alert(1)</script>')}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    const csp = String(res.headers['content-security-policy']);
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(res.body).toContain(`<script type="module" nonce="${nonce}">`);
    expect(res.body).toContain('<script type="module" src="/connect-button.js"></script>');
    expect(res.body).toContain('<lever-connect-button id="connect">');
    expect(res.body).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(res.body).not.toContain('<script>alert(1)');
    expect(res.body).toContain('This page runs against the Lever simulator');
  });

  it('defaults the tenant to demo-tenant', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/demo' });
    expect(res.body).toContain('value="demo-tenant"');
  });

  it('creates a connect session for a tenant, with the demo page as the redirect fallback', async () => {
    const res = await createSession({ tenant: 'demo-tenant', environment: 'sandbox' });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['connectUrl', 'expiresAt']);
    expect(body.connectUrl).toMatch(/^http:\/\/127\.0\.0\.1:3999\/connect\/cs_/);
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());
    const session = await t.db.db.prisma.connectSession.findFirst({ orderBy: { createdAt: 'desc' } });
    expect(session).toMatchObject({ environment: 'sandbox', returnUrl: 'http://127.0.0.1:3999/demo?tenant=demo-tenant' });
  });

  it('validates the session request: unknown fields, missing tenant, bad environment, unknown connection', async () => {
    const extra = await createSession({ tenant: 'demo-tenant', returnUrl: 'https://evil.example.net' });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().error.message).toContain('returnUrl');
    const missing = await createSession({ environment: 'sandbox' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.message).toContain('tenant');
    expect((await createSession({ tenant: '' })).statusCode).toBe(400);
    expect((await createSession({ tenant: 'demo-tenant', environment: 'staging' })).statusCode).toBe(400);
    expect((await createSession({ tenant: 'demo-tenant', connectionId: 'not-a-uuid' })).statusCode).toBe(400);
    const unknown = await createSession({ tenant: 'demo-tenant', connectionId: '00000000-0000-4000-8000-000000000000' });
    expect(unknown.statusCode).toBe(404);
  });

  it("lists a tenant's connections with times and status, never a token", async () => {
    const { prisma } = t.db.db;
    const tenant = await prisma.tenant.create({ data: { externalId: 'listing-tenant' } });
    const other = await prisma.tenant.create({ data: { externalId: 'other-tenant' } });
    const expiresAt = new Date(Date.now() + 3600_000);
    const connection = await prisma.connection.create({
      data: {
        tenantId: tenant.id,
        environment: 'production',
        leverAccountId: 'acct_acme',
        scopes: ['offline_access'],
        accessTokenCiphertext: 'ACCESS-CIPHERTEXT-MUST-NOT-LEAK',
        refreshTokenCiphertext: 'REFRESH-CIPHERTEXT-MUST-NOT-LEAK',
        accessTokenExpiresAt: expiresAt,
        nextRefreshAt: new Date(Date.now() + 3000_000),
      },
    });
    await prisma.connection.create({
      data: { tenantId: other.id, environment: 'sandbox', leverAccountId: 'acct_other', scopes: [], status: 'needs_reauth' },
    });

    const res = await t.app.inject({ method: 'GET', url: '/demo/api/connections?tenant=listing-tenant' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      data: [
        {
          id: connection.id,
          status: 'active',
          environment: 'production',
          leverAccountId: 'acct_acme',
          accessTokenExpiresAt: expiresAt.toISOString(),
          nextRefreshAt: connection.nextRefreshAt!.toISOString(),
          lastRefreshedAt: null,
          reauthReason: null,
        },
      ],
    });
    expect(res.body).not.toMatch(/CIPHERTEXT|token"|scopes/i);

    const none = await t.app.inject({ method: 'GET', url: '/demo/api/connections?tenant=nobody' });
    expect(none.json()).toEqual({ data: [] });
    expect((await t.app.inject({ method: 'GET', url: '/demo/api/connections' })).statusCode).toBe(400);
    expect((await t.app.inject({ method: 'GET', url: '/demo/api/connections?tenant=a&limit=5' })).statusCode).toBe(400);
  });
});

describe('demo routes outside simulator mode', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Development mode pointed at real Lever: anyone reaching /demo could open connect sessions for any tenant.
    t = await buildTestApp({
      NODE_ENV: 'development',
      LEVER_ENV: 'live',
      LEVER_PRODUCTION_CLIENT_ID: 'live-client-id',
      LEVER_PRODUCTION_CLIENT_SECRET: 'live-client-secret',
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('registers no demo route when Lever is live, even with NODE_ENV=development', async () => {
    expect(t.core.config).toMatchObject({ nodeEnv: 'development', isProduction: false, lever: { mode: 'live' } });
    for (const [method, url] of [
      ['GET', '/demo'],
      ['GET', '/demo?tenant=victim'],
      ['GET', '/demo/api/connections?tenant=victim'],
      ['POST', '/demo/api/connect-sessions'],
    ] as const) {
      const res = await t.app.inject({ method, url, ...(method === 'POST' ? { payload: { tenant: 'victim' } } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json().error.code, `${method} ${url}`).toBe('route_not_found');
    }
    expect(t.app.printRoutes({ commonPrefix: false })).not.toContain('demo');
    // The button itself is part of the product, served in every mode.
    const button = await t.app.inject({ method: 'GET', url: '/connect-button.js' });
    expect(button.statusCode).toBe(200);
    expect(button.body).toContain("customElements.define('lever-connect-button'");
    expect(await t.db.db.prisma.connectSession.count()).toBe(0);
  });
});
