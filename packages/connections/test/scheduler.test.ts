import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshJobId, type Core } from '../src/index.js';
import { connectViaSim, createFixture, type Fixture } from './fixture.js';

describe('scheduler and reconciler', () => {
  let f: Fixture;
  let core: Core;
  beforeAll(async () => {
    f = await createFixture();
    core = f.makeCore();
  });
  afterAll(async () => {
    await f?.close();
  });

  it('re-creates the refresh job of every active connection whose job vanished from Redis', async () => {
    const connected = [];
    for (let i = 0; i < 5; i++) connected.push((await connectViaSim(core, f.sim.url, { tenant: `sch-${i}`, account: `acct_sch_${i}` })).connection);
    // Nothing was enqueued yet (the api enqueues after the callback; we called the domain directly).
    const first = await core.scheduler.reconcile();
    expect(first).toEqual({ checked: 5, added: 5, promoted: 0 });
    for (const c of connected) {
      const job = await core.refreshQueue.getJob(refreshJobId(c.id, c.version));
      expect(job?.data).toMatchObject({ connectionId: c.id, version: c.version });
      expect(await job!.getState()).toBe('delayed');
    }
    expect(await core.scheduler.reconcile()).toEqual({ checked: 5, added: 0, promoted: 0 });
    // Losing Redis's copy (a flush of our keys) is repaired by the next pass.
    await core.refreshQueue.obliterate({ force: true });
    expect(await core.scheduler.reconcile()).toEqual({ checked: 5, added: 5, promoted: 0 });
  });

  it('skips connections that are not active', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 'sch-off', account: 'acct_sch_off' });
    await core.prisma.connection.update({ where: { id: connection.id }, data: { status: 'needs_reauth' } });
    const result = await core.scheduler.reconcile();
    expect(await core.refreshQueue.getJob(refreshJobId(connection.id, connection.version))).toBeUndefined();
    expect(result.added).toBe(0);
  });

  it('cannot enqueue the same generation twice', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 'sch-dup', account: 'acct_sch_dup' });
    await core.scheduler.schedule(connection);
    await core.scheduler.schedule(connection);
    const delayed = await core.refreshQueue.getDelayed();
    expect(delayed.filter((j) => j.data.connectionId === connection.id)).toHaveLength(1);
  });

  it('promotes the job of a connection that is due while its job waits for a later time', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 'sch-late', account: 'acct_sch_late' });
    // The job sits an hour out; the row says the refresh was due five minutes ago.
    await core.refreshQueue.add('refresh', { connectionId: connection.id, version: connection.version, dueAt: new Date().toISOString() }, {
      jobId: refreshJobId(connection.id, connection.version),
      delay: 3_600_000,
    });
    await core.prisma.connection.update({ where: { id: connection.id }, data: { nextRefreshAt: new Date(Date.now() - 300_000) } });
    const result = await core.scheduler.reconcile();
    expect(result.promoted).toBe(1);
    const job = await core.refreshQueue.getJob(refreshJobId(connection.id, connection.version));
    expect(await job!.getState()).toBe('waiting');
  });
});
