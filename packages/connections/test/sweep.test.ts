import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sweepJobId } from '@lever-connect/runtime';
import type { Core } from '../src/index.js';
import { connectViaSim, createFixture, rotateAtSim, simAccepts, type Fixture } from './fixture.js';

/**
 * The scheduled refresh as the worker runs it: sweeps claim due connections from Postgres (SKIP LOCKED,
 * lease taken) and refresh each under its Redis lock; BullMQ only holds the sweep's wake-ups. Each test
 * leaves no connection due, so the next one's sweep sees only its own rows.
 */
describe('refresh sweep and its wake-ups (against the simulator, real Postgres and Redis)', () => {
  let f: Fixture;
  let core: Core;
  beforeAll(async () => {
    f = await createFixture();
    core = f.makeCore();
  });
  afterAll(async () => {
    await f?.close();
  });
  afterEach(async () => {
    // Nothing a test made due may leak into the next test's sweep.
    await core.prisma.connection.updateMany({ data: { nextRefreshAt: new Date(Date.now() + 3_600_000), leaseOwner: null, leaseExpiresAt: null } });
    await core.refreshQueue.obliterate({ force: true });
  });

  const makeDue = (ids: string[], ago = 1_000) =>
    core.prisma.connection.updateMany({ where: { id: { in: ids } }, data: { nextRefreshAt: new Date(Date.now() - ago) } });
  async function connectMany(prefix: string, n: number) {
    const made = [];
    for (let i = 0; i < n; i++) made.push((await connectViaSim(core, f.sim.url, { tenant: `${prefix}-${i}`, account: `acct_${prefix}_${i}` })).connection);
    // Connecting arms each connection's first wake-up (connect/service.ts); these tests arm their own.
    await core.refreshQueue.obliterate({ force: true });
    return made;
  }

  it('refreshes every due connection exactly once with three processes sweeping at once, earliest due first', async () => {
    const made = await connectMany('sw3', 30);
    await makeDue(made.map((c) => c.id));
    // A budget this test cannot spend: it is about claims, not the global Lever rate limit.
    const budget = { REFRESH_RATE_LIMIT_PER_SECOND: '10000', REDIS_PREFIX: `${f.redisPrefix}-sw3` };
    const processes = [f.makeCore(budget), f.makeCore({ ...budget, REFRESH_CONCURRENCY: '4' }), f.makeCore({ ...budget, REFRESH_CONCURRENCY: '7' })];
    const before = await f.simStats();
    const reports = await Promise.all(processes.map((p) => p.sweep.run()));
    const after = await f.simStats();
    expect(reports.reduce((n, r) => n + r.claimed, 0)).toBe(made.length);
    expect(reports.reduce((n, r) => n + (r.outcomes.refreshed ?? 0), 0)).toBe(made.length);
    expect(after.refreshesOk! - before.refreshesOk!).toBe(made.length);
    expect(after.refreshTokenReuse).toBe(before.refreshTokenReuse);
    const accessTokens = new Set<string>();
    for (const c of made) {
      const stored = (await core.repo.findById(c.id))!;
      expect(stored.version).toBe(c.version + 1);
      expect(stored.leaseOwner).toBeNull();
      expect(stored.nextRefreshAt!.getTime()).toBeGreaterThan(Date.now());
      // Each row got its own rotated tokens, which Lever accepts, and one event.
      const accessToken = core.cipher.decrypt(stored.accessTokenCiphertext!, { row: stored.id, column: 'accessToken' });
      accessTokens.add(accessToken);
      expect(await simAccepts(f.sim.url, accessToken)).toBe(200);
      const events = await core.prisma.event.findMany({ where: { connectionId: c.id }, orderBy: { seq: 'asc' } });
      expect(events.map((e) => e.type)).toEqual(['connection.created', 'connection.refreshed']);
      // A sweep wakes up by the new next_refresh_at.
      expect(await processes[0]!.refreshQueue.getJob(sweepJobId(Math.ceil(stored.nextRefreshAt!.getTime() / 1000)))).toBeDefined();
    }
    expect(accessTokens.size).toBe(made.length);
    // Nothing is left to claim.
    expect(await core.repo.claimNextDue(core.ownerId, 30_000, new Date(), 100)).toEqual([]);
  });

  it('claims the earliest due first and leaves alone what is not due, not active, or leased by a live holder', async () => {
    const [early, late, notDue, inactive, leased] = await connectMany('swsel', 5);
    await makeDue([early!.id], 60_000);
    await makeDue([late!.id, inactive!.id, leased!.id], 1_000);
    await core.prisma.connection.update({ where: { id: inactive!.id }, data: { status: 'needs_reauth' } });
    expect(await core.repo.claimLease(leased!.id, leased!.version, 'other-process', 30_000)).not.toBeNull();
    const claimed = await core.repo.claimNextDue('sweeper-a', 30_000, new Date(), 10);
    expect(claimed.map((c) => c.connection.id)).toEqual([early!.id, late!.id]);
    expect(claimed.every((c) => !c.tookOver && c.connection.leaseOwner === 'sweeper-a')).toBe(true);
    expect(claimed[0]!.connection.tenant.externalId).toBe('swsel-0');
    // A second sweeper finds them taken.
    expect(await core.repo.claimNextDue('sweeper-b', 30_000, new Date(), 10)).toEqual([]);
    expect((await core.repo.findById(notDue!.id))!.leaseOwner).toBeNull();
    expect((await core.repo.findById(leased!.id))!.leaseOwner).toBe('other-process');
  });

  it('takes over a dead holder’s expired lease and says so (tookOver)', async () => {
    const [c] = await connectMany('swdead', 1);
    await makeDue([c!.id]);
    expect(await core.repo.claimLease(c!.id, c!.version, 'dead-worker', 1)).not.toBeNull();
    await new Promise((r) => setTimeout(r, 20));
    const [claimed] = await core.repo.claimNextDue('sweeper', 30_000, new Date(), 10);
    expect(claimed).toMatchObject({ tookOver: true, connection: { id: c!.id, leaseOwner: 'sweeper', lastAttemptAmbiguous: true } });
  });

  it('counts taking over a dead holder’s lease as ambiguous: a later invalid_grant is refresh_response_lost', async () => {
    const [c] = await connectMany('swlost', 1);
    await makeDue([c!.id]);
    expect(await core.repo.claimLease(c!.id, c!.version, 'dead-worker', 1)).not.toBeNull();
    // The dead holder's call reached Lever, which rotated; its answer never got stored.
    expect((await rotateAtSim(f.sim.url, core.cipher.decrypt(c!.refreshTokenCiphertext!, { row: c!.id, column: 'refreshToken' }))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 20));
    const report = await core.sweep.run();
    expect(report.outcomes).toEqual({ needs_reauth: 1 });
    expect((await core.repo.findById(c!.id))!).toMatchObject({ status: 'needs_reauth', reauthReason: 'refresh_response_lost' });
  });

  it('applies a stash found under the claimed lease without calling Lever, and frees the lease', async () => {
    const [c] = await connectMany('swstash', 1);
    await makeDue([c!.id]);
    const res = await rotateAtSim(f.sim.url, core.cipher.decrypt(c!.refreshTokenCiphertext!, { row: c!.id, column: 'refreshToken' }));
    const body = (await res.json()) as { access_token: string; refresh_token: string; expires_in: number };
    // What a process that lost Postgres right after Lever answered left behind.
    await core.stash.save({
      connectionId: c!.id,
      version: c!.version,
      accessToken: body.access_token,
      refreshToken: body.refresh_token,
      expiresAt: new Date(Date.now() + body.expires_in * 1000).toISOString(),
      issuedAt: new Date().toISOString(),
      scopes: [],
    });
    const before = await f.simStats();
    expect((await f.makeCore().sweep.run()).outcomes).toEqual({ refreshed: 1 });
    expect((await f.simStats()).tokenRequests).toBe(before.tokenRequests);
    const stored = (await core.repo.findById(c!.id))!;
    expect(core.cipher.decrypt(stored.refreshTokenCiphertext!, { row: stored.id, column: 'refreshToken' })).toBe(body.refresh_token);
    expect(stored.leaseOwner).toBeNull();
    expect(stored.version).toBe(c!.version + 1);
  });

  it('gives a connection whose lock is held back, not due for a few seconds, without calling Lever', async () => {
    const [c] = await connectMany('swbusy', 1);
    await makeDue([c!.id]);
    const lock = await f.makeCore().locks.acquire(c!.id);
    try {
      const before = await f.simStats();
      const report = await core.sweep.run();
      expect(report).toMatchObject({ claimed: 1, outcomes: { busy: 1 } });
      expect((await f.simStats()).tokenRequests).toBe(before.tokenRequests);
      const stored = (await core.repo.findById(c!.id))!;
      expect(stored.leaseOwner).toBeNull();
      expect(stored.nextRefreshAt!.getTime()).toBeGreaterThan(Date.now() + 3_000);
      expect(stored.version).toBe(c!.version);
    } finally {
      await lock.release();
    }
  });

  it('stops claiming when the global Lever budget is spent and defers what it could not do', async () => {
    const limited = f.makeCore({ REFRESH_RATE_LIMIT_PER_SECOND: '1', REDIS_PREFIX: `${f.redisPrefix}-swrl`, REFRESH_CONCURRENCY: '5' });
    const made = await connectMany('swrl', 3);
    await makeDue(made.map((c) => c.id));
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    const window = Math.floor(Date.now() / 1000);
    const report = await limited.sweep.run();
    expect(report.outcomes.refreshed).toBe(1);
    expect(report.outcomes.throttled).toBe(2);
    expect(report.stoppedBy).toMatchObject({ reason: 'throttled' });
    // The sweep comes back just after the next window opens (a small spread, never before it).
    const opens = (window + 1) * 1000;
    if (report.stoppedBy?.reason !== 'throttled') throw new Error('not throttled');
    expect(Date.now() + report.stoppedBy.retryInMs).toBeGreaterThanOrEqual(opens);
    expect(Date.now() + report.stoppedBy.retryInMs).toBeLessThan(opens + 1_000);
    const deferred = [];
    for (const c of made) {
      const stored = (await core.repo.findById(c.id))!;
      expect(stored.leaseOwner).toBeNull();
      expect(stored.nextRefreshAt!.getTime()).toBeGreaterThan(Date.now());
      if (stored.version === c.version) deferred.push(stored.nextRefreshAt!.getTime());
    }
    // The deferred rows are due the instant the next window opens, not somewhere inside it: wake-ups are per
    // second, so a row due at .4 would wait for the window after.
    expect(deferred).toEqual([opens, opens]);
  });

  it('marks a due connection without a refresh token needs_reauth', async () => {
    const [c] = await connectMany('swnort', 1);
    await core.prisma.connection.update({ where: { id: c!.id }, data: { refreshTokenCiphertext: null, nextRefreshAt: new Date(Date.now() - 1_000) } });
    const report = await core.sweep.run();
    expect(report.outcomes.needs_reauth).toBe(1);
    expect((await core.repo.findById(c!.id))!.status).toBe('needs_reauth');
  });

  it('keeps one wake-up per second in Redis, however many connections fall due in it', async () => {
    const second = Math.ceil(Date.now() / 1000) + 600;
    const made = await connectMany('swwake', 3);
    for (const [i, c] of made.entries()) {
      await core.scheduler.schedule({ ...c, nextRefreshAt: new Date(second * 1000 - 100 * i) });
      // A second process arms the same second: still one job.
      await f.makeCore().scheduler.schedule({ ...c, nextRefreshAt: new Date(second * 1000 - 100 * i) });
    }
    await core.scheduler.schedule({ ...made[0]!, nextRefreshAt: new Date((second + 5) * 1000) });
    await core.scheduler.schedule({ ...made[1]!, status: 'needs_reauth', nextRefreshAt: new Date((second + 9) * 1000) });
    const delayed = await core.refreshQueue.getDelayed();
    expect(delayed.map((j) => j.id).sort()).toEqual([sweepJobId(second), sweepJobId(second + 5)].sort());
    const job = delayed.find((j) => j.id === sweepJobId(second))!;
    expect(job.timestamp + (job.opts.delay ?? 0)).toBeGreaterThanOrEqual(second * 1000 - 5);
  });

  it('re-arms the sweep from Postgres after Redis lost its wake-ups (reconcile), skipping a live lease', async () => {
    const [a, b] = await connectMany('swrec', 2);
    const aDue = new Date(Date.now() + 120_000);
    const bDue = new Date(Date.now() + 60_000);
    await core.prisma.connection.update({ where: { id: a!.id }, data: { nextRefreshAt: aDue } });
    await core.prisma.connection.update({ where: { id: b!.id }, data: { nextRefreshAt: bDue } });
    await core.refreshQueue.obliterate({ force: true });
    // b is earlier but leased by a live holder for 3 minutes: the sweep is next needed for a.
    expect(await core.repo.claimLease(b!.id, b!.version, 'live-holder', 180_000)).not.toBeNull();
    const { nextDueAt } = await core.scheduler.reconcile();
    expect(nextDueAt!.getTime()).toBe(aDue.getTime());
    const delayed = await core.refreshQueue.getDelayed();
    expect(delayed.map((j) => j.id)).toEqual([sweepJobId(Math.ceil(aDue.getTime() / 1000))]);
    // Once the lease is gone, b is the earliest.
    await core.repo.releaseLease(b!.id, 'live-holder');
    expect((await core.scheduler.nextDue())!.getTime()).toBe(bDue.getTime());
  });
});
