import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

type Status = 'active' | 'needs_reauth' | 'disconnected';

const DAY_MS = 24 * 3600 * 1000;

describe('connections API', () => {
  let t: TestApp;
  let tenantKeyId: string;
  let adminKeyId: string;

  /**
   * A connection row with real encrypted tokens. The access token is fresh (an hour left, refresh token
   * just issued), so the token endpoint answers from the row without calling Lever.
   */
  async function insertConnection(
    tenantExternalId: string,
    fields: { status?: Status; reauthReason?: string; grantCreatedAt?: Date | null; refreshTokenIssuedAt?: Date | null; refreshTokenLastUsedAt?: Date | null } = {},
  ) {
    const prisma = t.db.db.prisma;
    const tenant = await prisma.tenant.upsert({ where: { externalId: tenantExternalId }, create: { externalId: tenantExternalId }, update: {} });
    const id = randomUUID();
    const accessToken = `at_${randomBytes(16).toString('hex')}`;
    const refreshToken = `rt_${randomBytes(16).toString('hex')}`;
    const now = new Date();
    const row = await prisma.connection.create({
      data: {
        id,
        tenantId: tenant.id,
        environment: 'sandbox',
        leverAccountId: `acct_${id.slice(0, 8)}`,
        scopes: ['offline_access', 'opportunities:read:admin'],
        accessTokenCiphertext: t.core.cipher.encrypt(accessToken, { row: id, column: 'accessToken' }),
        refreshTokenCiphertext: t.core.cipher.encrypt(refreshToken, { row: id, column: 'refreshToken' }),
        accessTokenExpiresAt: new Date(now.getTime() + 3600_000),
        refreshTokenIssuedAt: now,
        grantCreatedAt: now,
        nextRefreshAt: new Date(now.getTime() + 3000_000),
        ...fields,
      },
    });
    return { id, row, accessToken, refreshToken };
  }

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, key = t.tenantKey, headers: Record<string, string> = {}) =>
    t.app.inject({ method, url, headers: { ...bearer(key), ...headers } });

  /** No token, no ciphertext, no part of either. */
  function expectNoSecrets(body: string, c: Awaited<ReturnType<typeof insertConnection>>) {
    for (const secret of [c.accessToken, c.refreshToken, c.row.accessTokenCiphertext!, c.row.refreshTokenCiphertext!]) {
      expect(body).not.toContain(secret);
      expect(body).not.toContain(secret.slice(-16));
    }
    expect(body).not.toMatch(/v[12]\.[0-9a-f]{16}\./);
    expect(body).not.toMatch(/ciphertext|"accessToken"|"refreshToken"/i);
  }

  beforeAll(async () => {
    t = await buildTestApp();
    const keys = await call('GET', '/v1/api-keys', t.adminKey);
    const idOf = (name: string) => keys.json().data.find((k: { name: string }) => k.name === name).id as string;
    tenantKeyId = idOf('tenant a');
    adminKeyId = idOf('admin');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('shows a connection (status, scopes, times) and never a token or ciphertext', async () => {
    const c = await insertConnection('tenant-a');
    for (const [url, key] of [
      [`/v1/connections/${c.id}`, t.tenantKey],
      [`/v1/connections/${c.id}`, t.adminKey],
      ['/v1/connections', t.tenantKey],
      ['/v1/tenants/tenant-a', t.tenantKey],
    ] as const) {
      const res = await call('GET', url, key);
      expect(res.statusCode, url).toBe(200);
      expectNoSecrets(res.body, c);
    }
    const res = await call('GET', `/v1/connections/${c.id}`);
    expect(res.json()).toEqual({
      id: c.id,
      tenant: { externalId: 'tenant-a' },
      environment: 'sandbox',
      status: 'active',
      leverAccountId: c.row.leverAccountId,
      scopes: ['offline_access', 'opportunities:read:admin'],
      accessTokenExpiresAt: c.row.accessTokenExpiresAt!.toISOString(),
      refreshTokenIssuedAt: c.row.refreshTokenIssuedAt!.toISOString(),
      grantCreatedAt: c.row.grantCreatedAt!.toISOString(),
      grantExpiresAt: new Date(c.row.grantCreatedAt!.getTime() + 365 * DAY_MS).toISOString(),
      refreshTokenIdleExpiresAt: new Date(c.row.refreshTokenIssuedAt!.getTime() + 90 * DAY_MS).toISOString(),
      nextRefreshAt: c.row.nextRefreshAt!.toISOString(),
      lastRefreshedAt: null,
      lastRefreshFailedAt: null,
      lastRefreshError: null,
      refreshAttemptCount: 0,
      reauthReason: null,
      createdAt: c.row.createdAt.toISOString(),
      updatedAt: c.row.updatedAt.toISOString(),
    });
  });

  it("shows when Lever kills the grant (a year after it was made) and the refresh token (90 days after its last use)", async () => {
    const grantCreatedAt = new Date('2026-01-10T08:00:00.000Z');
    const refreshTokenIssuedAt = new Date('2026-03-01T12:00:00.000Z');
    const refreshTokenLastUsedAt = new Date('2026-03-02T12:30:00.000Z');
    const used = await insertConnection('tenant-a', { grantCreatedAt, refreshTokenIssuedAt, refreshTokenLastUsedAt });
    expect((await call('GET', `/v1/connections/${used.id}`)).json()).toMatchObject({
      grantCreatedAt: grantCreatedAt.toISOString(),
      grantExpiresAt: '2027-01-10T08:00:00.000Z',
      refreshTokenIssuedAt: refreshTokenIssuedAt.toISOString(),
      refreshTokenIdleExpiresAt: '2026-05-31T12:30:00.000Z',
    });

    // Never presented to Lever since it was issued: the idle clock starts at issue.
    const unused = await insertConnection('tenant-a', { grantCreatedAt, refreshTokenIssuedAt, refreshTokenLastUsedAt: null });
    expect((await call('GET', `/v1/connections/${unused.id}`)).json()).toMatchObject({ refreshTokenIdleExpiresAt: '2026-05-30T12:00:00.000Z' });

    const unknown = await insertConnection('tenant-a', { grantCreatedAt: null, refreshTokenIssuedAt: null, refreshTokenLastUsedAt: null });
    expect((await call('GET', `/v1/connections/${unknown.id}`)).json()).toMatchObject({ grantExpiresAt: null, refreshTokenIdleExpiresAt: null });
  });

  it('hands out the stored access token, uncached, without calling Lever while it is fresh', async () => {
    const c = await insertConnection('tenant-a');
    const res = await call('GET', `/v1/connections/${c.id}/access-token`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toEqual({
      accessToken: c.accessToken,
      tokenType: 'Bearer',
      expiresAt: c.row.accessTokenExpiresAt!.toISOString(),
      scopes: c.row.scopes,
      apiBaseUrl: t.core.config.lever.environments.sandbox.apiBaseUrl,
    });
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    // The next read is served from memory, byte for byte the same body.
    expect((await call('GET', `/v1/connections/${c.id}/access-token`)).body).toBe(res.body);
    const row = await t.db.db.prisma.connection.findUniqueOrThrow({ where: { id: c.id } });
    expect(row.version).toBe(c.row.version); // no refresh happened
  });

  it('never hands out the refresh token swapped into the access token column of its row', async () => {
    const c = await insertConnection('tenant-a');
    // Someone with write access to the table (not to the key) swaps the row's two ciphertexts.
    await t.db.db.prisma.$executeRaw`UPDATE connections SET "accessTokenCiphertext" = "refreshTokenCiphertext", "refreshTokenCiphertext" = "accessTokenCiphertext" WHERE id = ${c.id}::uuid`;
    const res = await call('GET', `/v1/connections/${c.id}/access-token`);
    expect(res.statusCode, res.body).toBe(500);
    expectNoSecrets(res.body, c);
  });

  it('records each token read with the key id and the request id, never the token', async () => {
    const c = await insertConnection('tenant-a');
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    expect((await call('GET', `/v1/connections/${c.id}/access-token`, t.tenantKey, { 'x-request-id': requestId })).statusCode).toBe(200);
    expect((await call('GET', `/v1/connections/${c.id}/access-token`, t.adminKey)).statusCode).toBe(200);

    // The audit is batched; the route flushes before it reads, so both reads are there at once.
    const res = await call('GET', `/v1/connections/${c.id}/token-reads`);
    expect(res.statusCode).toBe(200);
    const { data, nextCursor } = res.json();
    expect(nextCursor).toBeNull();
    expect(data).toHaveLength(2);
    expect(data[1]).toMatchObject({ apiKeyId: tenantKeyId, requestId, refreshed: false });
    expect(data[0]).toMatchObject({ apiKeyId: adminKeyId, requestId: expect.any(String), refreshed: false });
    expectNoSecrets(res.body, c);
    const stored = await t.db.db.prisma.tokenRead.findMany({ where: { connectionId: c.id } });
    expect(JSON.stringify(stored, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(c.accessToken);
  });

  it('answers 409 needs_reauth with the reason, for the token and for a refresh', async () => {
    const c = await insertConnection('tenant-a', { status: 'needs_reauth', reauthReason: 'invalid_grant' });
    for (const [method, url] of [
      ['GET', `/v1/connections/${c.id}/access-token`],
      ['POST', `/v1/connections/${c.id}/refresh`],
    ] as const) {
      const res = await call(method, url);
      expect(res.statusCode, url).toBe(409);
      expect(res.json()).toMatchObject({ error: { code: 'needs_reauth', details: { reason: 'invalid_grant' } }, requestId: expect.any(String) });
      expectNoSecrets(res.body, c);
    }
    expect((await call('GET', `/v1/connections/${c.id}`)).json()).toMatchObject({ status: 'needs_reauth', reauthReason: 'invalid_grant' });
  });

  it('disconnects on DELETE: wipes the tokens, emits connection.deleted once, and the connection stays readable', async () => {
    const c = await insertConnection('tenant-a');
    const res = await call('DELETE', `/v1/connections/${c.id}`);
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');

    const row = await t.db.db.prisma.connection.findUniqueOrThrow({ where: { id: c.id } });
    expect(row).toMatchObject({ status: 'disconnected', accessTokenCiphertext: null, refreshTokenCiphertext: null, nextRefreshAt: null });

    const shown = await call('GET', `/v1/connections/${c.id}`);
    expect(shown.statusCode).toBe(200);
    expect(shown.json()).toMatchObject({ id: c.id, status: 'disconnected' });

    // Deleting again is harmless and emits nothing new.
    expect((await call('DELETE', `/v1/connections/${c.id}`)).statusCode).toBe(204);
    const events = await call('GET', `/v1/events?connectionId=${c.id}`);
    expect(events.json().data).toEqual([
      {
        id: expect.any(String),
        type: 'connection.deleted',
        createdAt: expect.any(String),
        data: { connection: expect.objectContaining({ id: c.id, tenant: { externalId: 'tenant-a' }, status: 'disconnected' }) },
      },
    ]);
    expectNoSecrets(events.body, c);

    for (const [method, url] of [
      ['GET', `/v1/connections/${c.id}/access-token`],
      ['POST', `/v1/connections/${c.id}/refresh`],
    ] as const) {
      const after = await call(method, url);
      expect(after.statusCode, url).toBe(409);
      expect(after.json().error.code).toBe('connection_disconnected');
    }
    const filtered = await call('GET', '/v1/connections?status=disconnected');
    expect(filtered.json().data.map((x: { id: string }) => x.id)).toContain(c.id);
  });

  it("disconnects all of a tenant's connections on DELETE /v1/tenants/:externalId", async () => {
    const first = await insertConnection('tenant-del');
    const second = await insertConnection('tenant-del');
    const res = await call('DELETE', '/v1/tenants/tenant-del', t.adminKey);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ disconnected: 2 });
    const tenant = await call('GET', '/v1/tenants/tenant-del', t.adminKey);
    expect(tenant.json().connections.map((x: { status: string }) => x.status)).toEqual(['disconnected', 'disconnected']);
    const events = await call('GET', '/v1/events?type=connection.deleted', t.adminKey);
    const deleted = events.json().data.map((e: { data: { connection: { id: string } } }) => e.data.connection.id);
    expect(deleted).toEqual(expect.arrayContaining([first.id, second.id]));
    expect((await call('DELETE', '/v1/tenants/tenant-del', t.adminKey)).json()).toEqual({ disconnected: 0 });
  });

  it('answers 404 for a connection that never existed', async () => {
    for (const [method, url] of [
      ['GET', `/v1/connections/${randomUUID()}`],
      ['DELETE', `/v1/connections/${randomUUID()}`],
      ['GET', `/v1/connections/${randomUUID()}/access-token`],
      ['POST', `/v1/connections/${randomUUID()}/refresh`],
      ['GET', `/v1/connections/${randomUUID()}/token-reads`],
    ] as const) {
      const res = await call(method, url);
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error).toMatchObject({ code: 'not_found', message: 'Connection not found' });
    }
  });
});
