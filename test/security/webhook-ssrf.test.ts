import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, PRODUCTION_ENV, type TestApp } from '../../apps/api/test/helpers.js';

/**
 * SSRF through webhook endpoints in production mode. The basic table (loopback, metadata, CGNAT, ULA, http)
 * is in apps/api/test/webhook-endpoints.test.ts; these are the encodings attackers use to slip past it.
 */
describe('security: webhook SSRF in production', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({
      ...PRODUCTION_ENV,
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each([
    'https://[::1]/hooks',
    'https://[::ffff:127.0.0.1]/hooks',
    'https://[::ffff:7f00:1]/hooks',
    'https://[::ffff:169.254.169.254]/latest',
    'https://0.0.0.0/hooks',
    'https://2130706433/hooks',
    'https://0x7f.0.0.1/hooks',
    'https://0177.0.0.1/hooks',
    'https://127.1/hooks',
    'https://10.0.0.1/hooks',
    'https://172.16.5.4/hooks',
    'https://192.168.1.1/hooks',
    'https://[fe80::1]/hooks',
    'https://[fec0::1]/hooks', // site-local
    'https://[fed0:0:0:1::1]/hooks',
    'https://[::ffff:0:127.0.0.1]/hooks', // IPv4-translated (RFC 2765), not IPv4-mapped
    'https://[::ffff:0:a9fe:a9fe]/latest',
    'https://[::ffff:0:10.0.0.1]/hooks',
    'https://224.0.0.1/hooks',
    'https://255.255.255.255/hooks',
    'https://localhost./hooks',
    'https://LOCALHOST/hooks',
    'https://user@127.0.0.1/hooks',
    'file:///etc/passwd',
    'gopher://127.0.0.1:6379/_FLUSHALL',
  ])('refuses %s with webhook_url_not_allowed', async (url) => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: bearer(t.adminKey), payload: { url } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('webhook_url_not_allowed');
  });

  it('refuses a private address on update too', async () => {
    // A public IP literal needs no DNS, so the create succeeds offline.
    const created = await t.app.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: bearer(t.adminKey), payload: { url: 'https://93.184.215.14/hooks' } });
    expect(created.statusCode).toBe(201);
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/v1/webhook-endpoints/${created.json().id}`,
      headers: bearer(t.adminKey),
      payload: { url: 'https://[::ffff:10.0.0.1]/hooks' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('webhook_url_not_allowed');
  });
});
