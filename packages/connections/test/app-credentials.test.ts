import { createDatabase } from '@lever-connect/db';
import { createTestDatabase, type TestDatabase } from '@lever-connect/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppCredentialsState } from '../src/refresh/app-credentials.js';
import { observeQueries } from './fixture.js';

describe('OAuth app credentials state (lever_app_states)', () => {
  let t: TestDatabase;
  /** UPDATEs of lever_app_states sent through the pool (observed, not altered). */
  let stateStatements = 0;
  beforeAll(async () => {
    t = await createTestDatabase();
    observeQueries(t.db.pool, (text) => {
      if (/^\s*UPDATE "lever_app_states"/.test(text)) stateStatements++;
    });
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('opens an episode once, and a burst of successes closes it with one write', async () => {
    const state = createAppCredentialsState(t.db);
    await state.rejected('production', 'client-a');
    await state.rejected('production', 'client-a');
    const opened = await t.db.prisma.leverAppState.findUniqueOrThrow({ where: { environment: 'production' } });
    expect(opened.credentialsRejectedSince).toBeInstanceOf(Date);
    // One event per episode, however many refreshes were refused.
    expect(await t.db.prisma.event.count({ where: { type: 'oauth_app.invalid_credentials' } })).toBe(1);

    const before = stateStatements;
    await Promise.all(Array.from({ length: 20 }, () => state.accepted('production')));
    expect(stateStatements - before).toBe(1);
    const closed = await t.db.prisma.leverAppState.findUniqueOrThrow({ where: { environment: 'production' } });
    expect(closed.credentialsRejectedSince).toBeNull();

    // Known good: further successes cost no statement at all.
    await state.accepted('production');
    expect(stateStatements - before).toBe(1);

    // A new refusal is news again.
    await state.rejected('production', 'client-a');
    expect(await t.db.prisma.event.count({ where: { type: 'oauth_app.invalid_credentials' } })).toBe(2);
  });

  it('a failed write is not remembered: the next success writes again', async () => {
    await createAppCredentialsState(t.db).rejected('sandbox', 'client-b');
    // A real pool that can no longer reach Postgres (ended): its writes fail as a lost database's would.
    const lost = createDatabase({ url: t.url, poolSize: 1 });
    await lost.close();
    const state = createAppCredentialsState(lost);
    await expect(state.accepted('sandbox')).rejects.toThrow();
    await expect(state.accepted('sandbox')).rejects.toThrow();
    expect((await t.db.prisma.leverAppState.findUniqueOrThrow({ where: { environment: 'sandbox' } })).credentialsRejectedSince).toBeInstanceOf(Date);
    await createAppCredentialsState(t.db).accepted('sandbox');
    expect((await t.db.prisma.leverAppState.findUniqueOrThrow({ where: { environment: 'sandbox' } })).credentialsRejectedSince).toBeNull();
  });
});
