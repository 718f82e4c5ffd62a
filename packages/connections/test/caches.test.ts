import { waitFor } from '@lever-connect/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERY_TENANT, type Core } from '../src/index.js';
import { connectViaSim, createFixture, type Fixture } from './fixture.js';

// Two cores are two api processes sharing Postgres and Redis. Each keeps API keys and valid access tokens
// in memory; a change made through one must reach the other's cache at once (invalidation bus), not after
// the cache TTL.
describe('in-memory caches across processes', () => {
  let f: Fixture;
  let a: Core;
  let b: Core;
  beforeAll(async () => {
    f = await createFixture({ TOKEN_CACHE_TTL_MS: '60000' });
    a = f.makeCore();
    b = f.makeCore();
    // Let both subscribers connect before anything is published.
    await new Promise((r) => setTimeout(r, 300));
  });
  afterAll(async () => {
    await f?.close();
  });

  it('serves repeated token reads from memory, without reading Postgres', async () => {
    const { connection } = await connectViaSim(a, f.sim.url, { tenant: 'c-hot', account: 'acct_c_hot' });
    const before = b.tokens.cacheCounts();
    const first = await b.tokens.getAccessToken(connection.id);
    // Even with the row gone from under it (a test-only write), the cached, valid token is served.
    await b.prisma.$executeRaw`UPDATE connections SET "accessTokenCiphertext" = 'garbage' WHERE id = ${connection.id}::uuid`;
    const second = await b.tokens.getAccessToken(connection.id);
    expect(second.accessToken).toBe(first.accessToken);
    // The counts the benchmarks report the hit ratio from: the first read went to Postgres, the second did not.
    const after = b.tokens.cacheCounts();
    expect({ hits: after.hits - before.hits, misses: after.misses - before.misses }).toEqual({ hits: 1, misses: 1 });
    await expect(b.tokens.getAccessToken(connection.id, { tenantId: '00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({ statusCode: 404 });
  });

  it('drops a cached token in every process when the connection is deleted', async () => {
    const { connection } = await connectViaSim(a, f.sim.url, { tenant: 'c-del', account: 'acct_c_del' });
    await b.tokens.getAccessToken(connection.id);
    expect(await a.actions.disconnect(EVERY_TENANT, connection.id)).toBe(1);
    await waitFor(
      'the other process to refuse the deleted connection',
      async () => b.tokens.getAccessToken(connection.id).then(() => false, (error: { code?: string }) => error.code === 'connection_disconnected'),
      { timeoutMs: 2_000, intervalMs: 20 },
    );
  });

  it('drops a cached token in every process when the grant is found revoked (needs_reauth)', async () => {
    const { connection } = await connectViaSim(a, f.sim.url, { tenant: 'c-revoked', account: 'acct_c_revoked' });
    await b.tokens.getAccessToken(connection.id);
    await f.simPost('/__sim/faults', { target: 'token', kind: 'invalid_grant', count: 1, matchAccount: 'acct_c_revoked' });
    expect(await a.refresher.refresh(connection.id, { trigger: 'manual', force: true })).toMatchObject({ outcome: 'needs_reauth' });
    await waitFor(
      'the other process to answer needs_reauth',
      async () => b.tokens.getAccessToken(connection.id).then(() => false, (error: { code?: string }) => error.code === 'needs_reauth'),
      { timeoutMs: 2_000, intervalMs: 20 },
    );
  });

  it('stops accepting a revoked API key in every process at once', async () => {
    const { key, apiKey } = await a.apiKeys.create({ name: 'shared' });
    expect((await a.apiKeys.verify(key)).apiKeyId).toBe(apiKey.id);
    expect((await b.apiKeys.verify(key)).apiKeyId).toBe(apiKey.id); // now cached in b for 10 s
    await a.apiKeys.revoke(apiKey.id);
    await waitFor(
      'the other process to refuse the revoked key',
      async () => b.apiKeys.verify(key).then(() => false, (error: { code?: string }) => error.code === 'invalid_api_key'),
      { timeoutMs: 2_000, intervalMs: 20 },
    );
  });
});
