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
  save(pending: PendingTokens): Promise<void>;
  load(connectionId: string): Promise<PendingTokens | undefined>;
  clear(connectionId: string): Promise<void>;
}

const TTL_SECONDS = 7 * 24 * 3600;

export function createResponseStash(deps: { redis: Redis; prefix: string; cipher: TokenCipher }): ResponseStash {
  const memory = new Map<string, PendingTokens>();
  const key = (id: string) => `${deps.prefix}:stash:${id}`;
  return {
    async save(pending) {
      memory.set(pending.connectionId, pending);
      const sealed = deps.cipher.encrypt(JSON.stringify(pending), `stash:${pending.connectionId}`);
      // Best effort: if Redis is down too, the in-memory copy still lets this process finish the write.
      await deps.redis.set(key(pending.connectionId), sealed, 'EX', TTL_SECONDS).catch(() => undefined);
    },
    async load(connectionId) {
      const local = memory.get(connectionId);
      if (local) return local;
      const sealed = await deps.redis.get(key(connectionId));
      if (!sealed) return undefined;
      return JSON.parse(deps.cipher.decrypt(sealed, `stash:${connectionId}`)) as PendingTokens;
    },
    async clear(connectionId) {
      memory.delete(connectionId);
      await deps.redis.del(key(connectionId)).catch(() => undefined);
    },
  };
}
