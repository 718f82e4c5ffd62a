import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, PRODUCTION_ENV, type TestApp } from '../../apps/api/test/helpers.js';

/**
 * Security headers on every kind of answer: the API's JSON and errors, the connect pages, the button's
 * script, the API docs; HSTS only where the public address is https (production).
 */
describe('security: response headers', () => {
  let dev: TestApp;
  let prod: TestApp;
  beforeAll(async () => {
    dev = await buildTestApp();
    prod = await buildTestApp({
      ...PRODUCTION_ENV,
    });
  });
  afterAll(async () => {
    await dev?.close();
    await prod?.close();
  });

  const csp = (headers: Record<string, unknown>) => String(headers['content-security-policy'] ?? '');

  it('answers API JSON and errors with a CSP that loads and frames nothing, nosniff, and no server fingerprint', async () => {
    for (const res of [
      await dev.app.inject({ method: 'GET', url: '/v1/connections', headers: bearer(dev.adminKey) }),
      await dev.app.inject({ method: 'GET', url: '/v1/connections' }),
      await dev.app.inject({ method: 'GET', url: '/no/such/route' }),
    ]) {
      expect(csp(res.headers)).toContain("default-src 'none'");
      expect(csp(res.headers)).toContain("frame-ancestors 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['cross-origin-resource-policy']).toBe('same-site');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-powered-by']).toBeUndefined();
      // Plain http in development: HSTS there would pin a browser to https for localhost.
      expect(res.headers['strict-transport-security']).toBeUndefined();
    }
  });

  it('sends HSTS in production, where the public address is https', async () => {
    const res = await prod.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });

  it("keeps the connect result page's nonce policy and forbids framing it", async () => {
    const res = await dev.app.inject({ method: 'GET', url: '/oauth/callback?state=forged&code=x', headers: { accept: 'text/html' } });
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(csp(res.headers)).toMatch(/script-src 'nonce-[^']+'/);
    expect(csp(res.headers)).toContain("frame-ancestors 'none'");
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it("lets other sites load the button's script (its whole job), and gives the docs the policy their assets need", async () => {
    const button = await dev.app.inject({ method: 'GET', url: '/connect-button.js' });
    expect(button.statusCode).toBe(200);
    expect(button.headers['cross-origin-resource-policy']).toBe('cross-origin');
    const docs = await dev.app.inject({ method: 'GET', url: '/docs/' });
    expect(csp(docs.headers)).toContain("script-src 'self'");
    expect(csp(docs.headers)).toContain("frame-ancestors 'none'");
  });
});
