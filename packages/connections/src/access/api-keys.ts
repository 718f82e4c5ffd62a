import { generateApiKey, looksLikeApiKey, sha256Hex } from '@lever-connect/crypto';
import { isDatabaseUnavailable, type PrismaClient } from '@lever-connect/db';
import { NotFoundError, UnauthorizedError } from '@lever-connect/errors';
import type { InvalidationBus } from '../tokens/invalidation.js';
import { scopesForNewKey, TENANT_FULL_SET, UNSCOPED_DEFAULT, type Scope } from './scopes.js';
import { upsertTenant } from './tenants.js';

export interface ApiPrincipal {
  apiKeyId: string;
  prefix: string;
  /** Set for tenant-scoped keys: they see only this tenant. */
  tenantId: string | null;
  tenantExternalId: string | null;
  /** What the key may do (access/scopes.ts). */
  scopes: readonly string[];
}

/** A key stored before scopes existed (an empty list) keeps what it could do then. */
function scopesOf(row: { scopes: string[]; tenantId: string | null }): readonly string[] {
  if (row.scopes.length > 0) return row.scopes;
  return row.tenantId ? TENANT_FULL_SET : UNSCOPED_DEFAULT;
}

/**
 * What a key row allows, or null when it is revoked: the one mapping from a stored key to a principal,
 * shared by Bearer keys and console sessions (which re-read their key on every request).
 */
export function principalOf(row: {
  id: string;
  prefix: string;
  tenantId: string | null;
  revokedAt: Date | null;
  scopes: string[];
  tenant: { externalId: string } | null;
}): ApiPrincipal | null {
  if (row.revokedAt) return null;
  return { apiKeyId: row.id, prefix: row.prefix, tenantId: row.tenantId, tenantExternalId: row.tenant?.externalId ?? null, scopes: scopesOf(row) };
}

const CACHE_TTL_MS = 10_000;
/**
 * A key verified longer ago than this is re-read in the background while the cached principal keeps being
 * served (until CACHE_TTL_MS): a busy key must never expire under load, because every request arriving
 * during the re-read would wait on Postgres (seen: 80–100 ms stalls every 10 s at 1 000 rps).
 */
const REVALIDATE_AFTER_MS = 5_000;
const CACHE_MAX = 10_000;
/** Unknown keys are remembered apart, briefly and in a smaller space: a flood of made-up keys must never evict real ones. */
const NEGATIVE_TTL_MS = 2_000;
const NEGATIVE_MAX = 2_000;
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * API keys: random 256-bit secrets, stored as SHA-256 only, shown once. Verification is cached in memory
 * for a few seconds so the token endpoint's hot path does not read Postgres on every call. A revocation is
 * published on the invalidation bus, so every process drops the key at once; the TTL bounds the window
 * only if that message is lost (Redis down at the moment of revocation). Lookups of one key are shared
 * (one query however many requests wait on it), and a key in use is re-read ahead of its expiry.
 */
