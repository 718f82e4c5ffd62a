import { describeCiphertext, type CensusEntry, type CiphertextRecord, type CiphertextStore, type TokenCipher } from '@lever-connect/crypto';
import type { Redis } from 'ioredis';

/**
 * A rotated token set that Lever gave us but Postgres has not stored yet. Lever already killed the refresh
 * token we hold, so this is the only live copy of the grant: it is kept in memory and, encrypted, in Redis
 * until the write lands, and applied before anything else touches the connection (DESIGN.md invariant 2).
 */
export interface PendingTokens {
  connectionId: string;
  /** The version the tokens must be written over (fenced write). */
  version: number;
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  issuedAt: string;
  scopes: string[];
}

export interface ResponseStash {
  /** Keeps the token set in memory at once, then in Redis; throws if Redis refused it (the caller retries). */
  save(pending: PendingTokens): Promise<void>;
  /** The token set stashed for this connection at exactly this version, if any. */
  load(connectionId: string, version: number): Promise<PendingTokens | undefined>;
  /** Drops the stash of exactly this version (a newer one, stashed by another process, is left alone). */
  clear(connectionId: string, version: number): Promise<void>;
}

const TTL_SECONDS = 7 * 24 * 3600;

// The version is part of the key: a stash is only ever applied over the version it was fenced on, and
// clearing one generation can never delete another process's newer stash.
const stashKey = (prefix: string, id: string, version: number) => `${prefix}:stash:${id}:v${version}`;
/** The connection id in a stash key. */
const connectionOf = (prefix: string, key: string) => key.slice(`${prefix}:stash:`.length).replace(/:v[0-9]+$/, '');

export function createResponseStash(deps: { redis: Redis; prefix: string; cipher: TokenCipher }): ResponseStash {
  const memory = new Map<string, PendingTokens>();
  const key = (id: string, version: number) => stashKey(deps.prefix, id, version);
  const memoryKey = (id: string, version: number) => `${id}:${version}`;
  return {
    async save(pending) {
      memory.set(memoryKey(pending.connectionId, pending.version), pending);
      const sealed = deps.cipher.encrypt(JSON.stringify(pending), { row: pending.connectionId, column: 'pendingTokens' });
      await deps.redis.set(key(pending.connectionId, pending.version), sealed, 'EX', TTL_SECONDS);
    },
    async load(connectionId, version) {
      const local = memory.get(memoryKey(connectionId, version));
      if (local) return local;
      const sealed = await deps.redis.get(key(connectionId, version));
      if (!sealed) return undefined;
      const pending = JSON.parse(deps.cipher.decrypt(sealed, { row: connectionId, column: 'pendingTokens' })) as PendingTokens;
      return pending.version === version ? pending : undefined;
    },
    async clear(connectionId, version) {
      memory.delete(memoryKey(connectionId, version));
      await deps.redis.del(key(connectionId, version)).catch(() => undefined);
    },
  };
}

/** Sets KEYS[1] to ARGV[2], keeping its expiry, only while it still holds ARGV[1]. */
const REPLACE_IF_UNCHANGED = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') return 1 end return 0`;

/**
 * The stashed token sets, for `pnpm cli keys reencrypt`: a stash lives up to 7 days, longer than an old
 * key may be kept after a rotation, and it can be the only live copy of a grant. Walked with SCAN (never
 * KEYS); each value is replaced only while it is unchanged, and keeps its expiry.
 */
export function stashCiphertexts(deps: { redis: Redis; prefix: string }): CiphertextStore {
  const match = `${deps.prefix}:stash:*`;
  async function scan(cursor: string, count: number): Promise<{ keys: string[]; values: Array<string | null>; next: string | null }> {
    const [next, keys] = await deps.redis.scan(cursor, 'MATCH', match, 'COUNT', count);
    const values = keys.length > 0 ? await deps.redis.mget(...keys) : [];
    return { keys, values, next: next === '0' ? null : next };
  }
  type StashRecord = CiphertextRecord & { key: string };
  return {
    name: 'refresh stash (Redis)',
    columns: ['pendingTokens'],
    async stale(cursor, limit, currentPrefix) {
      // COUNT is how many slots of the whole keyspace one SCAN step looks at, not how many keys match: a
      // small one would walk a shared Redis in thousands of round trips for a handful of stashes.
      const { keys, values, next } = await scan(cursor ?? '0', Math.max(limit, 1000));
      const records: StashRecord[] = keys.flatMap((key, i) => {
        const value = values[i];
        return value && !value.startsWith(currentPrefix) ? [{ key, row: connectionOf(deps.prefix, key), ciphertexts: { pendingTokens: value } }] : [];
      });
      return { records, next };
    },
    async replace(changes) {
      return Promise.all(
        changes.map(async ({ record, ciphertexts }) => {
          const { key } = record as StashRecord;
          return (await deps.redis.eval(REPLACE_IF_UNCHANGED, 1, key, record.ciphertexts.pendingTokens!, ciphertexts.pendingTokens!)) === 1;
        }),
      );
    },
    async census() {
      const counts = new Map<string, CensusEntry>();
      let cursor: string | null = '0';
      while (cursor !== null) {
        const page = await scan(cursor, 1000);
        for (const value of page.values) {
          if (!value) continue;
          const { format, keyId } = describeCiphertext(value);
          const entry = counts.get(`${format}.${keyId}`) ?? { column: 'pendingTokens', format, keyId, count: 0 };
          entry.count += 1;
          counts.set(`${format}.${keyId}`, entry);
        }
        cursor = page.next;
      }
      return [...counts.values()];
    },
  };
}
