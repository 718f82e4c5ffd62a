import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@lever-connect/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectionRepo } from '../src/store/connection-repo.js';
import { observeQueries } from './fixture.js';

/** A plan node of EXPLAIN (FORMAT JSON), as far as this test reads it. */
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  /** Rows a scan read and then dropped (per loop, like Actual Rows): a filtered Seq Scan reads them too. */
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

function* nodes(plan: PlanNode): Generator<PlanNode> {
  yield plan;
  for (const child of plan.Plans ?? []) yield* nodes(child);
}

const TABLE_ROWS = 3_000;
const BATCH = 5;

describe('connection repo: hot statements on a table filled moments ago', () => {
  let t: TestDatabase;
  /** The batched statements sent through the pool, with their parameters (observed, not altered). */
  const sent: { text: string; values: readonly unknown[] }[] = [];
  /** Rows the fenced-write test writes (the last ones; the claims take the first, all due at once). */
  let ids: string[] = [];

  beforeAll(async () => {
    t = await createTestDatabase();
    observeQueries(t.db.pool, (text, values) => {
      if (text.includes('json_to_recordset') || text.includes('SKIP LOCKED')) sent.push({ text, values });
    });
    // A table filled moments ago, before autovacuum analyzed it (a fresh deployment, a bulk import): the
    // planner believes it is nearly empty, which once made every claim scan all active rows.
    const tenant = await t.db.prisma.tenant.create({ data: { externalId: 'repo-plans' } });
    const due = new Date(Date.now() - 1_000);
    const rows = Array.from({ length: TABLE_ROWS }, (_, i) => ({
      id: randomUUID(),
      tenantId: tenant.id,
      environment: 'production' as const,
      leverAccountId: `acct_${i}`,
      scopes: ['offline_access'],
      accessTokenCiphertext: 'x'.repeat(600),
      refreshTokenCiphertext: 'y'.repeat(120),
      accessTokenExpiresAt: new Date(Date.now() + 60_000),
      refreshTokenIssuedAt: new Date(Date.now() - 3_540_000),
      nextRefreshAt: due,
    }));
    await t.db.prisma.connection.createMany({ data: rows });
    ids = rows.slice(TABLE_ROWS - BATCH).map((r) => r.id);
  });
  afterAll(async () => {
    await t?.drop();
  });

  /** Re-runs a captured statement under EXPLAIN ANALYZE, rolled back, and returns its plan. */
  async function planOf(statement: { text: string; values: readonly unknown[] }): Promise<PlanNode> {
    const client = await t.db.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement.text}`, [...statement.values]);
      return result.rows[0]!['QUERY PLAN'][0].Plan;
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }

  /**
   * Rows each scan of `connections` read: what it produced and what its filter dropped (a Seq Scan filtered
   * down to the batch produces only the batch). A batch's statement must read its batch, not the table.
   */
  const connectionRowsRead = (plan: PlanNode) =>
    [...nodes(plan)]
      .filter((n) => n['Relation Name'] === 'connections')
      .map((n) => (n['Actual Rows'] + (n['Rows Removed by Filter'] ?? 0) + (n['Rows Removed by Index Recheck'] ?? 0)) * n['Actual Loops']);

  it('a token read returns the columns of the whole row it needs, parsed alike, and never the refresh token', async () => {
    const repo = createConnectionRepo(t.db);
    const full = (await repo.findById(ids[0]!))!;
    const narrow = (await repo.findForTokenRead(ids[0]!))!;
    expect(narrow).toEqual({
      id: full.id,
      tenantId: full.tenantId,
      environment: full.environment,
      status: full.status,
      reauthReason: full.reauthReason,
      leverAccountId: full.leverAccountId,
      scopes: full.scopes,
      accessTokenCiphertext: full.accessTokenCiphertext,
      accessTokenExpiresAt: full.accessTokenExpiresAt,
      refreshTokenIssuedAt: full.refreshTokenIssuedAt,
      version: full.version,
    });
    expect(narrow.accessTokenExpiresAt).toBeInstanceOf(Date);
    expect(narrow.scopes).toEqual(['offline_access']);
    expect(narrow).not.toHaveProperty('refreshTokenCiphertext');
    expect(await repo.findForTokenRead(randomUUID())).toBeNull();
  });

  it('storeRotated reads only the rows of its batch', async () => {
    const repo = createConnectionRepo(t.db);
    const stored = await Promise.all(
      ids.map((id) =>
        repo.storeRotated({
          id,
          version: 0,
          accessTokenCiphertext: 'a'.repeat(600),
          refreshTokenCiphertext: 'r'.repeat(120),
          accessTokenExpiresAt: new Date(Date.now() + 3_600_000),
          issuedAt: new Date(),
          scopes: [],
          nextRefreshAt: new Date(Date.now() + 3_000_000),
          expiringNotified: false,
          events: [],
        }),
      ),
    );
    expect(stored.every((s) => s?.version === 1)).toBe(true);
    const write = sent.find((s) => s.text.includes('"version" int'));
    expect(write).toBeDefined();
    const reads = connectionRowsRead(await planOf(write!));
    expect(reads.length, 'the plan has scans of connections to judge').toBeGreaterThan(0);
    for (const rows of reads) expect(rows).toBeLessThanOrEqual(BATCH);
  });

  it('the sweep\'s claim (claimNextDue) reads only what it claims once the table has statistics, which the reconciler makes sure of', async () => {
    const repo = createConnectionRepo(t.db);
    const claimOf = async () => {
      sent.length = 0;
      const claims = await repo.claimNextDue('owner-a', 30_000, new Date(), BATCH);
      expect(claims).toHaveLength(BATCH);
      const claim = sent.find((s) => s.text.includes('SKIP LOCKED'));
      expect(claim).toBeDefined();
      // The captured claim re-run: the rows it claimed are leased now, but the scans are what they were.
      return connectionRowsRead(await planOf(claim!));
    };
    // Without statistics the planner takes the due rows for a handful: it reads and sorts all of them.
    expect(Math.max(...(await claimOf()))).toBeGreaterThan(TABLE_ROWS / 2);
    expect(await repo.ensureStatistics()).toBe(true);
    expect(await repo.ensureStatistics()).toBe(false);
    // What it claims, plus at most the rows leased by this test's two claims, which the index scan steps over.
    for (const rows of await claimOf()) expect(rows).toBeLessThanOrEqual(2 * BATCH);
  });
});
