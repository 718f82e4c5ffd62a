import { randomUUID } from 'node:crypto';
import { writeEvent } from '@lever-connect/db';
import { EVENT_TYPES, type EventType } from '@lever-connect/runtime';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

type Page = { data: Array<Record<string, unknown>>; nextCursor: string | null };

const TENANTS = ['tenant-a', 'tenant-b', 'tenant-c'];
const STATUSES = ['active', 'needs_reauth', 'disconnected'] as const;
const ENVIRONMENTS = ['sandbox', 'production'] as const;

describe('cursor pagination', () => {
  let t: TestApp;
  /** Seeded connections, newest first (the order of the list). */
  let connections: Array<{ id: string; tenant: string; status: string; environment: string }>;
  let events: Array<{ id: string; type: string; connectionId: string | null; tenant: string | null }>;
  const extraTenants = Array.from({ length: 9 }, (_, i) => `tenant-x${String(i).padStart(2, '0')}`);

  /**
   * Follows `nextCursor` from the first page to the end, checking every page on the way: at most `limit`
   * items, no item twice, a cursor exactly when more follow. Returns the items in the order served.
   */
  async function walk(path: string, query: Record<string, string | number>, key = t.adminKey) {
    const items: Array<Record<string, unknown>> = [];
    let cursor: string | null = null;
    let pages = 0;
    const limit = Number(query.limit ?? 50);
    do {
      const qs = new URLSearchParams(Object.entries({ ...query, ...(cursor ? { cursor } : {}) }).map(([k, v]): [string, string] => [k, String(v)]));
      const res = await t.app.inject({ method: 'GET', url: `${path}?${qs}`, headers: bearer(key) });
      expect(res.statusCode, `${path}?${qs}: ${res.body}`).toBe(200);
      const page = res.json() as Page;
      expect(page.data.length).toBeLessThanOrEqual(limit);
      if (page.nextCursor !== null) expect(page.data.length, 'a page with a cursor is full').toBe(limit);
      items.push(...page.data);
      cursor = page.nextCursor;
      expect(++pages, 'pagination terminates').toBeLessThan(500);
    } while (cursor);
    const ids = items.map((i) => String(i.id ?? i.externalId));
    expect(new Set(ids).size, 'pages do not overlap').toBe(ids.length);
    return items;
  }

  beforeAll(async () => {
    t = await buildTestApp();
    const prisma = t.db.db.prisma;
    const tenantIds = new Map<string, string>();
    for (const externalId of [...TENANTS, ...extraTenants]) {
      const tenant = await prisma.tenant.upsert({ where: { externalId }, create: { externalId, name: externalId.toUpperCase() }, update: {} });
      tenantIds.set(externalId, tenant.id);
    }
    // Three rows share each creation time, so the cursor must break ties (by id) to neither skip nor repeat.
    const base = Date.now() - 3600_000;
    const rows = Array.from({ length: 31 }, (_, i) => ({
      id: randomUUID(),
      tenant: TENANTS[i % 3]!,
      status: STATUSES[Math.floor(i / 3) % 3]!,
      environment: ENVIRONMENTS[Math.floor(i / 2) % 2]!,
      createdAt: new Date(base + Math.floor(i / 3) * 1000),
    }));
    await prisma.connection.createMany({
      data: rows.map((r) => ({
        id: r.id,
        tenantId: tenantIds.get(r.tenant)!,
        environment: r.environment,
        status: r.status,
        leverAccountId: `acct_${r.id.slice(0, 8)}`,
        scopes: ['offline_access'],
        createdAt: r.createdAt,
      })),
    });
    connections = rows
      .sort((x, y) => y.createdAt.getTime() - x.createdAt.getTime() || (x.id < y.id ? 1 : -1))
      .map(({ id, tenant, status, environment }) => ({ id, tenant, status, environment }));

    const seeded: typeof events = [];
    for (let i = 0; i < 40; i++) {
      const connection = i % 10 === 9 ? null : rows[i % rows.length]!;
      const type: EventType = connection ? EVENT_TYPES[i % 8]! : 'oauth_app.invalid_credentials';
      await writeEvent(prisma, {
        type,
        tenantId: connection ? tenantIds.get(connection.tenant)! : null,
        connectionId: connection?.id ?? null,
        data: { seq: i },
      });
      seeded.push({ id: '', type, connectionId: connection?.id ?? null, tenant: connection?.tenant ?? null });
    }
    const stored = await prisma.event.findMany({ orderBy: { seq: 'desc' } });
    events = stored.map((e, i) => ({ ...seeded[seeded.length - 1 - i]!, id: e.id }));

    // 23 reads in three flushes (batches of 10, 10 and 3), as the audit writes them.
    for (let i = 0; i < 23; i++) {
      t.core.tokenAudit.record({ connectionId: connections[0]!.id, apiKeyId: null, requestId: `req-${i}`, refreshed: i % 5 === 0 });
      if (i % 10 === 9) await t.core.tokenAudit.flush();
    }
    await t.core.tokenAudit.flush();
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('GET /v1/connections', () => {
    const account = (c: { id: string }) => `acct_${c.id.slice(0, 8)}`;
    // Built when a test runs: the seeded connections exist only after beforeAll.
    const filters = () =>
      fc.record(
      {
        tenant: fc.constantFrom(...TENANTS, 'nobody'),
        status: fc.constantFrom(...STATUSES),
        environment: fc.constantFrom(...ENVIRONMENTS),
        leverAccountId: fc.constantFrom('acct_nobody', ...[0, 5, 17].map((i) => account(connections[i]!))),
        // The search: a whole connection id, a prefix of a tenant or of a Lever account id, and LIKE's wildcards
        // (they must match themselves, i.e. nothing here).
        q: fc.constantFrom('tenant-', 'tenant-b', 'acct_', 'ac', connections[3]!.id, connections[3]!.id.toUpperCase(), account(connections[9]!).slice(0, 7), '%', '_', 'nobody'),
      },
      { requiredKeys: [] },
      );
    const searched = (c: { id: string; tenant: string }, q: string) =>
      c.id === q.toLowerCase() || account(c).startsWith(q) || c.tenant.startsWith(q);

    it('covers every matching connection exactly once, newest first, for any page size and filters', async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 12 }), filters(), async (limit, filter) => {
          const items = await walk('/v1/connections', { limit, ...filter });
          const expected = connections.filter(
            (c) =>
              (!filter.tenant || c.tenant === filter.tenant) &&
              (!filter.status || c.status === filter.status) &&
              (!filter.environment || c.environment === filter.environment) &&
              (!filter.leverAccountId || account(c) === filter.leverAccountId) &&
              (!filter.q || searched(c, filter.q)),
          );
          expect(items.map((c) => c.id), JSON.stringify(filter)).toEqual(expected.map((c) => c.id));
        }),
        { numRuns: 40 },
      );
    });

    it('finds a connection by its id, and by the start of its tenant or Lever account', async () => {
      const target = connections[4]!;
      for (const q of [target.id, account(target), account(target).slice(0, 9)]) {
        const items = await walk('/v1/connections', { q });
        expect(items.map((c) => c.id), q).toContain(target.id);
      }
      expect((await walk('/v1/connections', { q: 'tenant-c' })).every((c) => (c.tenant as { externalId: string }).externalId === 'tenant-c')).toBe(true);
    });

    it("pages a tenant key through its own tenant's connections only", async () => {
      const items = await walk('/v1/connections', { limit: 4 }, t.tenantKey);
      expect(items.map((c) => c.id)).toEqual(connections.filter((c) => c.tenant === 'tenant-a').map((c) => c.id));
    });

    it('ends with nextCursor null on the page that holds the last item', async () => {
      const res = await t.app.inject({ method: 'GET', url: `/v1/connections?limit=${connections.length}`, headers: bearer(t.adminKey) });
      expect(res.json()).toMatchObject({ nextCursor: null });
      expect(res.json().data).toHaveLength(connections.length);
    });
  });

  describe('GET /v1/events', () => {
    it('covers every matching event exactly once, newest first, by type and connection', async () => {
      const someConnection = connections.find((c) => events.filter((e) => e.connectionId === c.id).length > 1)!.id;
      const cases: Array<Record<string, string>> = [{}, { type: 'connection.created' }, { type: 'oauth_app.invalid_credentials' }, { connectionId: someConnection }];
      for (const filter of cases) {
        for (const limit of [1, 3, 7, 100]) {
          const items = await walk('/v1/events', { limit, ...filter });
          const expected = events.filter((e) => (!filter.type || e.type === filter.type) && (!filter.connectionId || e.connectionId === filter.connectionId));
          expect(expected.length).toBeGreaterThan(0);
          expect(items.map((e) => e.id), JSON.stringify({ filter, limit })).toEqual(expected.map((e) => e.id));
        }
      }
    });

    it("gives a tenant key its own tenant's events only (never tenant-less ones)", async () => {
      const items = await walk('/v1/events', { limit: 5 }, t.tenantKey);
      expect(items.map((e) => e.id)).toEqual(events.filter((e) => e.tenant === 'tenant-a').map((e) => e.id));
    });
  });

  describe('GET /v1/tenants', () => {
    it('covers every tenant exactly once in externalId order, for any page size', async () => {
      const all = [...TENANTS, ...extraTenants].sort();
      for (const limit of [1, 2, 5, 11, 12, 100]) {
        const items = await walk('/v1/tenants', { limit });
        expect(items.map((x) => x.externalId)).toEqual(all);
      }
    });

    it('shows a tenant key only its own tenant', async () => {
      expect((await walk('/v1/tenants', { limit: 1 }, t.tenantKey)).map((x) => x.externalId)).toEqual(['tenant-a']);
    });
  });

  describe('GET /v1/connections/:id/token-reads', () => {
    it('covers every read exactly once, newest first', async () => {
      const url = `/v1/connections/${connections[0]!.id}/token-reads`;
      for (const limit of [1, 4, 23, 50]) {
        const items = await walk(url, { limit });
        expect(items.map((r) => r.requestId)).toEqual(Array.from({ length: 23 }, (_, i) => `req-${22 - i}`));
      }
      expect(await walk(`/v1/connections/${connections[1]!.id}/token-reads`, { limit: 3 })).toEqual([]);
    });
  });

  it.each([
    ['/v1/connections?cursor=nope', 'querystring.cursor'],
    ['/v1/connections?cursor=00000000-0000-4000-8000-000000000000', 'querystring.cursor'],
    ['/v1/connections?cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAA%2B', 'querystring.cursor'],
    ['/v1/connections?cursor=12345', 'querystring.cursor'],
    ['/v1/connections?limit=0', 'querystring.limit'],
    ['/v1/connections?limit=101', 'querystring.limit'],
    ['/v1/connections?status=paused', 'querystring.status'],
    ['/v1/connections?environment=staging', 'querystring.environment'],
    [`/v1/connections?q=${'x'.repeat(201)}`, 'querystring.q'],
    ['/v1/connections?q=', 'querystring.q'],
    ['/v1/connections?leverAccountId=', 'querystring.leverAccountId'],
    ['/v1/events?cursor=abc', 'querystring.cursor'],
    ['/v1/events?cursor=-1', 'querystring.cursor'],
    ['/v1/events?cursor=1234567890123456789', 'querystring.cursor'],
    ['/v1/events?type=connection.exploded', 'querystring.type'],
    ['/v1/events?connectionId=nope', 'querystring.connectionId'],
    ['/v1/tenants?cursor=', 'querystring.cursor'],
    ['/v1/tenants?limit=abc', 'querystring.limit'],
    ['/v1/connections/00000000-0000-4000-8000-000000000000/token-reads?cursor=x', 'querystring.cursor'],
    ['/v1/connections?cursr=typo', 'querystring.cursr'],
  ])('answers %s with 400 validation_failed naming %s', async (url, field) => {
    const res = await t.app.inject({ method: 'GET', url, headers: bearer(t.adminKey) });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'validation_failed', details: { field } });
  });
});

