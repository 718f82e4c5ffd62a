import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

const DASHBOARD_URLS = ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/static/favicon-32x32.png'];

/** The one error shape (plugins/errors.ts), and nothing of bull-board's own (`message` + `details` stack). */
function expectErrorShape(res: { statusCode: number; headers: Record<string, unknown>; body: string; json(): unknown }, code: string) {
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as Record<string, unknown>;
  expect(body).toEqual({ error: { code, message: expect.any(String) }, requestId: expect.any(String) });
  expect(res.body).not.toMatch(/\bat [^\n]+:\d+:\d+|stack|\.ts:\d+|\.js:\d+/);
}

describe('queue dashboard (/admin/queues)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 401 without an API key, on the page and on its API and assets', async () => {
    for (const url of DASHBOARD_URLS) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(401);
    }
  });

  it('answers 403 to a tenant-scoped key', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/admin/queues', headers: bearer(t.tenantKey) });
    expect(res.statusCode).toBe(403);
  });

  it('serves the dashboard HTML to an admin key', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/admin/queues', headers: bearer(t.adminKey) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toContain('<html');
  });

  it('lists the refresh, maintenance, webhooks and lever-webhooks queues to an admin key', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: bearer(t.adminKey) });
    expect(res.statusCode).toBe(200);
    const names = (res.json() as { queues: Array<{ name: string }> }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['lever-webhooks', 'maintenance', 'refresh', 'webhooks']);
  });
});

describe('queue dashboard errors in development (bull-board has its own error handler there)', () => {
  let t: TestApp;
  let nodeEnv: string | undefined;
  beforeAll(async () => {
    // bull-board reads process.env.NODE_ENV itself when it decides to put a stack in its error body.
    nodeEnv = process.env.NODE_ENV;
    process.env.NODE_ENV = 'development';
    t = await buildTestApp({ NODE_ENV: 'development' });
  });
  afterAll(async () => {
    await t?.close();
    process.env.NODE_ENV = nodeEnv;
  });

  it('answers 401 in the one error shape, without a stack, on the page, its API and an asset', async () => {
    for (const [headers, code] of [
      [{}, 'missing_api_key'],
      [bearer('lc_' + 'x'.repeat(43)), 'invalid_api_key'],
    ] as const) {
      for (const url of DASHBOARD_URLS) {
        const res = await t.app.inject({ method: 'GET', url, headers });
        expect(res.statusCode, url).toBe(401);
        expectErrorShape(res, code);
      }
    }
  });

  it('answers 403 to a tenant-scoped key in the one error shape, without a stack', async () => {
    for (const url of DASHBOARD_URLS) {
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(t.tenantKey) });
      expect(res.statusCode, url).toBe(403);
      expectErrorShape(res, 'forbidden');
    }
  });

  it("hands bull-board's own errors to the app's error handler: the one shape, no stack", async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/admin/queues/api/queues/refresh/add',
      headers: { ...bearer(t.adminKey), 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    expect(res.statusCode).toBe(400);
    expectErrorShape(res, 'malformed_body');
  });
});
