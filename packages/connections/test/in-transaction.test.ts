import { inTransaction } from '@lever-connect/db';
import { createTestDatabase, type TestDatabase } from '@lever-connect/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// packages/db's inTransaction holds a pooled client across statements. A connection that drops while it
// is held must fail the transaction, not the process (an 'error' event nobody listens to is fatal).
describe('inTransaction when the connection drops mid-transaction', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  it('rejects, hands the broken client back destroyed, and the pool goes on', async () => {
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', record);
    try {
      const run = inTransaction(db.db.pool, async (tx) => {
        const [row] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        // The backend dies while this transaction sits between two statements.
        await admin.query('SELECT pg_terminate_backend($1)', [row!.pid]);
        await new Promise((r) => setTimeout(r, 300));
        await tx.query('SELECT 1');
      });
      await expect(run).rejects.toThrow();
      expect(uncaught).toEqual([]);
      // The dead client was not handed back: the next statements run on a fresh connection.
      for (let i = 0; i < 3; i++) {
        expect(await inTransaction(db.db.pool, async (tx) => (await tx.query<{ one: number }>('SELECT 1 AS one'))[0]!.one)).toBe(1);
      }
    } finally {
      process.off('uncaughtException', record);
    }
  });
});
