import { randomUUID } from 'node:crypto';
import { createHourlyCounter, createOverviewReads } from '@lever-connect/connections';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

interface OverviewBody {
  connections: { total: number; byStatus: Array<{ status: string; environment: string; count: number }>; failing: number };
  refreshes: Array<{ hour: string; refreshed: number; failed: number; needsReauth: number }>;
  expiring: { withinDays: number; count: number; data: Array<{ id: string; tenant: { externalId: string }; grantExpiresAt: string }> };
  webhookEndpoints: { total: number; failing: number; disabled: number; data: Array<{ id: string; url: string }> } | null;
  leverRateLimited: Array<{ hour: string; count: number }> | null;
}

describe('GET /v1/overview', () => {
  let t: TestApp;
  const ids: Record<string, string> = {};
  let seededAt = 0;
  /** The bucket of the hour `hoursAgo` before seeding (by its time, so a test crossing an hour still finds it). */
  const bucket = <T extends { hour: string }>(hours: T[], hoursAgo: number) =>
    hours.find((h) => Date.parse(h.hour) === Math.floor((seededAt - hoursAgo * HOUR) / HOUR) * HOUR);

  beforeAll(async () => {
    t = await buildTestApp();
    const prisma = t.db.db.prisma;
    const now = Date.now();
    seededAt = now;
    const tenants = new Map<string, string>();
    for (const externalId of ['tenant-a', 'tenant-b']) {
      tenants.set(externalId, (await prisma.tenant.upsert({ where: { externalId }, create: { externalId }, update: {} })).id);
    }
    const rows: Array<{ key: string; tenant: string; environment: 'sandbox' | 'production'; status: 'active' | 'needs_reauth' | 'disconnected'; grantAgeDays: number; failing?: boolean }> = [
      { key: 'a-fresh', tenant: 'tenant-a', environment: 'production', status: 'active', grantAgeDays: 10 },
      { key: 'a-expiring', tenant: 'tenant-a', environment: 'production', status: 'active', grantAgeDays: 360 },
      { key: 'a-reauth', tenant: 'tenant-a', environment: 'sandbox', status: 'needs_reauth', grantAgeDays: 360 },
      { key: 'b-expiring-soonest', tenant: 'tenant-b', environment: 'production', status: 'active', grantAgeDays: 364, failing: true },
      { key: 'b-sandbox', tenant: 'tenant-b', environment: 'sandbox', status: 'active', grantAgeDays: 100 },
      { key: 'b-gone', tenant: 'tenant-b', environment: 'production', status: 'disconnected', grantAgeDays: 363 },
    ];
    for (const row of rows) {
      ids[row.key] = randomUUID();
      await prisma.connection.create({
        data: {
          id: ids[row.key],
          tenantId: tenants.get(row.tenant)!,
          environment: row.environment,
          status: row.status,
          leverAccountId: `acct_${row.key}`,
          scopes: [],
          grantCreatedAt: new Date(now - row.grantAgeDays * DAY),
          failingSince: row.failing ? new Date(now - HOUR) : null,
        },
      });
    }
    // Refresh outcomes at known hours: now, 3 h ago, and 30 h ago (outside the window).
    const event = (type: string, key: string, hoursAgo: number) =>
      prisma.event.create({
        data: {
          type,
          tenantId: tenants.get(key.startsWith('a-') ? 'tenant-a' : 'tenant-b')!,
          connectionId: ids[key]!,
          data: {},
          createdAt: new Date(now - hoursAgo * HOUR),
        },
      });
    for (let i = 0; i < 3; i++) await event('connection.refreshed', 'a-fresh', 0);
    await event('connection.refreshed', 'b-sandbox', 0);
    await event('connection.refresh_failed', 'b-expiring-soonest', 3);
    await event('connection.refresh_failed', 'b-expiring-soonest', 3);
    await event('connection.needs_reauth', 'a-reauth', 3);
    await event('connection.refreshed', 'a-fresh', 30);
    await event('connection.created', 'a-fresh', 0); // not a refresh outcome

    const healthy = await t.app.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: bearer(t.adminKey), payload: { url: 'http://localhost:9/ok' } });
    const failing = await t.app.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: bearer(t.adminKey), payload: { url: 'http://localhost:9/failing' } });
    const disabled = await t.app.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: bearer(t.adminKey), payload: { url: 'http://localhost:9/off' } });
    expect([healthy.statusCode, failing.statusCode, disabled.statusCode]).toEqual([201, 201, 201]);
    await prisma.webhookEndpoint.update({ where: { id: failing.json().id }, data: { failingSince: new Date(now - DAY) } });
    await prisma.webhookEndpoint.update({ where: { id: disabled.json().id }, data: { enabled: false, disabledReason: 'gone' } });
    ids.failingEndpoint = failing.json().id;

    // Lever's 429s as the proxy counts them: two this hour (the counter the core's proxy hook increments).
    const counter = createHourlyCounter({ redis: t.core.redis, key: `${t.core.config.redisPrefix}:stats:lever-429` });
    counter.increment();
    counter.increment();
  });
  afterAll(async () => {
    await t?.close();
  });

  const overview = async (key: string): Promise<OverviewBody> => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/overview', headers: bearer(key) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    return res.json();
  };

  it('counts connections by status and environment, and the failing ones', async () => {
    const o = await overview(t.adminKey);
    expect(o.connections.total).toBe(6);
    expect(o.connections.byStatus).toEqual([
      { status: 'active', environment: 'production', count: 3 },
      { status: 'active', environment: 'sandbox', count: 1 },
      { status: 'disconnected', environment: 'production', count: 1 },
      { status: 'needs_reauth', environment: 'sandbox', count: 1 },
    ]);
    expect(o.connections.failing).toBe(1);
  });

  it('charts 24 hourly buckets of refresh outcomes from the outbox, oldest first', async () => {
    const o = await overview(t.adminKey);
    expect(o.refreshes).toHaveLength(24);
    const hours = o.refreshes.map((h) => Date.parse(h.hour));
    expect(hours.every((h, i) => i === 0 || h - hours[i - 1]! === HOUR)).toBe(true);
    expect(hours[23]).toBe(Math.floor(Date.now() / HOUR) * HOUR);
    expect(bucket(o.refreshes, 0)).toMatchObject({ refreshed: 4, failed: 0, needsReauth: 0 });
    expect(bucket(o.refreshes, 3)).toMatchObject({ refreshed: 0, failed: 2, needsReauth: 1 });
    const total = o.refreshes.reduce((sum, h) => sum + h.refreshed + h.failed + h.needsReauth, 0);
    expect(total, 'the 30-hour-old refresh and the created event are not counted').toBe(7);
  });

  it('lists active connections whose grant ends within the notice period, soonest first', async () => {
    const o = await overview(t.adminKey);
    expect(o.expiring.withinDays).toBe(14);
    expect(o.expiring.count).toBe(2);
    expect(o.expiring.data.map((c) => c.id)).toEqual([ids['b-expiring-soonest'], ids['a-expiring']]);
    expect(Date.parse(o.expiring.data[0]!.grantExpiresAt)).toBeGreaterThan(Date.now());
  });

  it('shows the operator failing and disabled webhook endpoints and the Lever 429s of the last 24 h', async () => {
    const o = await overview(t.adminKey);
    expect(o.webhookEndpoints).toMatchObject({ total: 3, failing: 1, disabled: 1 });
    expect(o.webhookEndpoints!.data.map((e) => e.url).sort()).toEqual(['http://localhost:9/failing', 'http://localhost:9/off']);
    expect(o.leverRateLimited).toHaveLength(24);
    expect(bucket(o.leverRateLimited!, 0)!.count).toBe(2);
    expect(o.leverRateLimited!.reduce((sum, h) => sum + h.count, 0)).toBe(2);
  });

  it("gives a tenant key its own tenant's figures only, and none of the operator's", async () => {
    const o = await overview(t.tenantKey);
    expect(o.connections.total).toBe(3);
    expect(o.connections.failing).toBe(0);
    expect(bucket(o.refreshes, 0)).toMatchObject({ refreshed: 3 });
    expect(bucket(o.refreshes, 3)).toMatchObject({ failed: 0, needsReauth: 1 });
    expect(o.expiring.data.map((c) => c.id)).toEqual([ids['a-expiring']]);
    expect(o.webhookEndpoints).toBeNull();
    expect(o.leverRateLimited).toBeNull();
    const body = JSON.stringify(o);
    for (const key of ['b-expiring-soonest', 'b-sandbox', 'b-gone']) expect(body).not.toContain(ids[key]);
    expect(body).not.toContain('tenant-b');
  });
});

