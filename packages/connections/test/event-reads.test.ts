import { createTestDatabase, type TestDatabase } from '@lever-connect/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventReads } from '../src/access/event-reads.js';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}
const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

/**
 * A tenant-scoped key reads its events newest first (`GET /v1/events`). Without an index on
 * events(tenantId, seq) Postgres reads the whole outbox for it (a seq scan, or a walk back along seq that
 * filters out every other tenant's rows), so a quiet tenant among busy ones pays for all of theirs. This
 * checks, with EXPLAIN of the very SQL Prisma sends, that the read goes through events(tenantId, seq).
 * (For a tenant with many events spread evenly the planner may rightly walk seq back instead: the limit
 * stops it after a few pages.)
 */
describe('events read per tenant', () => {
  let db: TestDatabase;
  const sent: Array<{ text: string; values: unknown[] }> = [];
  let quietTenant: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    const { pool } = db.db;
    await pool.query(`INSERT INTO tenants (id, "externalId", "updatedAt") SELECT gen_random_uuid(), 'tenant-' || i, now() FROM generate_series(1, 40) i`);
    // 40 busy tenants and one quiet one, whose few events are the oldest rows.
    await pool.query(`INSERT INTO tenants (id, "externalId", "updatedAt") VALUES (gen_random_uuid(), 'quiet', now())`);
    quietTenant = (await pool.query<{ id: string }>(`SELECT id FROM tenants WHERE "externalId" = 'quiet'`)).rows[0]!.id;
    await pool.query(`INSERT INTO events (id, type, "tenantId", data) SELECT gen_random_uuid(), 'connection.created', $1, '{}' FROM generate_series(1, 5)`, [quietTenant]);
    await pool.query(
      `INSERT INTO events (id, type, "tenantId", data)
       SELECT gen_random_uuid(), CASE WHEN i % 10 = 0 THEN 'connection.needs_reauth' ELSE 'connection.refreshed' END, t.id, '{}'
       FROM tenants t, generate_series(1, 500) i WHERE t."externalId" <> 'quiet'`,
    );
    await pool.query('ANALYZE events');
    // Record what Prisma sends (the driver adapter queries the pool directly outside transactions).
    const query = pool.query.bind(pool) as (config: unknown, values?: unknown) => Promise<unknown>;
    (pool as unknown as { query: typeof query }).query = (config, values) => {
      if (config && typeof config === 'object' && 'text' in config) sent.push(config as { text: string; values: unknown[] });
      return query(config, values);
    };
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function planOf(read: () => Promise<unknown>): Promise<PlanNode[]> {
    sent.length = 0;
    await read();
    const statement = sent.find((q) => /FROM "public"\."events"/.test(q.text));
    expect(statement, 'the events query').toBeDefined();
    const { rows } = await db.db.pool.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${statement!.text}`, statement!.values);
    return nodes(rows[0]!['QUERY PLAN'][0]!.Plan);
  }

  it.each([
    ['the first page', {}],
    ['a later page', { cursor: '100000' }],
    ['one event type', { type: 'connection.needs_reauth' as const }],
  ])("reads %s of a quiet tenant's events through events(tenantId, seq), not a scan of everyone's", async (_name, query) => {
    const events = createEventReads({ prisma: db.db.prisma });
    const plan = await planOf(() => events.list({ tenantId: quietTenant }, { limit: 50, ...query }));
    expect(plan.flatMap((n) => n['Index Name'] ?? [])).toEqual(['events_tenantId_seq_idx']);
    expect(plan.map((n) => n['Node Type'])).not.toContain('Seq Scan');
  });

  it('still answers newest first, paged', async () => {
    const events = createEventReads({ prisma: db.db.prisma });
    const first = await events.list({ tenantId: quietTenant }, { limit: 3 });
    expect(first.data).toHaveLength(3);
    const rest = await events.list({ tenantId: quietTenant }, { limit: 3, cursor: first.nextCursor! });
    expect(rest.data).toHaveLength(2);
    expect(rest.nextCursor).toBeNull();
    const seqs = [...first.data, ...rest.data].map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => (a > b ? -1 : 1)));
  });
});
