import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { refreshAccessToken } from '../packages/lever/src/index.js';
import { startWorkers } from '../apps/worker/src/workers.js';
import type { BenchResult } from './lib/report.js';
import { cpuSeconds, insertConnections, issueGrants, pool, type BenchStack } from './lib/stack.js';

export interface RefreshThroughputSize {
  connections: number;
  concurrency: number;
  timeoutMs: number;
}

/**
 * N connections all due at once, refreshed end to end by the real BullMQ refresh worker (startWorkers: Redis
 * lock, re-read, Postgres lease, Lever call, fenced write + outbox event, next schedule), against a floor
 * that only calls the simulator and writes one UPDATE per connection, at the same concurrency.
 */
export async function benchRefreshThroughput(stack: BenchStack, size: RefreshThroughputSize): Promise<BenchResult> {
  const { core, config } = await stack.core({
    REFRESH_CONCURRENCY: String(size.concurrency),
    // The global limiter is a policy knob (default 50/s); here we measure what a worker can do.
    REFRESH_RATE_LIMIT_PER_SECOND: '100000',
    RECONCILE_INTERVAL_SECONDS: '3600',
  });
  const n = size.connections;
  const grantsStarted = performance.now();
  const grants = await issueGrants(stack.simUrl, n, `rt_${randomBytes(3).toString('hex')}`);
  const grantsPerSecond = n / ((performance.now() - grantsStarted) / 1000);
  const ids = await insertConnections(core, `bench-refresh-${randomBytes(3).toString('hex')}`, grants, { due: true });
  const env = config.lever.environments.production;

  // Floor: the simulator call plus one UPDATE (the rotated tokens, encrypted, so the rows stay usable).
  const refreshTokens = grants.map((g) => g.refreshToken);
  let floorSimCpu = cpuSeconds(stack.simPid);
  const floorStarted = performance.now();
  await pool(n, size.concurrency, async (i) => {
    const tokens = await refreshAccessToken(env, refreshTokens[i]!, { timeoutMs: config.lever.httpTimeoutMs });
    const id = ids[i]!;
    // The cheapest honest write: one parameterized UPDATE straight on the pool (no ORM, no transaction).
    await core.database.pool.query('UPDATE "connections" SET "accessTokenCiphertext" = $2, "refreshTokenCiphertext" = $3 WHERE "id" = $1', [
      id,
      core.cipher.encrypt(tokens.accessToken, id),
      core.cipher.encrypt(tokens.refreshToken!, id),
    ]);
  });
  const floorSeconds = (performance.now() - floorStarted) / 1000;
  floorSimCpu = cpuSeconds(stack.simPid) - floorSimCpu;
  const floorRate = n / floorSeconds;

  // The product: every row is still due (60 s left, lead 600 s). Workers first, then the schedule.
  const workers = await startWorkers(core);
  const outcomes = new Map<string, number>();
  let finished = 0;
  let lastAt = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`refresh bench: ${finished}/${n} jobs finished in ${size.timeoutMs} ms`)), size.timeoutMs);
    workers.refreshWorker.on('completed', (_job, outcome: string) => {
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      lastAt = performance.now();
      if (++finished === n) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  let simCpu = cpuSeconds(stack.simPid);
  const started = performance.now();
  // The reconciler's own path: one page query, an EXISTS pipeline, addBulk of the missing jobs.
  await core.scheduler.reconcile();
  const enqueuedMs = performance.now() - started;
  try {
    await done;
  } finally {
    await workers.close();
  }
  simCpu = cpuSeconds(stack.simPid) - simCpu;
  const seconds = (lastAt - started) / 1000;
  const rate = n / seconds;
  const refreshed = await core.prisma.connection.count({ where: { id: { in: ids }, version: 1 } });
  const nextScheduled = await core.refreshQueue.getDelayedCount();

  return {
    name: '1. refresh throughput',
    setup:
      `${n} connections due at once; simulator in a ${stack.simKind}; real BullMQ refresh worker (startWorkers) in the ` +
      `bench process, REFRESH_CONCURRENCY=${size.concurrency}, limiter off (100000/s); floor = refreshAccessToken + one ` +
      `prisma UPDATE per connection in a loop of the same concurrency, run first on the same rows.`,
    figures: [
      {
        figure: 'refreshes/s end to end',
        value: rate,
        unit: '/s',
        floor: floorRate,
        floorLabel: 'sim call + UPDATE',
        target: '≥ 60 % of floor, ≥ 300/s',
        pass: rate >= 0.6 * floorRate && rate >= 300,
      },
    ],
    notes: [
      `outcomes: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}; rows at version 1 afterwards: ${refreshed}/${n}; next-generation jobs delayed: ${nextScheduled}`,
      `enqueue (reconcile of ${n} rows) took ${enqueuedMs.toFixed(0)} ms of the ${(seconds * 1000).toFixed(0)} ms`,
      `simulator CPU per refresh: ${((simCpu / n) * 1000).toFixed(2)} ms (product run), ${((floorSimCpu / n) * 1000).toFixed(2)} ms (floor run)`,
      `setup: grants issued at ${grantsPerSecond.toFixed(0)}/s (authorize + code exchange, 32 in parallel)`,
      'the worker process also ran its outbox relay and webhook worker meanwhile (one connection.refreshed event per refresh), as in production',
    ],
  };
}
