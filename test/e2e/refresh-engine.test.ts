import { describe, expect, it } from 'vitest';
import { waitFor } from '@lever-connect/testing';
import { census, eventCounts, settle, tokenReaders } from '../support/checks.js';
import { connectMany } from '../support/connect-flow.js';
import { startOwnPostgres, startOwnRedis } from '../support/servers.js';
import { startStack } from '../support/stack.js';

/**
 * The refresh engine under the conditions that cost customers their grants elsewhere: many workers,
 * readers racing them, Lever outages, slow Lever, Redis loss, Postgres restarts, deploys. Real processes,
 * the simulator over HTTP, real Postgres and Redis.
 */
describe('refresh engine (processes)', () => {
  it('never reuses a refresh token with 4 workers and concurrent token readers (10 s tokens)', async () => {
    const stack = await startStack({ workers: 4, simEnv: { SIM_ACCESS_TOKEN_TTL: '10' }, env: { LOG_LEVEL: 'warn' } });
    try {
      const ids = await connectMany({ apiUrl: stack.api.url, apiKey: stack.adminKey, count: 200, prefix: 'race' });
      const reads = await tokenReaders(stack, ids, { concurrency: 8, durationMs: 60_000, forceEvery: 25 });
      const stats = await stack.simStats();
      expect(stats.refreshTokenReuse).toBe(0);
      expect(stats.grantsRevoked).toBe(0);
      // 200 connections × (60 s / ~6 s per cycle): the workers kept every token fresh by themselves.
      expect(stats.refreshesOk).toBeGreaterThan(200 * 6);
      expect(reads.statuses[200]).toBeGreaterThan(0);
      expect(Object.keys(reads.statuses).filter((s) => s !== '200' && s !== '503')).toEqual([]);
      const c = await census(stack);
      expect(c).toMatchObject({ total: 200, active: 200, accepted: 200, needsReauth: [], rejected: [] });
    } finally {
      await stack.stop();
    }
  });

  it('rides out a Lever outage (503, timeouts, 429) without losing a grant, and isolates a revocation', async () => {
    const stack = await startStack({
      workers: 2,
      simEnv: { SIM_ACCESS_TOKEN_TTL: '12' },
      env: { LOG_LEVEL: 'warn', REFRESH_FAILING_AFTER_SECONDS: '4', LEVER_HTTP_TIMEOUT_MS: '1500' },
    });
    try {
      const ids = await connectMany({ apiUrl: stack.api.url, apiKey: stack.adminKey, count: 20, prefix: 'outage' });
      // Several refresh cycles of failures: 503s, then requests that hang past our timeout, then 429s.
      await stack.simPost('/__sim/faults', { target: 'token', kind: '503', count: 60 });
      await stack.simPost('/__sim/faults', { target: 'token', kind: 'timeout', count: 40, delayMs: 3000 });
      await stack.simPost('/__sim/faults', { target: 'token', kind: '429', count: 60 });
      await waitFor('the storm to pass', async () => (await stack.simStats()).faultsInjected! >= 160, { timeoutMs: 120_000, intervalMs: 1000 });
      // Everyone refreshes again once Lever is back.
      const afterStorm = (await stack.simStats()).refreshesOk!;
      await waitFor('a full refresh cycle after the storm', async () => (await stack.simStats()).refreshesOk! >= afterStorm + 20, {
        timeoutMs: 30_000,
      });
      expect(await stack.db.db.prisma.connection.count({ where: { status: 'active' } })).toBe(20);
      // The customer behind one connection uninstalls the app in Lever.
      const grants = (await (await fetch(`${stack.sim.url}/__sim/grants`)).json()) as Array<{ id: string; account: string; status: string }>;
      const victim = grants.find((g) => g.account === 'acct_outage-0' && g.status === 'active')!;
      await stack.simPost(`/__sim/grants/${victim.id}/revoke`);
      await waitFor(
        'the revoked connection to be flagged within one refresh cycle',
        async () => (await stack.db.db.prisma.connection.findUnique({ where: { id: ids[0]! } }))?.status === 'needs_reauth',
        { timeoutMs: 15_000, intervalMs: 250 },
      );
      const c = await census(stack);
      expect(c.needsReauth).toEqual([{ id: ids[0], reason: 'invalid_grant' }]);
      expect(c).toMatchObject({ total: 20, active: 19, accepted: 19, rejected: [] });
      const events = await eventCounts(stack);
      expect(events['connection.needs_reauth']).toBe(1);
      expect(events['connection.refresh_failing']).toBeGreaterThan(0);
      expect(events['connection.recovered']).toBe(events['connection.refresh_failing']);
      expect((await stack.simStats()).refreshTokenReuse).toBe(0);
    } finally {
      await stack.stop();
    }
  });

  it('extends the lock while Lever is slower than the lock TTL, so no second refresh starts', async () => {
    const stack = await startStack({
      workers: 3,
      simEnv: { SIM_ACCESS_TOKEN_TTL: '12' },
      env: { LOG_LEVEL: 'warn', REFRESH_LOCK_TTL_MS: '600' },
    });
    try {
      const ids = await connectMany({ apiUrl: stack.api.url, apiKey: stack.adminKey, count: 10, prefix: 'slow' });
      await stack.simPost('/__sim/config', { latencyMs: 2000 });
      const readers = tokenReaders(stack, ids, { concurrency: 4, durationMs: 25_000, forceEvery: 3 });
      await readers;
      await stack.simPost('/__sim/config', { latencyMs: 0 });
      const stats = await stack.simStats();
      expect(stats.refreshesOk).toBeGreaterThan(10);
      expect(stats.refreshTokenReuse).toBe(0);
      const c = await census(stack);
      expect(c).toMatchObject({ active: 10, accepted: 10, needsReauth: [] });
    } finally {
      await stack.stop();
    }
  });

  it('puts every connection back on schedule after Redis is flushed and restarted, without reuse', async () => {
    const redis = await startOwnRedis();
    const stack = await startStack({
      workers: 2,
      redisUrl: redis.url,
      simEnv: { SIM_ACCESS_TOKEN_TTL: '15' },
      env: { LOG_LEVEL: 'warn' },
    });
    try {
      const ids = await connectMany({ apiUrl: stack.api.url, apiKey: stack.adminKey, count: 30, prefix: 'flush' });
      await waitFor('a first round of refreshes', async () => (await stack.simStats()).refreshesOk! >= 30, { timeoutMs: 30_000 });
      await redis.flushAll();
      const flushedAt = Date.now();
      const before = (await stack.simStats()).refreshesOk!;
      // Back on schedule: every connection refreshes again without any manual step.
      await waitFor('every connection to refresh after the flush', async () => (await stack.simStats()).refreshesOk! >= before + 30, {
        timeoutMs: 60_000,
        intervalMs: 500,
      });
      expect(Date.now() - flushedAt).toBeLessThan(60_000);
      await redis.stop();
      await new Promise((r) => setTimeout(r, 3000));
      await redis.start();
      const beforeRestart = (await stack.simStats()).refreshesOk!;
      await waitFor('refreshes to resume after a Redis restart', async () => (await stack.simStats()).refreshesOk! >= beforeRestart + 30, {
        timeoutMs: 60_000,
        intervalMs: 500,
      });
      expect((await stack.simStats()).refreshTokenReuse).toBe(0);
      const c = await census(stack);
      expect(c).toMatchObject({ total: ids.length, active: ids.length, accepted: ids.length, needsReauth: [] });
    } finally {
      await stack.stop();
      await redis.stop();
    }
  });

  it('loses no token when Postgres is stopped mid-run and started again', async () => {
    const postgres = await startOwnPostgres();
    const stack = await startStack({
      workers: 2,
      pgAdminUrl: postgres.adminUrl,
      simEnv: { SIM_ACCESS_TOKEN_TTL: '12' },
      env: { LOG_LEVEL: 'warn' },
    });
    try {
      const ids = await connectMany({ apiUrl: stack.api.url, apiKey: stack.adminKey, count: 20, prefix: 'pg' });
      await waitFor('a first round of refreshes', async () => (await stack.simStats()).refreshesOk! >= 20, { timeoutMs: 30_000 });
      await postgres.stop();
      await new Promise((r) => setTimeout(r, 10_000));
      await postgres.start();
      const before = (await stack.simStats()).refreshesOk!;
      await waitFor('refreshes to resume', async () => (await stack.simStats()).refreshesOk! >= before + 20, { timeoutMs: 60_000, intervalMs: 500 });
      for (const p of [...stack.workers, ...stack.apis]) expect(p.child.exitCode).toBeNull(); // nobody crashed
      expect((await stack.simStats()).refreshTokenReuse).toBe(0);
      const c = await census(stack);
      expect(c).toMatchObject({ total: ids.length, active: ids.length, accepted: ids.length, needsReauth: [] });
    } finally {
      await stack.stop();
      await postgres.destroy();
    }
  });

  it('loses nothing across rolling restarts (SIGTERM) and reports SIGKILL losses honestly', async () => {
    const stack = await startStack({ workers: 2, simEnv: { SIM_ACCESS_TOKEN_TTL: '10' }, env: { LOG_LEVEL: 'warn' } });
    try {
      const ids = await connectMany({ apiUrl: stack.api.url, apiKey: stack.adminKey, count: 40, prefix: 'deploy' });
      await stack.simPost('/__sim/config', { latencyMs: 150 }); // keep refreshes in flight when signals land
      for (let round = 0; round < 3; round++) {
        await new Promise((r) => setTimeout(r, 4000));
        const old = stack.workers.shift()!;
        await stack.startWorker();
        expect(await old.stop('SIGTERM')).toBe(0);
      }
      const sigterm = await census(stack);
      expect((await stack.simStats()).refreshTokenReuse).toBe(0);
      expect(sigterm.needsReauth).toEqual([]);
      for (let round = 0; round < 2; round++) {
        await new Promise((r) => setTimeout(r, 4000));
        const victim = stack.workers.shift()!;
        await victim.stop('SIGKILL');
        await stack.startWorker();
      }
      // A holder killed mid-refresh keeps its lease (LEVER_HTTP_TIMEOUT_MS + 15 s) and its BullMQ job lock
      // until they expire; only then does another process take over. Judge once that has happened.
      await settle(stack, 90_000);
      const c = await census(stack);
      // A SIGKILL can lose at most the responses in flight; any such loss is named for what it is.
      for (const lost of c.needsReauth) expect(lost.reason).toBe('refresh_response_lost');
      expect(c.active + c.needsReauth.length).toBe(ids.length);
      expect(c.accepted, `active connections without a working token: ${c.rejected.join('; ')}`).toBe(c.active);
    } finally {
      await stack.stop();
    }
  });
});
