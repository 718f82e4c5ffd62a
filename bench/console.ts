import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { encodeConnectionCursor } from '@lever-connect/connections';
import { buildApp } from '../apps/api/src/app.js';
import { fastify, pino } from './lib/deps.js';
import type { BenchResult, Figure } from './lib/report.js';
import { percentile, type BenchStack } from './lib/stack.js';

export interface ConsoleSize {
  /** Connection rows in the table (over `tenants` tenants). */
  connections: number;
  tenants: number;
  /** Sequential requests per query shape (after 10 % as warm-up). */
  requests: number;
}

/** The list as the console asks for it: 50 rows, with its session cookie. */
const PAGE = 50;
/** What "answers in under 300 ms" is judged on: the p99 of every shape below. */
const TARGET_MS = 300;

interface Shape {
  name: string;
  /** The query string after `?limit=50`. */
  query: string;
}

/**
 * The console's Connections page over 100,000 connections: `GET /v1/connections` through `buildApp` with a
 * console session cookie (session and key read, CSRF-free GET, the tenant wall), one request at a time as a
 * person paging would, for each query shape the page makes (first page, a page deep in, each filter, the
 * search with a common and a rare prefix, an exact id). The floor is a bare SELECT of the same first page
 * (same columns, same order) on the same pool, behind a bare Fastify route.
 */
