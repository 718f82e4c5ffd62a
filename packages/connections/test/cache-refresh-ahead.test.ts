import type { PrismaClient } from '@lever-connect/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyService, createTokenService, type Core } from '../src/index.js';
import { connectViaSim, createFixture, type Fixture } from './fixture.js';

/** A gate a test opens when it wants a held-back query to answer. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const tick = () => new Promise((r) => setTimeout(r, 20));
/** Waits (bounded) for a background read to finish: a fixed pause is too short on a loaded machine. */
async function until(done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a background read');
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setImmediate(r)); // and for what the reader does with its answer
}

// The token endpoint's two in-memory caches (API keys, valid tokens) must never make a burst of requests
// wait on Postgres: concurrent misses share one read, and an entry in use is re-read before it expires.
describe('hot-path caches: shared reads and re-reading ahead of expiry', () => {
  let f: Fixture;
  let core: Core;
  beforeAll(async () => {
    f = await createFixture();
    core = f.makeCore();
  });
  afterAll(async () => {
    await f?.close();
  });

  /**
   * The real Prisma client, with apiKey.findUnique counted and its answer optionally held back (read now,
   * delivered later): `read` counts rows fetched from Postgres, `answered` rows handed to the caller.
   */
  function countingPrisma(hold?: { opened: Promise<void> }) {
    const calls = { findUnique: 0, read: 0, answered: 0 };
    const apiKey = new Proxy(core.prisma.apiKey, {
      get(target, prop, receiver) {
        if (prop !== 'findUnique') return Reflect.get(target, prop, receiver) as unknown;
        return async (args: Parameters<PrismaClient['apiKey']['findUnique']>[0]) => {
          calls.findUnique++;
          const row = await target.findUnique(args);
          calls.read++;
          if (hold) await hold.opened;
          calls.answered++;
          return row;
        };
      },
    });
    const prisma = new Proxy(core.prisma, { get: (target, prop, receiver) => (prop === 'apiKey' ? apiKey : (Reflect.get(target, prop, receiver) as unknown)) });
    return { prisma: prisma as PrismaClient, calls };
  }

  it('verifies a burst of requests with a cold key by one query', async () => {
    const { key, apiKey } = await core.apiKeys.create({ name: 'burst' });
    const { prisma, calls } = countingPrisma();
    const keys = createApiKeyService({ prisma });
    const principals = await Promise.all(Array.from({ length: 50 }, () => keys.verify(key)));
    expect(new Set(principals.map((p) => p.apiKeyId))).toEqual(new Set([apiKey.id]));
    expect(calls.findUnique).toBe(1);
    // A flood of one made-up key is one query too.
    const made = `lc_${'A'.repeat(43)}`;
    const refused = await Promise.allSettled(Array.from({ length: 20 }, () => keys.verify(made)));
    expect(refused.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'invalid_api_key')).toBe(true);
    expect(calls.findUnique).toBe(2);
  });

  it('re-reads a key in use in the background and keeps answering from memory meanwhile', async () => {
    const { key, apiKey } = await core.apiKeys.create({ name: 'ahead' });
    let clock = 1_000_000;
    const hold = gate();
    const { prisma, calls } = countingPrisma(hold);
    const keys = createApiKeyService({ prisma, now: () => clock });
    const first = keys.verify(key);
    hold.open();
    await first;
    expect(calls.findUnique).toBe(1);

    // Before the re-read point: memory only.
    clock += 4_000;
    expect(keys.verifyCached(key)?.apiKeyId).toBe(apiKey.id);
    expect(calls.findUnique).toBe(1);
    // Past it: still answered at once, and one background read starts.
    clock += 2_000;
    expect(keys.verifyCached(key)?.apiKeyId).toBe(apiKey.id);
    expect(keys.verifyCached(key)?.apiKeyId).toBe(apiKey.id);
    await until(() => calls.answered === 2);
    expect(calls.findUnique).toBe(2);
    // The re-read renewed the entry: 9 s after it (15 s after the first read), still no wait.
    clock += 9_000;
    expect(keys.verifyCached(key)?.apiKeyId).toBe(apiKey.id);
  });

  it('a background re-read that finds the key revoked drops it (the bus message was lost)', async () => {
    const { key, apiKey } = await core.apiKeys.create({ name: 'lost-revocation' });
    let clock = 2_000_000;
    const { prisma, calls } = countingPrisma();
    const keys = createApiKeyService({ prisma, now: () => clock });
    await keys.verify(key);
    // Revoked by another process whose bus message never arrived here.
    await core.prisma.apiKey.update({ where: { id: apiKey.id }, data: { revokedAt: new Date() } });
    clock += 6_000;
    expect(keys.verifyCached(key)?.apiKeyId).toBe(apiKey.id); // within the documented window
    await until(() => calls.answered === 2);
    expect(keys.verifyCached(key)).toBeUndefined();
    await expect(keys.verify(key)).rejects.toMatchObject({ statusCode: 401, code: 'invalid_api_key' });
  });

  it('does not cache what a read in flight during a revocation saw', async () => {
    const { key, apiKey } = await core.apiKeys.create({ name: 'race' });
    const hold = gate();
    const { prisma, calls } = countingPrisma(hold);
    const keys = createApiKeyService({ prisma });
    const reading = keys.verify(key); // reads the row before the revocation commits...
    await until(() => calls.read === 1);
    await keys.revoke(apiKey.id); // ...which lands here, while that read is held back
    hold.open();
    // The race happened: the held read saw the key valid (a read that began after the revocation would
    // refuse it, and leave nothing to cache whatever the service does).
    await expect(reading).resolves.toMatchObject({ apiKeyId: apiKey.id });
    expect(keys.verifyCached(key)).toBeUndefined();
    await expect(keys.verify(key)).rejects.toMatchObject({ code: 'invalid_api_key' });
  });

  it('serves a burst of token reads on a cold cache with one row read, and re-reads a token in use before it expires', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 'ra-token', account: 'acct_ra_token' });
    let clock = Date.now();
    let reads = 0;
    let hold: Promise<void> | undefined;
    const tokens = createTokenService({
      repo: {
        findForTokenRead: async (id: string) => {
          reads++;
          await hold;
          return core.repo.findForTokenRead(id);
        },
      },
      refresher: core.refresher,
      cipher: core.cipher,
      config: { ...core.config, refresh: { ...core.config.refresh, tokenCacheTtlMs: 10_000 } },
      now: () => new Date(clock),
    });
    const grants = await Promise.all(Array.from({ length: 30 }, () => tokens.getAccessToken(connection.id)));
    expect(new Set(grants.map((g) => g.accessToken)).size).toBe(1);
    expect(reads).toBe(1);

    clock += 4_000;
    await tokens.getAccessToken(connection.id);
    expect(reads).toBe(1); // memory only
    clock += 2_000;
    // Past half the TTL: answered from memory even while the re-read is held back, one re-read for all ten.
    const held = gate();
    hold = held.opened;
    const during = await Promise.all(Array.from({ length: 10 }, () => tokens.getAccessToken(connection.id)));
    expect(during.every((g) => g.accessToken === grants[0]!.accessToken)).toBe(true);
    expect(reads).toBe(2);
    held.open();
    hold = undefined;
    await tick();
    clock += 8_000; // 14 s after the first read, 8 s after the re-read: that renewed the entry
    const late = gate();
    hold = late.opened;
    expect((await tokens.getAccessToken(connection.id)).accessToken).toBe(grants[0]!.accessToken);
    late.open();
    hold = undefined;
    await tick();

    // A connection deleted behind the cache's back is dropped by the next re-read.
    await core.prisma.connection.update({ where: { id: connection.id }, data: { status: 'disconnected' } });
    clock += 6_000;
    await tokens.getAccessToken(connection.id); // still the cached token (within the TTL), re-read starts
    await tick();
    await expect(tokens.getAccessToken(connection.id)).rejects.toMatchObject({ code: 'connection_disconnected' });
  });

  it('a read that began before an invalidation is not shared with requests after it', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 'ra-inval', account: 'acct_ra_inval' });
    let onMessage: ((id: string) => void) | undefined;
    let reads = 0;
    const held = gate();
    const tokens = createTokenService({
      repo: {
        findForTokenRead: async (id: string) => {
          const row = await core.repo.findForTokenRead(id);
          // The first read sees the row before the delete, and answers only after it.
          if (++reads === 1) await held.opened;
          return row;
        },
      },
      refresher: core.refresher,
      cipher: core.cipher,
      config: core.config,
      bus: { subscribe: (_channel, handlers) => void (onMessage = handlers.onMessage) },
    });
    const early = tokens.getAccessToken(connection.id);
    await tick();
    await core.prisma.connection.update({ where: { id: connection.id }, data: { status: 'disconnected' } });
    onMessage!(connection.id); // what the delete publishes
    const late = tokens.getAccessToken(connection.id);
    held.open();
    await expect(early).resolves.toMatchObject({ connectionId: connection.id }); // began before the delete
    await expect(late).rejects.toMatchObject({ code: 'connection_disconnected' });
    expect(reads).toBe(2);
    // And the early read's row was not cached.
    await expect(tokens.getAccessToken(connection.id)).rejects.toMatchObject({ code: 'connection_disconnected' });
  });
});
