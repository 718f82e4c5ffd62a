import { loadConfig } from '@lever-connect/config';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from '../../apps/api/test/helpers.js';

const key = randomBytes(32).toString('base64');

/**
 * Safe by default (issue 23, item 1): the simulator, the demo, plain-http cookies and an unguarded webhook
 * client are each asked for by name; NODE_ENV not being `production` no longer switches any of them on.
 */
describe('security: safe defaults', () => {
  describe('the configuration', () => {
    it('talks to real Lever unless LEVER_ENV=simulator, and says how to get the simulator', () => {
      expect(() => loadConfig({ TOKEN_ENCRYPTION_KEY: key })).toThrow(/LEVER_ENV=simulator/);
      const live = loadConfig({ TOKEN_ENCRYPTION_KEY: key, LEVER_PRODUCTION_CLIENT_ID: 'real-id', LEVER_PRODUCTION_CLIENT_SECRET: 'real-secret' });
      expect(live).toMatchObject({ nodeEnv: 'development', lever: { mode: 'live' }, demoEnabled: false, secureCookies: true, webhooks: { ssrfGuard: true } });
      expect(live.lever.environments.production.authUrl).toBe('https://auth.lever.co');
    });

    it('refuses simulator mode next to real Lever credentials', () => {
      expect(() =>
        loadConfig({ TOKEN_ENCRYPTION_KEY: key, LEVER_ENV: 'simulator', LEVER_PRODUCTION_CLIENT_ID: 'real-id', LEVER_PRODUCTION_CLIENT_SECRET: 'real-secret' }),
      ).toThrow(/LEVER_PRODUCTION_CLIENT_ID: real Lever credentials are set while LEVER_ENV=simulator/);
      expect(() => loadConfig({ TOKEN_ENCRYPTION_KEY: key, LEVER_ENV: 'simulator', LEVER_SANDBOX_CLIENT_ID: 'real-id' })).toThrow(/LEVER_SANDBOX_CLIENT_ID/);
      // The simulator's own development client is not a real credential.
      expect(loadConfig({ TOKEN_ENCRYPTION_KEY: key, LEVER_ENV: 'simulator', LEVER_PRODUCTION_CLIENT_ID: 'lever-connect-dev' }).lever.mode).toBe('simulator');
    });

    it('turns the demo on only when asked, and only in simulator mode', () => {
      expect(loadConfig({ TOKEN_ENCRYPTION_KEY: key, LEVER_ENV: 'simulator' }).demoEnabled).toBe(false);
      expect(loadConfig({ TOKEN_ENCRYPTION_KEY: key, LEVER_ENV: 'simulator', DEMO_ENABLED: 'true' }).demoEnabled).toBe(true);
      expect(() =>
        loadConfig({ TOKEN_ENCRYPTION_KEY: key, DEMO_ENABLED: 'true', LEVER_PRODUCTION_CLIENT_ID: 'real-id', LEVER_PRODUCTION_CLIENT_SECRET: 's' }),
      ).toThrow(/DEMO_ENABLED: the demo runs only in simulator mode/);
    });

    it('drops Secure cookies and the SSRF guard only with ALLOW_INSECURE_DEV, which production refuses', () => {
      const dev = loadConfig({ TOKEN_ENCRYPTION_KEY: key, LEVER_ENV: 'simulator', ALLOW_INSECURE_DEV: 'true' });
      expect(dev).toMatchObject({ secureCookies: false, webhooks: { ssrfGuard: false } });
      expect(() =>
        loadConfig({
          TOKEN_ENCRYPTION_KEY: key,
          NODE_ENV: 'production',
          ALLOW_INSECURE_DEV: 'true',
          LEVER_PRODUCTION_CLIENT_ID: 'real-id',
          LEVER_PRODUCTION_CLIENT_SECRET: 's',
          PUBLIC_BASE_URL: 'https://connect.example.com',
        }),
      ).toThrow(/ALLOW_INSECURE_DEV: refused with NODE_ENV=production/);
    });
  });

  describe('an api in simulator mode with nothing else said (NODE_ENV=development)', () => {
    let t: TestApp;
    beforeAll(async () => {
      // The test stack turns ALLOW_INSECURE_DEV on for its http receivers; this app takes the defaults.
      t = await buildTestApp({ NODE_ENV: 'development', ALLOW_INSECURE_DEV: '' });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('registers no demo route', async () => {
      for (const url of ['/demo', '/demo/api/connections?tenant=victim']) {
        const res = await t.app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(404);
      }
      const post = await t.app.inject({ method: 'POST', url: '/demo/api/connect-sessions', payload: { tenant: 'victim' } });
      expect(post.statusCode).toBe(404);
    });

    it('refuses webhook endpoints on plain http and on private addresses', async () => {
      for (const url of ['http://127.0.0.1:9/hooks', 'https://127.0.0.1/hooks', 'https://10.1.2.3/hooks', 'https://[::1]/hooks']) {
        const res = await t.app.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: bearer(t.adminKey), payload: { url } });
        expect(res.statusCode, url).toBe(400);
        expect(res.json().error.code, url).toBe('webhook_url_not_allowed');
      }
    });

    it('sets the OAuth state and PKCE cookies as __Host- cookies: Secure, HttpOnly, Path=/', async () => {
      const session = await t.app.inject({ method: 'POST', url: '/v1/connect-sessions', headers: bearer(t.adminKey), payload: { tenant: { externalId: 'safe' } } });
      expect(session.statusCode).toBe(201);
      const start = await t.app.inject({ method: 'GET', url: new URL(session.json().connectUrl as string).pathname });
      expect(start.statusCode).toBe(302);
      const cookies = ([] as string[]).concat(start.headers['set-cookie'] ?? []);
      expect(cookies.map((c) => c.split('=')[0]).sort()).toEqual(['__Host-lc_oauth_pkce_production', '__Host-lc_oauth_state_production']);
      for (const cookie of cookies) {
        expect(cookie).toMatch(/; Secure/);
        expect(cookie).toMatch(/; HttpOnly/);
        expect(cookie).toMatch(/; Path=\/(;|$)/);
        expect(cookie).not.toMatch(/Domain=/i);
      }
    });

    it('signs the console in with a __Host- cookie', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/console/session', payload: { apiKey: t.adminKey } });
      expect(res.statusCode).toBe(201);
      expect(String(res.headers['set-cookie'])).toMatch(/^__Host-lc_console=[^;]+;.*Secure/);
    });
  });
});
