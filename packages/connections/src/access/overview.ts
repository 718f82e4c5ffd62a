import type { ConnectionStatus, LeverEnvironment, PrismaClient, Sql } from '@lever-connect/db';
import { ts } from '@lever-connect/db';
import type { HourCount, HourlyCounter } from '../proxy/hourly-counter.js';
import { lastHourStarts } from '../proxy/hourly-counter.js';
import { GRANT_LIFETIME_MS, grantExpiresAt } from '../refresh/schedule.js';
import { tenantFilter, type Viewer } from './viewer.js';

const DAY_MS = 24 * 3600_000;
const HOUR_MS = 3600_000;
const HOURS = 24;
/** An hour's events are taken as final this long after it ended (a transaction may commit a little late). */
const SETTLE_MS = 60_000;
/** Cached final hours (viewers × hours) before the cache starts over. */
const CACHE_MAX = 50_000;
/** How many of the soonest-expiring connections and of the failing endpoints are listed (the counts are exact). */
const LISTED = 10;

/** The refresh outcomes the chart counts, by the outbox event each one writes. */
const REFRESH_OUTCOMES = {
  'connection.refreshed': 'refreshed',
  'connection.refresh_failed': 'failed',
  'connection.needs_reauth': 'needsReauth',
} as const;

export interface RefreshHour {
  hour: Date;
  /** Refreshes that rotated the tokens. */
  refreshed: number;
  /** Attempts that failed transiently (the grant kept, retried later). */
  failed: number;
  /** Attempts Lever answered invalid_grant: the connection now needs the customer to reconnect. */
  needsReauth: number;
}

export interface Overview {
  generatedAt: Date;
  connections: {
    total: number;
    byStatus: Array<{ status: ConnectionStatus; environment: LeverEnvironment; count: number }>;
    /** Active connections whose refreshes keep failing (transiently) right now. */
    failing: number;
  };
  /** The last 24 hours, oldest first, the current hour last. */
  refreshes: RefreshHour[];
  expiring: {
    withinDays: number;
    count: number;
    /** The soonest first. */
    data: Array<{ id: string; tenant: { externalId: string }; environment: LeverEnvironment; leverAccountId: string; grantExpiresAt: Date }>;
  };
  /** Null for a tenant-scoped key: webhook endpoints are the operator's (admin keys only). */
  webhookEndpoints: {
    total: number;
    failing: number;
    disabled: number;
    data: Array<{ id: string; url: string; enabled: boolean; disabledReason: string | null; failingSince: Date | null }>;
  } | null;
  /** Lever's 429s met by the proxy, per hour, across every api process. Null for a tenant-scoped key (they are every tenant's). */
  leverRateLimited: HourCount[] | null;
}

/**
 * The console's overview, behind the tenant wall: what a key's viewer may see of connections and their
 * refreshes; the operator-wide parts (webhook endpoints, Lever's 429s) only for an unscoped key.
 */