describe('GET /v1/connections while rows change between pages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('neither skips nor repeats a row when the cursor row stops matching the status filter', async () => {
    const prisma = t.db.db.prisma;
    const tenant = await prisma.tenant.create({ data: { externalId: 'tenant-moving' } });
    const base = Date.now() - 60_000;
    // Newest first: r0, then r1 and r2 created in the same millisecond (the id breaks the tie), r3, r4.
    const times = [4, 3, 3, 2, 1].map((s) => new Date(base + s * 1000));
    const ids = times.map(() => randomUUID());
    await prisma.connection.createMany({
      data: ids.map((id, i) => ({ id, tenantId: tenant.id, environment: 'sandbox' as const, status: 'active' as const, leverAccountId: `acct_${i}`, scopes: [], createdAt: times[i]! })),
    });
    const expected = ids
      .map((id, i) => ({ id, at: times[i]!.getTime() }))
      .sort((x, y) => y.at - x.at || (x.id < y.id ? 1 : -1))
      .map((x) => x.id);

    const page = async (cursor?: string) => {
      const qs = new URLSearchParams({ tenant: 'tenant-moving', status: 'active', limit: '2', ...(cursor ? { cursor } : {}) });
      const res = await t.app.inject({ method: 'GET', url: `/v1/connections?${qs}`, headers: bearer(t.adminKey) });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { data: Array<{ id: string }>; nextCursor: string | null };
    };

    const first = await page();
    expect(first.data.map((c) => c.id)).toEqual(expected.slice(0, 2));
    // The last row of the page (the cursor row) leaves the filter before the next page is read.
    await prisma.connection.update({ where: { id: expected[1]! }, data: { status: 'needs_reauth' } });

    const second = await page(first.nextCursor!);
    expect(second.data.map((c) => c.id)).toEqual(expected.slice(2, 4));
    const third = await page(second.nextCursor!);
    expect(third.data.map((c) => c.id)).toEqual(expected.slice(4));
    expect(third.nextCursor).toBeNull();
    expect(first.nextCursor).not.toContain(expected[1]); // opaque: the sort key, not the row id
  });
});
