import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sweepJobId } from '@lever-connect/runtime';
import type { Core } from '../src/index.js';
import { connectViaSim, createFixture, rotateAtSim, simAccepts, type Fixture } from './fixture.js';

describe('refresh, correctly (against the simulator, real Postgres and Redis)', () => {
  let f: Fixture;
  let core: Core;

  beforeAll(async () => {
    f = await createFixture({ REFRESH_FAILING_AFTER_SECONDS: '1' });
    core = f.makeCore();
  });
  afterAll(async () => {
    await f?.close();
  });
  afterEach(async () => {
    await fetch(`${f.sim.url}/__sim/faults`, { method: 'DELETE' });
    await f.simPost('/__sim/config', { reuseLeewaySeconds: 0 });
  });

  const events = async (connectionId: string) =>
    (await core.prisma.event.findMany({ where: { connectionId }, orderBy: { seq: 'asc' } })).map((e) => e.type);

  it('rotates the refresh token, stores it with a fenced write and the new token works at Lever', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-rotate', account: 'acct_rotate' });
    const before = await f.simStats();
    const result = await core.refresher.refresh(connection.id, { trigger: 'manual', force: true });
    expect(result.outcome).toBe('refreshed');
    if (result.outcome !== 'refreshed') return;
    expect(result.connection.version).toBe(connection.version + 1);
    expect(result.connection.refreshTokenCiphertext).not.toBe(connection.refreshTokenCiphertext);
    expect(result.connection.leaseOwner).toBeNull();
    expect(await simAccepts(f.sim.url, result.accessToken)).toBe(200);
    const after = await f.simStats();
    expect(after.refreshesOk! - before.refreshesOk!).toBe(1);
    expect(await events(connection.id)).toEqual(['connection.created', 'connection.refreshed']);
    // A sweep wakes up by the new next_refresh_at.
    const job = await core.refreshQueue.getJob(sweepJobId(Math.ceil(result.connection.nextRefreshAt!.getTime() / 1000)));
    expect(job).toBeDefined();
  });

  it('never refreshes one connection twice at once, across several processes', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-race', account: 'acct_race' });
    const processes = [core, f.makeCore(), f.makeCore(), f.makeCore()];
    const before = await f.simStats();
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => processes[i % processes.length]!.refresher.refresh(connection.id, { trigger: 'schedule', force: true })),
    );
    const outcomes = results.map((r) => r.outcome);
    expect(outcomes).toContain('refreshed');
    expect(outcomes.every((o) => o === 'refreshed' || o === 'busy')).toBe(true);
    const after = await f.simStats();
    expect(after.refreshTokenReuse).toBe(before.refreshTokenReuse);
    expect(after.grantsRevoked).toBe(before.grantsRevoked);
    const stored = await core.repo.findById(connection.id);
    expect(stored!.status).toBe('active');
    expect(await simAccepts(f.sim.url, core.cipher.decrypt(stored!.accessTokenCiphertext!, { row: stored!.id, column: 'accessToken' }))).toBe(200);
  });

  it('marks the connection needs_reauth with an event when Lever answers invalid_grant', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-revoked', account: 'acct_revoked' });
    const grants = (await (await fetch(`${f.sim.url}/__sim/grants`)).json()) as Array<{ id: string; account: string; status: string }>;
    const grant = grants.find((g) => g.account === 'acct_revoked' && g.status === 'active')!;
    expect((await f.simPost(`/__sim/grants/${grant.id}/revoke`)).status).toBeLessThan(300);
    const result = await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
    expect(result).toMatchObject({ outcome: 'needs_reauth', reason: 'invalid_grant' });
    const stored = await core.repo.findById(connection.id);
    expect(stored).toMatchObject({ status: 'needs_reauth', reauthReason: 'invalid_grant', nextRefreshAt: null });
    expect(await events(connection.id)).toContain('connection.needs_reauth');
    await expect(core.tokens.getAccessToken(connection.id)).rejects.toMatchObject({ code: 'needs_reauth', statusCode: 409 });
  });

  it.each(['503', '500', '429', 'reset', 'timeout'])(
    'keeps the grant on a transient %s, backs off, then succeeds',
    async (kind) => {
      const { connection } = await connectViaSim(core, f.sim.url, { tenant: `t-transient-${kind}`, account: `acct_tr_${kind}` });
      await f.simPost('/__sim/faults', { target: 'token', kind, count: 1, delayMs: 3000, matchAccount: `acct_tr_${kind}` });
      const failed = await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
      expect(failed.outcome).toBe('failed');
      if (failed.outcome !== 'failed') return;
      expect(failed.failure.kind).toBe('transient');
      expect(failed.retryInMs).toBeGreaterThan(0);
      const mid = await core.repo.findById(connection.id);
      expect(mid).toMatchObject({ status: 'active', refreshAttemptCount: 1, leaseOwner: null });
      const ok = await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
      expect(ok.outcome).toBe('refreshed');
      const stats = await f.simStats();
      expect(stats.refreshTokenReuse).toBe(0);
    },
  );

  it('emits refresh_failing once after failing long enough, then recovered', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-failing', account: 'acct_failing' });
    await f.simPost('/__sim/faults', { target: 'token', kind: '503', count: 3, matchAccount: 'acct_failing' });
    expect((await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true })).outcome).toBe('failed');
    await new Promise((r) => setTimeout(r, 1100)); // REFRESH_FAILING_AFTER_SECONDS=1 in this fixture
    expect((await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true })).outcome).toBe('failed');
    expect((await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true })).outcome).toBe('failed');
    expect((await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true })).outcome).toBe('refreshed');
    const types = await events(connection.id);
    expect(types.filter((t) => t === 'connection.refresh_failing')).toHaveLength(1);
    expect(types.indexOf('connection.recovered')).toBeGreaterThan(types.indexOf('connection.refresh_failing'));
    expect(types).not.toContain('connection.needs_reauth');
    // Every failed attempt is in the outbox too (the console's chart of refresh outcomes), with its reason.
    expect(types.filter((t) => t === 'connection.refresh_failed')).toHaveLength(3);
    const failed = await core.prisma.event.findFirstOrThrow({ where: { connectionId: connection.id, type: 'connection.refresh_failed' } });
    expect(failed.data).toMatchObject({ connection: { id: connection.id, status: 'active', reason: 'server_error' } });
  });

  it('reports a response lost after rotation as refresh_response_lost, not a customer revocation', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-lost', account: 'acct_lost' });
    await f.simPost('/__sim/faults', { target: 'token', kind: 'timeout_after_rotation', count: 1, matchAccount: 'acct_lost' });
    const lost = await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
    expect(lost.outcome).toBe('failed');
    if (lost.outcome === 'failed') expect(lost.failure.ambiguous).toBe(true);
    const retry = await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
    expect(retry).toMatchObject({ outcome: 'needs_reauth', reason: 'refresh_response_lost' });
  });

  it('recovers a lost response when Lever allows a reuse leeway', async () => {
    await f.simPost('/__sim/config', { reuseLeewaySeconds: 30 });
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-leeway', account: 'acct_leeway' });
    await f.simPost('/__sim/faults', { target: 'token', kind: 'timeout_after_rotation', count: 1, matchAccount: 'acct_leeway' });
    expect((await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true })).outcome).toBe('failed');
    const retry = await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
    expect(retry.outcome).toBe('refreshed');
    if (retry.outcome === 'refreshed') expect(await simAccepts(f.sim.url, retry.accessToken)).toBe(200);
  });

  it('blames a wrong client secret on the operator: no needs_reauth, one invalid_credentials event', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-secret', account: 'acct_secret' });
    const wrong = f.makeCore({ LEVER_PRODUCTION_CLIENT_ID: 'lever-connect-dev', LEVER_PRODUCTION_CLIENT_SECRET: 'wrong' });
    for (let i = 0; i < 3; i++) {
      const r = await wrong.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
      expect(r.outcome).toBe('failed');
      if (r.outcome === 'failed') expect(r.failure.kind).toBe('operator');
    }
    expect((await core.repo.findById(connection.id))!.status).toBe('active');
    const notices = await core.prisma.event.findMany({ where: { type: 'oauth_app.invalid_credentials' } });
    expect(notices).toHaveLength(1);
    expect(JSON.stringify(notices[0]!.data)).not.toContain('wrong');
    // Another process failing the same way adds nothing: the episode is recorded once, in Postgres.
    const wrongToo = f.makeCore({ LEVER_PRODUCTION_CLIENT_ID: 'lever-connect-dev', LEVER_PRODUCTION_CLIENT_SECRET: 'wrong' });
    expect((await wrongToo.refresher.refresh(connection.id, { trigger: 'schedule', force: true })).outcome).toBe('failed');
    expect(await core.prisma.event.count({ where: { type: 'oauth_app.invalid_credentials' } })).toBe(1);
    // The operator fixes the secret (a new process): its first success ends the episode...
    const fixed = f.makeCore();
    expect((await fixed.refresher.refresh(connection.id, { trigger: 'schedule', force: true })).outcome).toBe('refreshed');
    // ...so a new rejection is news again.
    expect((await wrong.refresher.refresh(connection.id, { trigger: 'schedule', force: true })).outcome).toBe('failed');
    expect(await core.prisma.event.count({ where: { type: 'oauth_app.invalid_credentials' } })).toBe(2);
  });

  it('treats a held lock as someone else refreshing, and an unreachable Redis as unavailable', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-lock', account: 'acct_lock' });
    const held = await core.locks.acquire(connection.id);
    try {
      expect((await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true })).outcome).toBe('busy');
    } finally {
      await held.release();
    }
    const noRedis = f.makeCore({ REDIS_URL: 'redis://127.0.0.1:1' });
    const r = await noRedis.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
    expect(r).toMatchObject({ outcome: 'unavailable', dependency: 'redis' });
  });

  it('respects a Postgres lease held by another process even when the Redis lock is free', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-lease', account: 'acct_lease' });
    expect(await core.repo.claimLease(connection.id, connection.version, 'other-process', 30_000)).toEqual({ lastAttemptAmbiguous: false, tookOver: false });
    const before = await f.simStats();
    expect((await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true })).outcome).toBe('busy');
    expect((await f.simStats()).tokenRequests).toBe(before.tokenRequests);
  });

  it('reports refresh_response_lost after taking over the lease of a refresher that died mid-call', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-died', account: 'acct_died' });
    // A worker claimed the lease, sent the refresh (Lever rotated) and was SIGKILLed before storing it.
    expect(await core.repo.claimLease(connection.id, connection.version, 'dead-worker', 1)).toEqual({ lastAttemptAmbiguous: false, tookOver: false });
    const refreshToken = core.cipher.decrypt(connection.refreshTokenCiphertext!, { row: connection.id, column: 'refreshToken' });
    const rotated = await rotateAtSim(f.sim.url, refreshToken);
    expect(rotated.status).toBe(200);
    await new Promise((r) => setTimeout(r, 20)); // the 1 ms lease has expired
    const result = await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
    expect(result).toMatchObject({ outcome: 'needs_reauth', reason: 'refresh_response_lost' });
  });

  it('applies a stashed, unsaved rotation before calling Lever again', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-stash', account: 'acct_stash' });
    // Rotate at Lever by hand, as a worker would before Postgres went away, and stash the answer.
    const refreshToken = core.cipher.decrypt(connection.refreshTokenCiphertext!, { row: connection.id, column: 'refreshToken' });
    const res = await rotateAtSim(f.sim.url, refreshToken);
    const body = (await res.json()) as { access_token: string; refresh_token: string; expires_in: number };
    const now = Date.now();
    await core.stash.save({
      connectionId: connection.id,
      version: connection.version,
      accessToken: body.access_token,
      refreshToken: body.refresh_token,
      expiresAt: new Date(now + body.expires_in * 1000).toISOString(),
      issuedAt: new Date(now).toISOString(),
      scopes: [],
    });
    const other = f.makeCore(); // a different process: finds the stash in Redis, not in memory
    const before = await f.simStats();
    const result = await other.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
    expect(result.outcome).toBe('refreshed');
    const stats = await f.simStats();
    expect(stats.tokenRequests).toBe(before.tokenRequests); // applied from the stash, Lever not called
    const stored = await core.repo.findById(connection.id);
    expect(core.cipher.decrypt(stored!.refreshTokenCiphertext!, { row: stored!.id, column: 'refreshToken' })).toBe(body.refresh_token);
    expect(await other.stash.load(connection.id, connection.version)).toBeUndefined(); // spent once applied
  });

  it('warns once, before the grant’s year ends, that the customer must reconnect (connection.expiring)', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-expiring', account: 'acct_expiring' });
    const day = 24 * 3600 * 1000;
    await core.prisma.connection.update({ where: { id: connection.id }, data: { grantCreatedAt: new Date(Date.now() - 300 * day) } });
    await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
    expect(await events(connection.id)).not.toContain('connection.expiring');
    await core.prisma.connection.update({ where: { id: connection.id }, data: { grantCreatedAt: new Date(Date.now() - 355 * day) } });
    await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
    await core.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
    const expiring = (await events(connection.id)).filter((t) => t === 'connection.expiring');
    expect(expiring).toHaveLength(1);
  });

  it('lets a reconnect win over a refresh in flight (fenced write), without reuse', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-fence-write', account: 'acct_fence_write' });
    // Lever answers this refresh slowly (it has rotated by then); the customer reconnects meanwhile.
    await f.simPost('/__sim/faults', { target: 'token', kind: 'slow', delayMs: 1500, count: 1, matchAccount: 'acct_fence_write' });
    const inflight = core.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
    await new Promise((r) => setTimeout(r, 300));
    const { connection: reconnected } = await connectViaSim(core, f.sim.url, { tenant: 't-fence-write', account: 'acct_fence_write' });
    expect(reconnected.id).toBe(connection.id);
    const result = await inflight;
    expect(result.outcome).toBe('busy');
    const stored = await core.repo.findById(connection.id);
    expect(stored!.version).toBe(reconnected.version);
    expect(stored!.refreshTokenCiphertext).toBe(reconnected.refreshTokenCiphertext);
  });

  it('refuses to call Lever when switched off or fenced to another deployment', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-fence', account: 'acct_fence' });
    const off = f.makeCore({ REFRESH_ENABLED: 'false' });
    expect((await off.refresher.refresh(connection.id, { trigger: 'schedule', force: true })).outcome).toBe('disabled');
    await core.fence.owner(); // the first deployment claims the database
    const staging = f.makeCore({ DEPLOYMENT_ID: 'staging-copy' });
    const before = await f.simStats();
    expect((await staging.refresher.refresh(connection.id, { trigger: 'schedule', force: true })).outcome).toBe('fenced');
    expect((await f.simStats()).tokenRequests).toBe(before.tokenRequests);
  });

  it('refreshes a job that fires at its jittered next_refresh_at, before expiry minus the lead', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-jitter', account: 'acct_jitter' });
    // Token has 11 minutes left (lead 10): not due by the lead, but the jittered schedule says now.
    await core.prisma.connection.update({
      where: { id: connection.id },
      data: { accessTokenExpiresAt: new Date(Date.now() + 660_000), nextRefreshAt: new Date(Date.now() - 1_000) },
    });
    expect((await core.refresher.refresh(connection.id, { trigger: 'schedule' })).outcome).toBe('refreshed');
    // A read, by contrast, is served while the token has more than TOKEN_MIN_TTL_SECONDS left.
    const next = (await core.repo.findById(connection.id))!;
    await core.prisma.connection.update({ where: { id: connection.id }, data: { nextRefreshAt: new Date(Date.now() + 600_000) } });
    expect((await core.refresher.refresh(next.id, { trigger: 'schedule' })).outcome).toBe('not_due');
  });

  it('waits, after taking over an expired lease, for the previous holder’s write and then leaves Lever alone', async () => {
    const { connection } = await connectViaSim(core, f.sim.url, { tenant: 't-grace', account: 'acct_grace' });
    // A holder claimed the lease, got Lever's answer, and lost Postgres for longer than its lease.
    expect(await core.repo.claimLease(connection.id, connection.version, 'cut-off-worker', 1)).not.toBeNull();
    await new Promise((r) => setTimeout(r, 20));
    const before = await f.simStats();
    const taker = core.refresher.refresh(connection.id, { trigger: 'schedule', force: true });
    // Postgres comes back and the holder's fenced write lands during the taker's grace.
    await new Promise((r) => setTimeout(r, 500));
    await core.prisma.connection.update({ where: { id: connection.id }, data: { version: { increment: 1 } } });
    expect((await taker).outcome).toBe('busy');
    expect((await f.simStats()).tokenRequests).toBe(before.tokenRequests);
    expect((await core.repo.findById(connection.id))!.leaseOwner).toBeNull();
  });

  it('keeps every trigger within the global Lever budget (REFRESH_RATE_LIMIT_PER_SECOND)', async () => {
    const limited = f.makeCore({ REFRESH_RATE_LIMIT_PER_SECOND: '2', REDIS_PREFIX: `${f.redisPrefix}-rl` });
    const made = [];
    for (let i = 0; i < 4; i++) made.push((await connectViaSim(core, f.sim.url, { tenant: `t-rl-${i}`, account: `acct_rl_${i}` })).connection);
    // Wait for the start of a fresh one-second window so all four land in it.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    const before = await f.simStats();
    const results = await Promise.all(made.map((c) => limited.refresher.refresh(c.id, { trigger: 'schedule', force: true })));
    const outcomes = results.map((r) => r.outcome).sort();
    expect(outcomes).toEqual(['refreshed', 'refreshed', 'throttled', 'throttled']);
    for (const r of results) if (r.outcome === 'throttled') expect(r.retryInMs).toBeGreaterThan(0);
    expect((await f.simStats()).tokenRequests! - before.tokenRequests!).toBe(2);
    // A read waits for the next window instead of failing.
    const read = await limited.refresher.refresh(made[3]!.id, { trigger: 'read', force: true });
    expect(read.outcome).toBe('refreshed');
  });
});
