import type { Core } from '@lever-connect/connections';
import { sweepJobId } from '@lever-connect/runtime';
import { waitFor } from '@lever-connect/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectViaSim, createFixture, type Fixture } from '../../../packages/connections/test/fixture.js';
import { startWorkers } from '../src/workers.js';

/**
 * The refresh worker as a process runs it (startWorkers): BullMQ wake-ups run sweeps of due connections,
 * against the simulator, real Postgres and Redis. Each test leaves nothing due.
 */
describe('refresh worker: sweep wake-ups', () => {
  let f: Fixture;
  let core: Core;
  const running: Array<{ close(): Promise<void> }> = [];
  beforeAll(async () => {
    f = await createFixture({ REFRESH_RATE_LIMIT_PER_SECOND: '10000', RECONCILE_INTERVAL_SECONDS: '3600' });
    core = f.makeCore();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((w) => w.close()));
    await core.prisma.connection.updateMany({ data: { nextRefreshAt: new Date(Date.now() + 3_600_000), leaseOwner: null, leaseExpiresAt: null } });
    await core.refreshQueue.obliterate({ force: true });
  });
  afterAll(async () => {
    await f?.close();
  });

  async function dueConnections(prefix: string, n: number) {
    const made = [];
    for (let i = 0; i < n; i++) made.push((await connectViaSim(core, f.sim.url, { tenant: `${prefix}-${i}`, account: `acct_${prefix}_${i}` })).connection);
    await core.prisma.connection.updateMany({ where: { id: { in: made.map((c) => c.id) } }, data: { nextRefreshAt: new Date(Date.now() - 1_000) } });
    return made;
  }
  async function start(process: Core) {
    const workers = await startWorkers(process);
    running.push(workers);
    return workers;
  }
  const refreshedAll = (made: Array<{ id: string; version: number }>) =>
    waitFor('every connection refreshed', async () => {
      const rows = await core.prisma.connection.findMany({ where: { id: { in: made.map((c) => c.id) } } });
      return rows.every((r) => r.version === made.find((c) => c.id === r.id)!.version + 1) && rows;
    }, { timeoutMs: 20_000 });

  it('refreshes what is due when a wake-up fires, then arms the next wake-up at the earliest next_refresh_at', async () => {
    const made = await dueConnections('wk', 6);
    await start(f.makeCore({ REFRESH_CONCURRENCY: '4' }));
    await core.scheduler.wakeAt(new Date());
    const rows = await refreshedAll(made);
    const earliest = Math.min(...rows.map((r) => r.nextRefreshAt!.getTime()));
    await waitFor('the next wake-up', async () => (await core.refreshQueue.getJob(sweepJobId(Math.ceil(earliest / 1000))))?.id);
    const job = (await core.refreshQueue.getJob(sweepJobId(Math.ceil(earliest / 1000))))!;
    expect(await job.getState()).toBe('delayed');
  });

  it('brings a second process in when one has more due than it refreshes at once (a helper wake-up)', async () => {
    const made = await dueConnections('wkhelp', 16);
    const claimedBy = [0, 0];
    for (const [i, process] of [f.makeCore({ REFRESH_CONCURRENCY: '2' }), f.makeCore({ REFRESH_CONCURRENCY: '2' })].entries()) {
      const workers = await start(process);
      workers.refreshWorker.on('completed', (_job, result: { claimed: number } | undefined) => {
        claimedBy[i]! += result?.claimed ?? 0;
      });
    }
    const before = await f.simStats();
    await core.scheduler.wakeAt(new Date());
    await refreshedAll(made);
    await waitFor('both sweeps finished', () => claimedBy[0]! + claimedBy[1]! === made.length);
    // Each process took part, and Lever saw each connection once.
    expect(claimedBy.every((n) => n > 0)).toBe(true);
    const after = await f.simStats();
    expect(after.refreshesOk! - before.refreshesOk!).toBe(made.length);
    expect(after.refreshTokenReuse).toBe(before.refreshTokenReuse);
  });

  it('calls nothing while switched off (REFRESH_ENABLED=false), counts the paused attempt and looks again later', async () => {
    const made = await dueConnections('wkoff', 1);
    const off = f.makeCore({ REFRESH_ENABLED: 'false' });
    await start(off);
    const before = await f.simStats();
    await core.scheduler.wakeAt(new Date());
    const job = await waitFor('the wake-up moved a minute out', async () => {
      const delayed = await core.refreshQueue.getDelayed();
      return delayed.find((j) => j.timestamp + (j.opts.delay ?? 0) > Date.now() + 30_000 || (j.delay ?? 0) > 30_000);
    });
    expect(job).toBeDefined();
    expect((await f.simStats()).tokenRequests).toBe(before.tokenRequests);
    expect((await core.repo.findById(made[0]!.id))!.version).toBe(made[0]!.version);
    expect(await off.metrics.registry.metrics()).toMatch(/lever_connect_refresh_attempts_total\{(?=[^}]*outcome="disabled")(?=[^}]*trigger="schedule")[^}]*\} [1-9]/);
  });

  it('treats a job of the earlier design (one per connection, name "refresh") as a wake-up, so an upgrade loses nothing', async () => {
    const made = await dueConnections('wklegacy', 2);
    // Not due while the worker starts: its start-up reconcile only arms a wake-up an hour out, so the legacy job
    // below is the only thing that can refresh them now.
    const later = new Date(Date.now() + 3_600_000);
    await core.prisma.connection.updateMany({ where: { id: { in: made.map((c) => c.id) } }, data: { nextRefreshAt: later } });
    const workers = await start(f.makeCore());
    const handled: Array<{ name: string; id: string | undefined; claimed: number }> = [];
    workers.refreshWorker.on('completed', (job, result: { claimed: number } | undefined) => {
      handled.push({ name: job.name, id: job.id, claimed: result?.claimed ?? 0 });
    });
    // The queue was emptied after the last test: a delayed wake-up appears once the reconcile has run.
    await waitFor('the start-up reconcile armed its wake-up', async () => (await core.refreshQueue.getDelayedCount()) > 0);
    await core.prisma.connection.updateMany({ where: { id: { in: made.map((c) => c.id) } }, data: { nextRefreshAt: new Date(Date.now() - 1_000) } });
    const legacy = { connectionId: made[0]!.id, version: made[0]!.version, dueAt: new Date().toISOString() };
    const jobId = `refresh-${made[0]!.id}-v${made[0]!.version}`;
    // What a previous version left in Redis.
    await (core.refreshQueue as unknown as { add(name: string, data: unknown, opts: unknown): Promise<unknown> }).add('refresh', legacy, {
      jobId,
      removeOnComplete: true,
    });
    await refreshedAll(made);
    // The legacy job itself ran the sweep that refreshed both (not a wake-up of the new design).
    await waitFor('the legacy job completed', () => handled.some((h) => h.id === jobId));
    expect(handled.find((h) => h.id === jobId)).toEqual({ name: 'refresh', id: jobId, claimed: 2 });
  });
});
