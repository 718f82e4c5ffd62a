import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../src/index.js';
import { connectViaSim, createFixture, simAccepts, type Fixture } from './fixture.js';

describe('token service (refresh on read)', () => {
  let f: Fixture;
  let core: Core;
  beforeAll(async () => {
    f = await createFixture();
    core = f.makeCore();
  });
  afterAll(async () => {
    await f?.close();
  });

  it('hands out the stored token while it has enough life left, without calling Lever', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 'ts-fresh', account: 'acct_ts_fresh' });
    const before = await f.simStats();
    const grant = await core.tokens.getAccessToken(connection.id);
    expect(grant.refreshed).toBe(false);
    expect(grant.apiBaseUrl).toBe(`${f.sim.url}/v1`);
    expect(await simAccepts(f.sim.url, grant.accessToken)).toBe(200);
    expect((await f.simStats()).tokenRequests).toBe(before.tokenRequests);
  });

  it('refreshes inline when the token is about to expire, once for many concurrent readers', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 'ts-due', account: 'acct_ts_due' });
    // Make the stored token look almost expired.
    await core.prisma.connection.update({
      where: { id: connection.id },
      data: { accessTokenExpiresAt: new Date(Date.now() + 30_000), refreshTokenIssuedAt: new Date(Date.now() - 3_570_000) },
    });
    const before = await f.simStats();
    const grants = await Promise.all(Array.from({ length: 10 }, () => core.tokens.getAccessToken(connection.id)));
    const after = await f.simStats();
    expect(after.refreshesOk! - before.refreshesOk!).toBe(1);
    expect(new Set(grants.map((g) => g.accessToken)).size).toBe(1);
    expect(grants[0]!.expiresAt.getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect(after.refreshTokenReuse).toBe(0);
  });

  it('forces a refresh on request and scopes reads to the caller tenant', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 'ts-force', account: 'acct_ts_force' });
    const first = await core.tokens.getAccessToken(connection.id);
    const forced = await core.tokens.getAccessToken(connection.id, { forceRefresh: true });
    expect(forced.refreshed).toBe(true);
    expect(forced.accessToken).not.toBe(first.accessToken);
    const otherTenant = await core.prisma.tenant.create({ data: { externalId: 'ts-other' } });
    await expect(core.tokens.getAccessToken(connection.id, { tenantId: otherTenant.id })).rejects.toMatchObject({ statusCode: 404 });
  });

  it('answers 503 with Retry-After rather than an expired token when Lever is down', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 'ts-down', account: 'acct_ts_down' });
    await core.prisma.connection.update({ where: { id: connection.id }, data: { accessTokenExpiresAt: new Date(Date.now() + 20_000), refreshTokenIssuedAt: new Date(Date.now() - 3_580_000) } });
    await f.simPost('/__sim/faults', { target: 'token', kind: '503', count: 1, matchAccount: 'acct_ts_down' });
    await expect(core.tokens.getAccessToken(connection.id)).rejects.toMatchObject({ statusCode: 503, code: 'refresh_in_progress' });
    expect((await core.repo.findById(connection.id))!.status).toBe('active');
  });
});
