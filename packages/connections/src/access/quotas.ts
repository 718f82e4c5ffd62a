import { RateLimitedError } from '@lever-connect/errors';
import type { Redis } from 'ioredis';
import type { Gate } from '../proxy/budget.js';

/** A token bucket: steady calls per second and how many may come at once. 0 per second turns it off. */
export interface QuotaPolicy {
  perSecond: number;
  burst: number;
}

export interface QuotasConfig {
  /** Forced or manual refreshes of a tenant's connections. */
  forcedRefreshPerTenant: QuotaPolicy;
  /** Calls through the Lever API proxy, per tenant and per API key. */
  proxyPerTenant: QuotaPolicy;
  proxyPerKey: QuotaPolicy;
}

/** A proxied call: the tenant whose connection it uses, and the key calling (null: a console session or the demo). */
export interface ProxyCaller {
  tenantId: string;
  apiKeyId: string | null;
}

/** One quota bucket of a proxied call, as the account's budget checks it with the call's turn (proxy/budget.ts). */
export interface QuotaGate extends Gate {
  /** Which quota, named in the refusal. */
  what: string;
}

/* GCRA check-and-take, with Redis's clock. KEYS[1]: the bucket. ARGV: interval ms, tolerance ms. Returns 0 (taken) or ms to wait. */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
if tat - now > tolerance then return math.ceil(tat - now - tolerance) end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil(tat + interval - now + 1000))
return 0`;

type Scripted = Redis & { leverConnectQuotaTake(key: string, intervalMs: number, toleranceMs: number): Promise<number> };

/** 429 `quota_exceeded`: nothing was done. */
export function quotaExceeded(what: string, waitMs: number): RateLimitedError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new RateLimitedError('quota_exceeded', `Over the ${what} quota; try again in ${seconds} s`, seconds, { quota: what });
}

/**
 * Fair share (DESIGN.md invariant 6: one tenant cannot use up what others need). Per-tenant and per-key
 * quotas in Redis, shared by every api process: forced refreshes draw from the one global budget of calls to
 * Lever's token endpoint, and proxied calls from the api's capacity, so a single tenant's key could hold back
 * every other tenant. Over quota: 429 `quota_exceeded` with Retry-After; nothing was done.
 */
export function createQuotas(deps: { redis: Redis; prefix: string; config: QuotasConfig }) {
  const redis = deps.redis as Scripted;
  if (!redis.leverConnectQuotaTake) redis.defineCommand('leverConnectQuotaTake', { numberOfKeys: 1, lua: TAKE });
  const bucket = (name: string, policy: QuotaPolicy, what: string): QuotaGate => {
    const intervalMs = 1000 / policy.perSecond;
    return { key: `${deps.prefix}:quota:${name}`, intervalMs, toleranceMs: (Math.max(1, policy.burst) - 1) * intervalMs, what };
  };

  // Buckets are per tenant of the connection, not of the key: an operator's services usually share one
  // unscoped key, and the tenants are who must not starve one another.
  return {
    /** A forced or manual refresh of one of `tenantId`'s connections. */
    async forcedRefresh(tenantId: string): Promise<void> {
      const policy = deps.config.forcedRefreshPerTenant;
      if (policy.perSecond <= 0) return;
      const { key, intervalMs, toleranceMs, what } = bucket(`refresh:${tenantId}`, policy, 'forced refresh per tenant');
      const waitMs = await redis.leverConnectQuotaTake(key, intervalMs, toleranceMs);
      if (waitMs > 0) throw quotaExceeded(what, waitMs);
    },
    /**
     * The quotas one call through the Lever API proxy must pass: its tenant's, then its key's (those that are
     * on). The proxy hands them to the account's budget, which checks them with the call's turn in the same
     * Redis call, all or nothing (a call refused by one takes nothing from the other, nor a turn).
     */
    proxyGates(caller: ProxyCaller): QuotaGate[] {
      const { proxyPerTenant, proxyPerKey } = deps.config;
      return [
        ...(proxyPerTenant.perSecond > 0 ? [bucket(`proxy:tenant:${caller.tenantId}`, proxyPerTenant, 'Lever API calls per tenant')] : []),
        ...(caller.apiKeyId && proxyPerKey.perSecond > 0 ? [bucket(`proxy:key:${caller.apiKeyId}`, proxyPerKey, 'Lever API calls per API key')] : []),
      ];
    },
  };
}

export type Quotas = ReturnType<typeof createQuotas>;
