import type { LeverEnvironment } from '@lever-connect/config';
import type { TokenReadRow } from '../store/connection-repo.js';
import type { InvalidationBus } from './invalidation.js';

const CACHE_MAX = 50_000;

/** What a cached read needs: never the refresh token, and the access token only while it is valid. */
export interface CachedToken {
  /** The serialized response, built on first use. */
  body?: string;
  connectionId: string;
  tenantId: string;
  environment: LeverEnvironment;
  leverAccountId: string;
  scopes: string[];
  accessToken: string;
  expiresAt: Date;
  issuedAt: Date | null;
  cachedAt: number;
}

/** A row read in flight, with the invalidation number it started at. */
export interface SharedRead {
  row: Promise<TokenReadRow | null>;
  seq: number;
}

/**
 * The token endpoint's memory: valid access tokens of active connections for `ttlMs`, and the row reads in
 * flight (concurrent misses of one connection share one read). Honest across processes: an invalidation
 * (delete, needs_reauth, reconnect, refresh; invalidation.ts) drops the entry at once, and a read that began
 * before an invalidation of its connection never caches what it read — it may be the row from before the
 * change — nor does a later request join it. Invalidations are numbered for that.
 */
export function createTokenCache(deps: { ttlMs: number; bus?: Pick<InvalidationBus, 'subscribe'> | undefined; now: () => Date }) {
  const entries = new Map<string, CachedToken>();
  const reads = new Map<string, SharedRead>();
  let seq = 0;
  let resetAt = 0;
  const invalidatedAt = new Map<string, { seq: number; at: number }>();
  deps.bus?.subscribe('connection', {
    onMessage: (id) => {
      entries.delete(id);
      invalidatedAt.set(id, { seq: ++seq, at: Date.now() });
      // Reads finish within seconds; older marks can no longer matter.
      if (invalidatedAt.size > 10_000) for (const [k, v] of invalidatedAt) if (Date.now() - v.at > 120_000) invalidatedAt.delete(k);
    },
    onReset: () => {
      entries.clear();
      resetAt = ++seq;
    },
  });

  /** The connection was invalidated (or every cache reset) after a read numbered `readSeq` began. */
  const changedSince = (id: string, readSeq: number) => resetAt > readSeq || (invalidatedAt.get(id)?.seq ?? 0) > readSeq;

  return {
    ttlMs: deps.ttlMs,
    get: (id: string) => entries.get(id),
    drop: (id: string) => void entries.delete(id),
    reading: (id: string) => reads.has(id),

    /** An entry for the row's token, kept unless caching is off, the row is not active, or it changed since `readSeq`. */
    remember(c: TokenReadRow, accessToken: string, readSeq: number): CachedToken {
      const entry: CachedToken = {
        connectionId: c.id,
        tenantId: c.tenantId,
        environment: c.environment as LeverEnvironment,
        leverAccountId: c.leverAccountId,
        scopes: c.scopes,
        accessToken,
        expiresAt: c.accessTokenExpiresAt!,
        issuedAt: c.refreshTokenIssuedAt,
        cachedAt: deps.now().getTime(),
      };
      if (deps.ttlMs > 0 && c.status === 'active' && !changedSince(c.id, readSeq)) {
        if (entries.size >= CACHE_MAX && !entries.has(c.id)) entries.delete(entries.keys().next().value!);
        entries.set(c.id, entry);
      }
      return entry;
    },

    /**
     * The stored row, read once however many requests ask for it at the same moment. A request never joins
     * a read that began before the connection's last invalidation: it may return the row from before it.
     */
    shared(id: string, load: (id: string) => Promise<TokenReadRow | null>): SharedRead {
      const pending = reads.get(id);
      if (pending && !changedSince(id, pending.seq)) return pending;
      const entry: SharedRead = {
        row: load(id).finally(() => {
          if (reads.get(id) === entry) reads.delete(id);
        }),
        seq,
      };
      reads.set(id, entry);
      return entry;
    },
  };
}

export type TokenCache = ReturnType<typeof createTokenCache>;