export async function benchConsole(stack: BenchStack, size: ConsoleSize): Promise<BenchResult> {
  const { core } = await stack.core();
  const app = await buildApp({ core, logger: pino({ level: 'silent' }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const floor = fastify();
  floor.get('/select', async () => {
    const { rows } = await core.database.pool.query(
      `SELECT c.*, t."externalId" FROM "connections" c JOIN "tenants" t ON t."id" = c."tenantId" ORDER BY c."createdAt" DESC, c."id" DESC LIMIT ${PAGE + 1}`,
    );
    return { n: rows.length };
  });
  await floor.listen({ port: 0, host: '127.0.0.1' });
  try {
    // Rows straight into Postgres, in one statement each: tenants, then connections spread over them, one
    // in 50 needs_reauth and one in 97 disconnected, a fifth in sandbox, one Lever account each.
    const seeded = performance.now();
    const pool = core.database.pool;
    await pool.query(
      `INSERT INTO "tenants" ("id", "externalId", "createdAt", "updatedAt")
       SELECT gen_random_uuid(), 'bench-tenant-' || lpad(i::text, 6, '0'), now(), now() FROM generate_series(1, $1::int) i`,
      [size.tenants],
    );
    await pool.query(
      `WITH t AS (SELECT "id", row_number() OVER (ORDER BY "externalId") - 1 AS n FROM "tenants" WHERE "externalId" LIKE 'bench-tenant-%')
       INSERT INTO "connections" ("id", "tenantId", "environment", "status", "leverAccountId", "scopes", "createdAt", "updatedAt", "grantCreatedAt", "nextRefreshAt")
       SELECT gen_random_uuid(), t."id",
              (CASE WHEN i % 5 = 0 THEN 'sandbox' ELSE 'production' END)::"LeverEnvironment",
              (CASE WHEN i % 50 = 0 THEN 'needs_reauth' WHEN i % 97 = 0 THEN 'disconnected' ELSE 'active' END)::"ConnectionStatus",
              'acct_' || md5(i::text), ARRAY['offline_access'],
              now() - make_interval(secs => i), now(), now() - make_interval(days => i % 365), now() + interval '1 hour'
         FROM generate_series(1, $1::int) i JOIN t ON t.n = i % $2::int`,
      [size.connections, size.tenants],
    );
    await pool.query('ANALYZE "connections"; ANALYZE "tenants"');
    const seedMs = performance.now() - seeded;

    const { key } = await core.apiKeys.create({ name: 'bench console' });
    const apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const floorUrl = `http://127.0.0.1:${(floor.server.address() as AddressInfo).port}`;
    const signIn = await fetch(`${apiUrl}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: key }) });
    if (signIn.status !== 201) throw new Error(`console sign-in answered ${signIn.status}`);
    const cookie = signIn.headers.getSetCookie()[0]!.split(';')[0]!;

    // A cursor from the middle of the table, an id and a Lever account that exist, a tenant with rows.
    const middle = Math.floor(size.connections / 2);
    const probe = (await (await fetch(`${apiUrl}/v1/connections?limit=1`, { headers: { cookie } })).json()) as { data: Array<{ id: string; leverAccountId: string; tenant: { externalId: string } }> };
    const first = probe.data[0]!;
    const { rows: deep } = await pool.query<{ id: string; createdAt: Date }>(
      `SELECT "id", "createdAt" FROM "connections" ORDER BY "createdAt" DESC, "id" DESC OFFSET $1 LIMIT 1`,
      [middle],
    );
    const cursor = encodeConnectionCursor(deep[0]!);
    const shapes: Shape[] = [
      { name: 'first page', query: '' },
      { name: `page after row ${middle.toLocaleString('en')} (cursor)`, query: `&cursor=${cursor}` },
      { name: 'status=needs_reauth', query: '&status=needs_reauth' },
      { name: 'environment=sandbox&status=active', query: '&environment=sandbox&status=active' },
      { name: 'tenant=<one tenant>', query: `&tenant=${encodeURIComponent(first.tenant.externalId)}` },
      { name: 'leverAccountId=<one account>', query: `&leverAccountId=${first.leverAccountId}` },
      { name: 'q=<common prefix> (bench-tenant-)', query: '&q=bench-tenant-' },
      { name: 'q=<rare prefix> (acct_fffff)', query: '&q=acct_fffff' },
      { name: 'q=<no match> (zzz)', query: '&q=zzz' },
      { name: 'q=<connection id>', query: `&q=${first.id}` },
    ];

    const time = async (url: string, headers: Record<string, string>) => {
      const started = performance.now();
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
      return performance.now() - started;
    };
    const run = async (url: string, headers: Record<string, string>) => {
      const warmup = Math.max(2, Math.floor(size.requests / 10));
      for (let i = 0; i < warmup; i++) await time(url, headers);
      const samples: number[] = [];
      for (let i = 0; i < size.requests; i++) samples.push(await time(url, headers));
      samples.sort((a, b) => a - b);
      return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples[samples.length - 1]! };
    };

    const floorRun = await run(`${floorUrl}/select`, {});
    const results: Array<Shape & { p50: number; p99: number; max: number }> = [];
    for (const shape of shapes) results.push({ ...shape, ...(await run(`${apiUrl}/v1/connections?limit=${PAGE}${shape.query}`, { cookie })) });
    const overview = await run(`${apiUrl}/v1/overview`, { cookie });
    const worst = results.reduce((a, b) => (b.p99 > a.p99 ? b : a));
    const firstPage = results[0]!;

    const figures: Figure[] = [
      { figure: 'list, first page p50', value: firstPage.p50, unit: 'ms', floor: floorRun.p50, floorLabel: 'bare SELECT of the page' },
      { figure: 'list, first page p99', value: firstPage.p99, unit: 'ms', floor: floorRun.p99, floorLabel: 'bare SELECT of the page', target: `< ${TARGET_MS} ms`, pass: firstPage.p99 < TARGET_MS },
      { figure: `list, slowest shape p99 (${worst.name})`, value: worst.p99, unit: 'ms', target: `< ${TARGET_MS} ms`, pass: worst.p99 < TARGET_MS },
      { figure: 'overview p50', value: overview.p50, unit: 'ms' },
    ];
    return {
      name: '8. operator console',
      setup:
        `${size.connections.toLocaleString('en')} connections over ${size.tenants.toLocaleString('en')} tenants (inserted in ${(seedMs / 1000).toFixed(1)} s, then ANALYZE); ` +
        `GET /v1/connections?limit=${PAGE} on buildApp with a console session cookie, ${size.requests} sequential requests per query shape after a warm-up, ` +
        `${shapes.length} shapes; floor = a bare Fastify route running one SELECT of the same first page (same join and order) on the same pool.`,
      figures,
      notes: [
        ...results.map((r) => `${r.name}: p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms`),
        `floor (bare SELECT of the first page): p50 ${floorRun.p50.toFixed(1)} ms, p99 ${floorRun.p99.toFixed(1)} ms`,
        `GET /v1/overview (no events seeded): p50 ${overview.p50.toFixed(1)} ms, p99 ${overview.p99.toFixed(1)} ms`,
      ],
    };
  } finally {
    await app.close();
    await floor.close();
  }
}