describe('the hourly counter', () => {
  it('counts per hour and reads the last hours back, oldest first, with empty hours as 0', async () => {
    let now = new Date('2026-03-01T10:15:00Z');
    const store = new Map<string, number>();
    const redis = {
      multi() {
        const chain = {
          incr(k: string) {
            store.set(k, (store.get(k) ?? 0) + 1);
            return chain;
          },
          pexpire: () => chain,
          exec: async () => [],
        };
        return chain;
      },
      mget: async (...keys: string[]) => keys.map((k) => (store.has(k) ? String(store.get(k)) : null)),
    } as unknown as Parameters<typeof createHourlyCounter>[0]['redis'];
    const counter = createHourlyCounter({ redis, key: 'k', now: () => now });
    counter.increment();
    now = new Date('2026-03-01T12:59:59Z');
    counter.increment();
    counter.increment();
    const hours = await counter.lastHours(4);
    expect(hours.map((h) => [h.hour.toISOString(), h.count])).toEqual([
      ['2026-03-01T09:00:00.000Z', 0],
      ['2026-03-01T10:00:00.000Z', 1],
      ['2026-03-01T11:00:00.000Z', 0],
      ['2026-03-01T12:00:00.000Z', 2],
    ]);
  });
});

describe('the overview of refresh outcomes', () => {
  it('counts an hour that is over once per process, and then only the hours since', async () => {
    const since: string[] = [];
    const sql = {
      query: async (_text: string, values: readonly unknown[] = []) => {
        since.push(String(values[1]));
        return [{ hour: new Date('2026-03-01T09:00:00Z'), type: 'connection.refreshed', n: 5 }];
      },
    };
    const none = { count: async () => 0, findMany: async () => [], groupBy: async () => [] };
    let now = new Date('2026-03-01T10:15:00Z');
    const overview = createOverviewReads({
      prisma: { connection: none, webhookEndpoint: none } as never,
      sql: sql as never,
      leverRateLimited: { lastHours: async () => [] },
      expiringNoticeDays: 14,
      now: () => now,
    });
    const first = await overview.get({ tenantId: null });
    expect(since).toEqual(['2026-02-28T11:00:00.000Z']); // the whole window, the first time
    expect(first.refreshes.find((h) => h.hour.toISOString() === '2026-03-01T09:00:00.000Z')!.refreshed).toBe(5);
    now = new Date('2026-03-01T10:20:00Z');
    const second = await overview.get({ tenantId: null });
    expect(since[1]).toBe('2026-03-01T10:00:00.000Z'); // the current hour only
    expect(second.refreshes.find((h) => h.hour.toISOString() === '2026-03-01T09:00:00.000Z')!.refreshed).toBe(5); // from the cache
    await overview.get({ tenantId: '11111111-1111-4111-8111-111111111111' });
    expect(since[2]).toBe('2026-02-28T11:00:00.000Z'); // another viewer's figures are its own
    // Within a minute of an hour's end, that hour is counted again (a transaction may commit a little late).
    now = new Date('2026-03-01T11:00:30Z');
    await overview.get({ tenantId: null });
    expect(since[3]).toBe('2026-03-01T10:00:00.000Z');
  });
});
