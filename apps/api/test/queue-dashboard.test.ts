import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

describe('queue dashboard (/admin/queues)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 401 without an API key, on the page and on its API and assets', async () => {
    for (const url of ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/static/favicon-32x32.png']) {
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

  it('lists the refresh, maintenance and webhooks queues to an admin key', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: bearer(t.adminKey) });
    expect(res.statusCode).toBe(200);
    const names = (res.json() as { queues: Array<{ name: string }> }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['maintenance', 'refresh', 'webhooks']);
  });
});