export function createApiKeyService(deps: { prisma: PrismaClient; bus?: Pick<InvalidationBus, 'publish' | 'subscribe'>; now?: () => number }) {
  const now = deps.now ?? Date.now;
  const cache = new Map<string, { principal: ApiPrincipal; at: number }>();
  const unknown = new Map<string, number>();
  const lookups = new Map<string, Promise<ApiPrincipal | null>>();
  // Bumped by every revocation: a lookup that began before one must not cache what it read (it may be the
  // row from before the revocation).
  let epoch = 0;
  const forget = (apiKeyId: string) => {
    epoch++;
    for (const [hash, entry] of cache) if (entry.principal.apiKeyId === apiKeyId) cache.delete(hash);
  };
  deps.bus?.subscribe('api-key', {
    onMessage: forget,
    onReset: () => {
      epoch++;
      cache.clear();
    },
  });
  const lastUsedWritten = new Map<string, number>();

  function touch(principal: ApiPrincipal) {
    const last = lastUsedWritten.get(principal.apiKeyId) ?? 0;
    if (now() - last < LAST_USED_RESOLUTION_MS) return;
    lastUsedWritten.set(principal.apiKeyId, now());
    // Fire and forget: a lost last-used stamp must never fail a request.
    deps.prisma.apiKey
      .update({ where: { id: principal.apiKeyId }, data: { lastUsedAt: new Date(now()) } })
      .catch(() => undefined);
  }

  /** Reads the key by hash and caches the answer (positive or negative); one query per hash at a time. */
  function lookup(hash: string): Promise<ApiPrincipal | null> {
    let pending = lookups.get(hash);
    if (pending) return pending;
    const startedAt = epoch;
    pending = (async () => {
      const row = await deps.prisma.apiKey.findUnique({ where: { hash }, include: { tenant: { select: { externalId: true } } } });
      const principal = row ? principalOf(row) : null;
      if (epoch !== startedAt) {
        // Revoked (somewhere) while we read: answer this once, cache nothing.
        cache.delete(hash);
        return principal;
      }
      cache.delete(hash);
      if (principal) {
        if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
        cache.set(hash, { principal, at: now() });
        unknown.delete(hash);
      } else {
        if (unknown.size >= NEGATIVE_MAX) unknown.delete(unknown.keys().next().value!);
        unknown.set(hash, now());
      }
      return principal;
    })().finally(() => lookups.delete(hash));
    lookups.set(hash, pending);
    return pending;
  }

  /** A cached principal still within its TTL; one past REVALIDATE_AFTER_MS is re-read in the background. */
  function fresh(hash: string): ApiPrincipal | undefined {
    const cached = cache.get(hash);
    if (!cached) return undefined;
    const age = now() - cached.at;
    if (age >= CACHE_TTL_MS) return undefined;
    // A failed re-read keeps the entry until its TTL; the next request past REVALIDATE_AFTER_MS tries again.
    if (age >= REVALIDATE_AFTER_MS && !lookups.has(hash)) lookup(hash).catch(() => undefined);
    return cached.principal;
  }

  return {
    async create(input: { name: string; tenantExternalId?: string | undefined; scopes?: readonly string[] | undefined }) {
      const scopes: Scope[] = scopesForNewKey(input.scopes, Boolean(input.tenantExternalId));
      const tenant = input.tenantExternalId ? await upsertTenant(deps.prisma, { externalId: input.tenantExternalId }) : null;
      const { key, prefix, hash } = generateApiKey();
      const row = await deps.prisma.apiKey.create({
        data: { name: input.name, prefix, hash, tenantId: tenant?.id ?? null, scopes },
      });
      return { key, apiKey: { ...row, tenantExternalId: tenant?.externalId ?? null } };
    },

    async list() {
      const rows = await deps.prisma.apiKey.findMany({
        orderBy: { createdAt: 'asc' },
        include: { tenant: { select: { externalId: true } } },
      });
      return rows.map(({ tenant, ...row }) => ({ ...row, scopes: [...scopesOf(row)], tenantExternalId: tenant?.externalId ?? null }));
    },

    async revoke(id: string) {
      const { count } = await deps.prisma.apiKey.updateMany({
        where: { id, revokedAt: null },
        data: { revokedAt: new Date(now()) },
      });
      if (count === 0 && !(await deps.prisma.apiKey.findUnique({ where: { id } }))) throw new NotFoundError('API key');
      forget(id);
      await deps.bus?.publish('api-key', id);
    },

    /**
     * The principal of a key verified moments ago, without any I/O (the token endpoint's hot path answers
     * synchronously); undefined when the key must go through `verify`.
     */
    verifyCached(key: string | undefined): ApiPrincipal | undefined {
      if (!key || !looksLikeApiKey(key)) return undefined;
      const principal = fresh(sha256Hex(key));
      if (principal) touch(principal);
      return principal;
    },

    /** Resolves the bearer key of a request. Unknown, malformed and revoked keys are all the same 401. */
    async verify(key: string | undefined): Promise<ApiPrincipal> {
      if (!key) throw new UnauthorizedError('missing_api_key', 'An API key is required: Authorization: Bearer lc_...');
      // Malformed keys never reach the database; well-formed ones are compared by hash lookup, which takes
      // the same time whether or not a prefix matches (no timing oracle on the key's characters).
      if (!looksLikeApiKey(key)) throw new UnauthorizedError('invalid_api_key', 'The API key is not valid');
      const hash = sha256Hex(key);
      let principal: ApiPrincipal | null | undefined = fresh(hash);
      if (principal === undefined) {
        if (now() - (unknown.get(hash) ?? -Infinity) < NEGATIVE_TTL_MS) {
          principal = null;
        } else {
          try {
            principal = await lookup(hash);
          } catch (error) {
            // Postgres unreachable: a key verified moments ago stays good (revocations still arrive by the bus).
            const cached = cache.get(hash);
            if (cached && isDatabaseUnavailable(error)) return cached.principal;
            throw error;
          }
        }
      }
      if (!principal) throw new UnauthorizedError('invalid_api_key', 'The API key is not valid');
      touch(principal);
      return principal;
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
