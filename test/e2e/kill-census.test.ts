import { waitFor } from '@lever-connect/testing';
import { describe, expect, it } from 'vitest';
import { attributeKills, killNoting, restartOnSamePort } from '../support/chaos-harness.js';
import { forcedRefreshCensus, latestGrants, simGrants } from '../support/checks.js';
import { connectMany } from '../support/connect-flow.js';
import { startStack } from '../support/stack.js';

/**
 * The reliability census end to end, on the one path a smoke run rarely hits: an api process SIGKILLed while
 * its forced refreshes wait at Lever. Lever rotates anyway (the simulator holds them 2 s), the answers never
 * reach anyone, and with no reuse leeway the worker that takes the connections over loses the grants. The
 * census must name each loss refresh_response_lost, find its undelivered rotation at the simulator, and map it
 * to the kill by the killed process's client port.
 */
describe('kill census (processes)', () => {
  it('maps grants lost to a SIGKILL to the rotations in flight at Lever for the killed api', async () => {
    const stack = await startStack({
      workers: 1,
      simEnv: { SIM_ACCESS_TOKEN_TTL: '30', SIM_REUSE_LEEWAY_SECONDS: '0' },
      env: { LOG_LEVEL: 'warn', LEVER_HTTP_TIMEOUT_MS: '3000' },
    });
    try {
      const started = Date.now();
      const ids = await connectMany({ apiUrl: stack.api.url, apiKey: stack.adminKey, count: 4, prefix: 'killcensus' });
      const victims = ids.slice(0, 2);
      await stack.simPost('/__sim/config', { latencyMs: 2_000 });
      const before = (await stack.simStats()).tokenRequests!;
      const reads = victims.map((id) =>
        fetch(`${stack.api.url}/v1/connections/${id}/access-token?forceRefresh=true`, { headers: { authorization: `Bearer ${stack.adminKey}` } })
          .then((res) => res.status)
          .catch(() => 0),
      );
      // Both refreshes are at Lever (held by the latency) when the api dies.
      await waitFor('both forced refreshes to reach the simulator', async () => (await stack.simStats()).tokenRequests! >= before + 2, { timeoutMs: 1_500, intervalMs: 20 });
      const record = await killNoting(stack.api, Number(new URL(stack.sim.url).port));
      expect(await Promise.all(reads)).toEqual([0, 0]);
      expect(record.simPorts.length).toBeGreaterThanOrEqual(1);
      await stack.simPost('/__sim/config', { latencyMs: 0 });
      await restartOnSamePort(stack, stack.api);

      // The worker takes the connections over once the dead holder's lock and lease expire, and Lever says reuse.
      const prisma = stack.db.db.prisma;
      await waitFor('the two grants to be lost', async () => (await prisma.connection.count({ where: { status: 'needs_reauth' } })) >= 2, {
        timeoutMs: 90_000,
        intervalMs: 500,
      });
      const rows = await prisma.connection.findMany({ where: { status: 'needs_reauth' }, select: { id: true, leverAccountId: true, reauthReason: true } });
      expect(rows.map((r) => r.id).sort()).toEqual([...victims].sort());
      expect(rows.map((r) => r.reauthReason)).toEqual(['refresh_response_lost', 'refresh_response_lost']);

      const grants = await simGrants(stack);
      const byAccount = latestGrants(grants);
      const lost = rows.map((r) => ({ id: r.id, account: r.leverAccountId, lastRotation: byAccount.get(r.leverAccountId)!.lastRotation }));
      for (const l of lost) expect(l.lastRotation).toMatchObject({ delivered: false, lostBy: 'closed_before_written', clientPort: expect.any(Number) });
      const { perKill, lostAtNoKill } = attributeKills([record], grants, lost, { startedAt: started, simOffsetMs: 0 });
      expect(perKill).toEqual([expect.objectContaining({ kind: 'api', inFlight: 2, lost: 2 })]);
      expect(lostAtNoKill).toEqual([]);

      // The other two kept Lever's current refresh token: a forced refresh rotates them without reuse.
      const forced = await forcedRefreshCensus(stack);
      expect(forced).toEqual({ forced: 2, rotated: 2, newReuse: 0, stale: [] });
    } finally {
      await stack.stop();
    }
  }, 150_000);
  it('retries a refresh whose api died at Lever within the reuse leeway, long before its schedule, and keeps the grant', async () => {
    // Hour-long tokens: the next scheduled refresh is ~55 min out, far past Lever's 60 s reuse leeway. Only the
    // lease the dead api held (due again when it runs out) brings a worker back in time.
    const stack = await startStack({
      workers: 1,
      simEnv: { SIM_ACCESS_TOKEN_TTL: '3600', SIM_REUSE_LEEWAY_SECONDS: '60' },
      env: { LOG_LEVEL: 'warn', LEVER_HTTP_TIMEOUT_MS: '3000' },
    });
    try {
      const ids = await connectMany({ apiUrl: stack.api.url, apiKey: stack.adminKey, count: 2, prefix: 'killleeway' });
      const prisma = stack.db.db.prisma;
      const versions = new Map((await prisma.connection.findMany({ where: { id: { in: ids } } })).map((c) => [c.id, c.version]));
      await stack.simPost('/__sim/config', { latencyMs: 2_000 });
      const before = (await stack.simStats()).tokenRequests!;
      const reads = ids.map((id) =>
        fetch(`${stack.api.url}/v1/connections/${id}/access-token?forceRefresh=true`, { headers: { authorization: `Bearer ${stack.adminKey}` } })
          .then((res) => res.status)
          .catch(() => 0),
      );
      await waitFor('both forced refreshes to reach the simulator', async () => (await stack.simStats()).tokenRequests! >= before + 2, { timeoutMs: 1_500, intervalMs: 20 });
      const killedAt = Date.now();
      await killNoting(stack.api, Number(new URL(stack.sim.url).port));
      expect(await Promise.all(reads)).toEqual([0, 0]);
      await stack.simPost('/__sim/config', { latencyMs: 0 });
      await restartOnSamePort(stack, stack.api);

      // The worker refreshes both once the dead api's lease runs out (LEVER_HTTP_TIMEOUT_MS + 15 s), with the
      // refresh token Lever already rotated: inside the leeway, so Lever answers, and nothing is lost.
      await waitFor(
        'both connections refreshed by the worker',
        async () => {
          const rows = await prisma.connection.findMany({ where: { id: { in: ids } } });
          return rows.every((r) => r.status === 'active' && r.version > versions.get(r.id)!) && rows;
        },
        { timeoutMs: 50_000, intervalMs: 500 },
      );
      expect(Date.now() - killedAt).toBeLessThan(60_000);
      expect((await simGrants(stack)).filter((g) => g.status !== 'active')).toEqual([]);
      expect((await stack.simStats()).refreshTokenReuse ?? 0).toBe(0);
      const forced = await forcedRefreshCensus(stack);
      expect(forced).toEqual({ forced: 2, rotated: 2, newReuse: 0, stale: [] });
    } finally {
      await stack.stop();
    }
  }, 150_000);
});
