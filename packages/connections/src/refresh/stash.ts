import type { TokenCipher } from '@lever-connect/crypto';
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

export function createResponseStash(deps: { redis: Redis; prefix: string; cipher: TokenCipher }): ResponseStash {
  const memory = new Map<string, PendingTokens>();
  // The version is part of the key: a stash is only ever applied over the version it was fenced on, and
  // clearing one generation can never delete another process's newer stash.
  const key = (id: string, version: number) => `${deps.prefix}:stash:${id}:v${version}`;
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
