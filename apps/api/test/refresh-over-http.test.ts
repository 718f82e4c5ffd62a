import { freePort } from '@lever-connect/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

/**
 * `POST /v1/connections/:id/refresh` and `/metrics` over real HTTP, against a connection made the way a
 * customer makes one: a connect session, the simulator's consent (auto-approved), our callback.
 */
describe('refreshing a connection over HTTP (simulator)', () => {
  let sim: { url: string };
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await buildTestApp({ PUBLIC_BASE_URL: base }, { sim: true });
    sim = t.sim!;
    await t.app.listen({ port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await t?.close();
  });

  const api = (method: 'GET' | 'POST', path: string, key = t.adminKey, body?: unknown) =>
    fetch(base + path, {
      method,
      headers: { ...bearer(key), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const simStats = async () => (await (await fetch(`${sim.url}/__sim/stats`)).json()) as { refreshesOk: number };

  /** Connect session → /connect/:token → the simulator's consent → /oauth/callback; the new connection's id. */
  async function connect(tenant: string): Promise<string> {
    const session = (await (await api('POST', '/v1/connect-sessions', t.adminKey, { tenant: { externalId: tenant } })).json()) as { connectUrl: string };
    const start = await fetch(`${session.connectUrl}?mode=popup`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const cookies = start.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .filter((c) => !c.endsWith('='))
      .join('; ');
    const authorize = new URL(start.headers.get('location')!);
    authorize.searchParams.set('sim_auto_approve', '1');
    authorize.searchParams.set('sim_account', `acct_${tenant}`);
    const consent = await fetch(authorize, { redirect: 'manual' });
    expect(consent.status).toBe(302);
    const callback = await fetch(consent.headers.get('location')!, { redirect: 'manual', headers: { cookie: cookies, accept: 'text/html' } });
    expect(callback.status).toBe(200);
    const result = (await (await fetch(`${session.connectUrl}/result`)).json()) as { status: string; connectionId?: string };
    expect(result).toMatchObject({ status: 'success' });
    return result.connectionId!;
  }

  it('refreshes with Lever: a new token, version and expiry, and no token-read audit entry', async () => {
    const id = await connect('refresh-http');
    const prisma = t.db.db.prisma;
    const before = await prisma.connection.findUniqueOrThrow({ where: { id } });
    const refreshesBefore = (await simStats()).refreshesOk;

    const res = await api('POST', `/v1/connections/${id}/refresh`);
    expect(res.status).toBe(200);
    const body = await res.text();
    const shown = JSON.parse(body) as Record<string, unknown>;
    expect(shown).toMatchObject({ id, status: 'active', lastRefreshError: null, refreshAttemptCount: 0 });
    expect(Date.parse(shown.accessTokenExpiresAt as string)).toBeGreaterThan(before.accessTokenExpiresAt!.getTime());
    expect(Date.parse(shown.refreshTokenIssuedAt as string)).toBeGreaterThan(before.refreshTokenIssuedAt!.getTime());
    expect(shown.lastRefreshedAt).toEqual(expect.any(String));

    const after = await prisma.connection.findUniqueOrThrow({ where: { id } });
    expect(after.version).toBe(before.version + 1);
    expect(after.accessTokenExpiresAt!.toISOString()).toBe(shown.accessTokenExpiresAt);
    expect((await simStats()).refreshesOk).toBe(refreshesBefore + 1);
    // Lever rotated both tokens; neither the old nor the new one is in the response.
    const oldAccess = t.core.cipher.decrypt(before.accessTokenCiphertext!, { row: id, column: 'accessToken' });
    const newAccess = t.core.cipher.decrypt(after.accessTokenCiphertext!, { row: id, column: 'accessToken' });
    expect(newAccess).not.toBe(oldAccess);
    expect(t.core.cipher.decrypt(after.refreshTokenCiphertext!, { row: id, column: 'refreshToken' })).not.toBe(t.core.cipher.decrypt(before.refreshTokenCiphertext!, { row: id, column: 'refreshToken' }));
    expect(body).not.toContain(oldAccess);
    expect(body).not.toContain(newAccess);

    // No token left the route, so the audit trail (flushed by its route before reading) stays empty.
    const reads = await api('GET', `/v1/connections/${id}/token-reads`);
    expect(reads.status).toBe(200);
    expect(((await reads.json()) as { data: unknown[] }).data).toEqual([]);
    expect(await prisma.tokenRead.count({ where: { connectionId: id } })).toBe(0);

    // The refreshed token is the one handed out next (and that read is audited).
    const token = (await (await api('GET', `/v1/connections/${id}/access-token`)).json()) as { accessToken: string };
    expect(token.accessToken).toBe(newAccess);
    expect(((await (await api('GET', `/v1/connections/${id}/token-reads`)).json()) as { data: unknown[] }).data).toHaveLength(1);
  });

  it('serves /metrics to the admin key as Prometheus text with the request and refresh counters', async () => {
    expect((await api('GET', '/v1/connections')).status).toBe(200); // at least one request counted before the scrape
    const res = await api('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE lever_connect_http_requests_total counter$/m);
    expect(text).toMatch(/^lever_connect_http_requests_total\{[^}]*route="\/v1\/connections"[^}]*\} \d+/m);
    expect(text).toMatch(/^# TYPE lever_connect_refresh_attempts_total counter$/m);
  });
});