export function createOverviewReads(deps: {
  prisma: PrismaClient;
  sql: Sql;
  leverRateLimited: Pick<HourlyCounter, 'lastHours'>;
  expiringNoticeDays: number;
  now?: () => Date;
}) {
  const now = deps.now ?? (() => new Date());
  // Hours that are over do not change: each is counted once per process and kept, so an overview reads only
  // the hours since the last one it counted (the current hour, once warm) — at a million connections
  // refreshed hourly, a day of outcomes is ~24 M index entries, an hour ~1 M.
  const finalHours = new Map<string, RefreshHour>();
  const cacheKey = (viewer: Viewer, hour: Date) => `${viewer.tenantId ?? '*'}:${hour.getTime()}`;

  /** Refresh outcomes per hour from the outbox: an index-only range scan of (type, createdAt) per type. */
  async function refreshesByHour(viewer: Viewer, at: Date): Promise<RefreshHour[]> {
    const starts = lastHourStarts(at, HOURS);
    const isFinal = (hour: Date) => hour.getTime() + HOUR_MS + SETTLE_MS <= at.getTime();
    const firstToCount = starts.find((hour) => !isFinal(hour) || !finalHours.has(cacheKey(viewer, hour)))!;
    const tenant = viewer.tenantId === null ? '' : `AND "tenantId" = $3::uuid`;
    const rows = await deps.sql.query<{ hour: Date; type: keyof typeof REFRESH_OUTCOMES; n: number }>(
      `SELECT date_trunc('hour', "createdAt") AS "hour", "type", count(*)::int AS "n"
         FROM "events"
        WHERE "type" = ANY($1::text[]) AND "createdAt" >= $2 ${tenant}
        GROUP BY 1, 2`,
      [Object.keys(REFRESH_OUTCOMES), ts(firstToCount), ...(viewer.tenantId === null ? [] : [viewer.tenantId])],
    );
    const counted = new Map(
      starts.filter((hour) => hour >= firstToCount).map((hour) => [hour.getTime(), { hour, refreshed: 0, failed: 0, needsReauth: 0 }]),
    );
    for (const row of rows) {
      const bucket = counted.get(row.hour.getTime());
      if (bucket) bucket[REFRESH_OUTCOMES[row.type]] += row.n;
    }
    if (finalHours.size > CACHE_MAX) finalHours.clear();
    for (const bucket of counted.values()) if (isFinal(bucket.hour)) finalHours.set(cacheKey(viewer, bucket.hour), bucket);
    for (const key of finalHours.keys()) if (Number(key.slice(key.indexOf(':') + 1)) < starts[0]!.getTime()) finalHours.delete(key);
    return starts.map((hour) => counted.get(hour.getTime()) ?? { ...finalHours.get(cacheKey(viewer, hour))! });
  }

  async function expiring(viewer: Viewer, at: Date): Promise<Overview['expiring']> {
    // The grant ends GRANT_LIFETIME after it was made (the same rule as the connection.expiring event).
    const where = {
      ...tenantFilter(viewer),
      status: 'active' as const,
      grantCreatedAt: { lte: new Date(at.getTime() + deps.expiringNoticeDays * DAY_MS - GRANT_LIFETIME_MS) },
    };
    const [count, rows] = await Promise.all([
      deps.prisma.connection.count({ where }),
      deps.prisma.connection.findMany({
        where,
        select: { id: true, environment: true, leverAccountId: true, grantCreatedAt: true, tenant: { select: { externalId: true } } },
        orderBy: { grantCreatedAt: 'asc' },
        take: LISTED,
      }),
    ]);
    return {
      withinDays: deps.expiringNoticeDays,
      count,
      data: rows.map(({ grantCreatedAt, ...c }) => ({ ...c, grantExpiresAt: grantExpiresAt(grantCreatedAt!) })),
    };
  }

  async function webhookEndpoints(): Promise<NonNullable<Overview['webhookEndpoints']>> {
    const unhealthy = { OR: [{ enabled: false }, { failingSince: { not: null } }] };
    const [total, failing, disabled, data] = await Promise.all([
      deps.prisma.webhookEndpoint.count(),
      deps.prisma.webhookEndpoint.count({ where: { enabled: true, failingSince: { not: null } } }),
      deps.prisma.webhookEndpoint.count({ where: { enabled: false } }),
      deps.prisma.webhookEndpoint.findMany({
        where: unhealthy,
        select: { id: true, url: true, enabled: true, disabledReason: true, failingSince: true },
        orderBy: { updatedAt: 'desc' },
        take: LISTED,
      }),
    ]);
    return { total, failing, disabled, data };
  }

  return {
    async get(viewer: Viewer): Promise<Overview> {
      const at = now();
      const isOperator = viewer.tenantId === null;
      const [groups, failing, refreshes, soon, endpoints, rateLimited] = await Promise.all([
        deps.prisma.connection.groupBy({ by: ['status', 'environment'], where: tenantFilter(viewer), _count: { _all: true } }),
        deps.prisma.connection.count({ where: { ...tenantFilter(viewer), status: 'active', failingSince: { not: null } } }),
        refreshesByHour(viewer, at),
        expiring(viewer, at),
        isOperator ? webhookEndpoints() : null,
        isOperator ? deps.leverRateLimited.lastHours(HOURS) : null,
      ]);
      const byStatus = groups
        .map((g) => ({ status: g.status, environment: g.environment, count: g._count._all }))
        .sort((a, b) => a.status.localeCompare(b.status) || a.environment.localeCompare(b.environment));
      return {
        generatedAt: at,
        connections: { total: byStatus.reduce((sum, g) => sum + g.count, 0), byStatus, failing },
        refreshes,
        expiring: soon,
        webhookEndpoints: endpoints,
        leverRateLimited: rateLimited,
      };
    },
  };
}

export type OverviewReads = ReturnType<typeof createOverviewReads>;
