import { randomBytes, randomUUID } from 'node:crypto';
import { createTokenCipher, reencryptAll, type CiphertextStore } from '@lever-connect/crypto';
import { createTestDatabase, deleteRedisPrefix, insertConnectionRow, legacyCiphertext, randomRedisPrefix, TEST_REDIS_URL, type TestDatabase } from '@lever-connect/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stashCiphertexts } from '../src/refresh/stash.js';
import { connectionCiphertexts, createConnectionRepo } from '../src/store/connection-repo.js';

const oldKey = randomBytes(32);
const cipher = createTokenCipher({ currentKey: randomBytes(32), previousKeys: [oldKey] });

/**
 * `keys reencrypt` writes next to live refreshes: it must never overwrite tokens a refresh stored meanwhile,
 * and never make a refresh in flight lose its fenced write (Lever has already rotated: those tokens are the grant).
 */
describe('ciphertext stores: re-encryption beside live writers', () => {
  let t: TestDatabase;
  let tenantId: string;
  const prefix = randomRedisPrefix();
  let redis: Redis;

  beforeAll(async () => {
    t = await createTestDatabase();
    redis = new Redis(TEST_REDIS_URL);
    tenantId = (await t.db.prisma.tenant.create({ data: { externalId: 'reencrypt' } })).id;
  });
  afterAll(async () => {
    redis?.disconnect();
    await deleteRedisPrefix(prefix);
    await t?.drop();
  });

  /** A connection as an existing deployment holds it: v1 ciphertexts under the old key, bound to the row only. */
  const legacyConnection = () =>
    insertConnectionRow(t.db, tenantId, (id) => ({
      accessTokenCiphertext: legacyCiphertext(oldKey, 'at_old', id),
      refreshTokenCiphertext: legacyCiphertext(oldKey, 'rt_old', id),
    }));
  const row = (id: string) => t.db.prisma.connection.findUniqueOrThrow({ where: { id } });

  /** What a successful refresh writes over `version`: new tokens, sealed for their columns. */
  const rotated = (id: string, version: number, suffix: string) => ({
    id,
    version,
    accessTokenCiphertext: cipher.encrypt(`at_${suffix}`, { row: id, column: 'accessToken' }),
    refreshTokenCiphertext: cipher.encrypt(`rt_${suffix}`, { row: id, column: 'refreshToken' }),
    accessTokenExpiresAt: new Date(Date.now() + 3600_000),
    issuedAt: new Date(),
    scopes: [],
    nextRefreshAt: new Date(Date.now() + 3000_000),
    expiringNotified: false,
    events: [],
  });

  /** The store, with `between` run after each read and before its write (a writer landing in that gap). */
  function withWriterBetween(store: CiphertextStore, between: (rows: string[]) => Promise<void>): CiphertextStore {
    return {
      ...store,
      census: () => store.census(),
      stale: (...args) => store.stale(...args),
      replace: async (changes) => {
        await between(changes.map((c) => c.record.row));
        return store.replace(changes);
      },
    };
  }

  it('leaves a refresh that landed between its read and its write alone, and finds nothing left to move', async () => {
    const repo = createConnectionRepo(t.db);
    const id = await legacyConnection();
    let refreshed = false;
    const store = withWriterBetween(connectionCiphertexts(t.db), async (rows) => {
      if (refreshed || !rows.includes(id)) return;
      refreshed = true;
      expect(await repo.storeRotated(rotated(id, (await row(id)).version, 'refreshed'))).not.toBeNull();
    });

    const [report] = await reencryptAll(cipher, [store]);

    const stored = await row(id);
    expect(cipher.decrypt(stored.refreshTokenCiphertext!, { row: id, column: 'refreshToken' })).toBe('rt_refreshed');
    expect(stored.version).toBe(1);
    // The first pass lost the race; the second found the row already current.
    expect(report).toMatchObject({ reencrypted: 0, changedMeanwhile: 0, failed: [] });
    expect(await connectionCiphertexts(t.db).stale(null, 10, cipher.currentPrefix)).toMatchObject({ records: [] });
  });

  it('bumps no version, so a refresh holding the lease still lands its fenced write', async () => {
    const repo = createConnectionRepo(t.db);
    const id = await legacyConnection();
    const before = await row(id);
    // A refresh in flight: it read version 0, holds the lease, and is waiting on Lever.
    expect(await repo.claimLease(id, before.version, 'refresher-1', 60_000)).not.toBeNull();

    await reencryptAll(cipher, [connectionCiphertexts(t.db)]);

    const reencrypted = await row(id);
    expect(reencrypted.version).toBe(before.version);
    expect(reencrypted.leaseOwner).toBe('refresher-1');
    expect(reencrypted.refreshTokenCiphertext!.startsWith(cipher.currentPrefix)).toBe(true);
    expect(cipher.decrypt(reencrypted.refreshTokenCiphertext!, { row: id, column: 'refreshToken' })).toBe('rt_old');
    // Lever answered: the rotated tokens are stored over the version the refresh read.
    expect(await repo.storeRotated(rotated(id, before.version, 'after-lever'))).not.toBeNull();
    expect(cipher.decrypt((await row(id)).accessTokenCiphertext!, { row: id, column: 'accessToken' })).toBe('at_after-lever');
  });

  it('re-encrypts a stashed answer in Redis, keeping its expiry, and never over a newer stash', async () => {
    const store = stashCiphertexts({ redis, prefix });
    const connectionId = randomUUID();
    const racedConnectionId = randomUUID();
    const kept = `${prefix}:stash:${connectionId}:v3`;
    const raced = `${prefix}:stash:${racedConnectionId}:v1`;
    await redis.set(kept, legacyCiphertext(oldKey, '{"version":3}', `stash:${connectionId}`), 'EX', 600);
    await redis.set(raced, legacyCiphertext(oldKey, '{"version":1}', `stash:${racedConnectionId}`), 'EX', 600);
    const newer = cipher.encrypt('{"version":1,"newer":true}', { row: racedConnectionId, column: 'pendingTokens' });
    // Another process stashes again for that connection after our read (SCAN may return the keys in
    // different batches: only the batch holding it races).
    const racing = withWriterBetween(store, async (rows) => {
      if (rows.includes(racedConnectionId)) await redis.set(raced, newer, 'KEEPTTL');
    });

    const [report] = await reencryptAll(cipher, [racing], { maxPasses: 1 });

    expect(report).toMatchObject({ reencrypted: 1, changedMeanwhile: 1, failed: [] });
    expect(cipher.decrypt((await redis.get(kept))!, { row: connectionId, column: 'pendingTokens' })).toBe('{"version":3}');
    expect(await redis.ttl(kept)).toBeGreaterThan(500);
    expect(await redis.get(raced)).toBe(newer);
  });
});
