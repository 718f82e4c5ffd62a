import { createTestDatabase, type TestDatabase } from '@lever-connect/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenAudit } from '../src/index.js';

describe('token-read audit trail', () => {
  let t: TestDatabase;
  let connectionId: string;
  beforeAll(async () => {
    t = await createTestDatabase();
    const tenant = await t.db.prisma.tenant.create({ data: { externalId: 'audit' } });
    connectionId = (
      await t.db.prisma.connection.create({ data: { tenantId: tenant.id, environment: 'production', leverAccountId: 'acct_audit' } })
    ).id;
  });
  afterAll(async () => {
    await t?.drop();
  });

  const audit0 = () => createTokenAudit({ database: t.db, log: pino({ level: 'silent' }) });
  const reads = async () => (await audit0().list(connectionId, { limit: 1000 })).data.reverse();

  it('writes buffered reads in batches, with their request ids and UTC times', async () => {
    const audit = createTokenAudit({ database: t.db, log: pino({ level: 'silent' }), flushMs: 10_000, maxBatch: 3 });
    const before = Date.now();
    for (let i = 0; i < 7; i++) audit.record({ connectionId, apiKeyId: null, requestId: `req-${i}`, refreshed: i === 0 });
    await audit.flush();
    const rows = await reads();
    expect(rows.map((r) => r.requestId)).toEqual(['req-0', 'req-1', 'req-2', 'req-3', 'req-4', 'req-5', 'req-6']);
    expect(rows[0]!.refreshed).toBe(true);
    expect(Math.abs(rows[0]!.readAt.getTime() - before)).toBeLessThan(5_000);
    // Three flushes of one connection and key: three rows, however many reads.
    expect(await t.db.prisma.tokenRead.count({ where: { connectionId } })).toBe(3);
    // Paging by id walks every read exactly once.
    const reader = audit0();
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await reader.list(connectionId, { limit: 2, cursor });
      seen.push(...page.data.map((r) => r.requestId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(['req-6', 'req-5', 'req-4', 'req-3', 'req-2', 'req-1', 'req-0']);
  });

  it('keeps a batch Postgres refused and writes it once Postgres takes it again', async () => {
    await t.db.prisma.tokenRead.deleteMany({});
    const audit = createTokenAudit({ database: t.db, log: pino({ level: 'silent' }), flushMs: 20 });
    await t.db.pool.query('ALTER TABLE "token_reads" RENAME TO "token_reads_away"');
    try {
      audit.record({ connectionId, apiKeyId: null, requestId: 'during-outage', refreshed: false });
      await audit.flush();
    } finally {
      await t.db.pool.query('ALTER TABLE "token_reads_away" RENAME TO "token_reads"');
    }
    audit.record({ connectionId, apiKeyId: null, requestId: 'after', refreshed: false });
    await audit.flush();
    expect((await reads()).map((r) => r.requestId).sort()).toEqual(['after', 'during-outage']);
  });
});
