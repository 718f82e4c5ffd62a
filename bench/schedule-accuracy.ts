import { randomBytes } from 'node:crypto';
import { QUEUE_NAMES, type RefreshJobData } from '@lever-connect/connections';
import { createTestDatabase } from '@lever-connect/testing';
import { Redis } from 'ioredis';
import { startOwnRedis } from '../test/support/servers.js';
import { Worker } from './lib/deps.js';
import type { BenchResult } from './lib/report.js';
import { percentile, type BenchStack } from './lib/stack.js';

export interface ScheduleAccuracySize {
  jobs: number;
  /** Due times are spread uniformly over this window (an hour of schedule, compressed). */
  windowMs: number;
  /** The first job is due this long after the bench starts adding (adding must finish before). */
  leadMs: number;
  concurrency: number;
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

/**
 * The schedule of N connections, from Postgres to fired jobs: N active connection rows whose
 * next_refresh_at is spread over the window (an hour of refreshes, compressed), put on schedule by the
 * reconciler exactly as after a Redis flush (scheduler.ts: page query, EXISTS pipeline, addBulk with the
 * product's job options), on a private Redis so its memory is ours alone. The processor records how late
 * each job fired; the refresh work itself is bench 1.
 */
export async function benchScheduleAccuracy(stack: BenchStack, size: ScheduleAccuracySize): Promise<BenchResult> {
  const server = await startOwnRedis();
  const redis = new Redis(server.url);
  const connection = { host: '127.0.0.1', port: server.port };
  // A database of its own: the reconciler schedules every active connection, and only these must be there.
  const db = await createTestDatabase();
  const { core } = await stack.core({ REDIS_URL: server.url, DATABASE_URL: db.url });
  const prefix = core.config.redisPrefix;
  const queue = core.refreshQueue;
  const n = size.jobs;
  const lags = new Float64Array(n);
  let fired = 0;
  let worker: InstanceType<typeof Worker<RefreshJobData>> | undefined;
  try {
    await queue.waitUntilReady();
    const before = await usedMemory(redis);
    const base = Date.now() + size.leadMs;
    // The rows: one tenant, N connections due uniformly over the window (tokens are not needed to schedule).
    const insertStarted = Date.now();
    const tenant = await core.prisma.tenant.create({ data: { externalId: `bench-schedule-${randomBytes(3).toString('hex')}` } });
    await core.database.pool.query(
      `INSERT INTO "connections" ("id", "tenantId", "environment", "status", "leverAccountId", "scopes", "nextRefreshAt", "updatedAt")
       SELECT gen_random_uuid(), $1, 'production', 'active', 'acct_sched_' || g, '{}', to_timestamp(($2::bigint + random() * $3::bigint) / 1000.0) AT TIME ZONE 'UTC', now()
         FROM generate_series(1, $4) g`,
      [tenant.id, base, size.windowMs, n],
    );
    const insertedMs = Date.now() - insertStarted;
    const addStarted = Date.now();
    const reconciled = await core.scheduler.reconcile();
    const addedAt = Date.now();
    if (reconciled.added !== n) throw new Error(`reconcile added ${reconciled.added} of ${n} jobs`);
    const after = await usedMemory(redis);
    const bytesPerJob = (after - before) / n;
    const sampleKey = (await redis.keys(`${prefix}:${QUEUE_NAMES.refresh}:refresh-*`))[0];
    const oneJobBytes = sampleKey ? Number(await redis.call('MEMORY', 'USAGE', sampleKey)) : Number.NaN;

    let lastAt = 0;
    const done = new Promise<void>((resolve) => {
      worker = new Worker<RefreshJobData>(
        QUEUE_NAMES.refresh,
        async (job) => {
          lastAt = Date.now();
          lags[fired++] = lastAt - Date.parse(job.data.dueAt);
          if (fired === n) resolve();
        },
        // The refresh worker's options (apps/worker/src/workers.ts), limiter raised out of the way.
        { connection, prefix, concurrency: size.concurrency, limiter: { max: 100_000, duration: 1_000 }, lockDuration: 30_000, maxStalledCount: 1_000_000 },
      );
    });
    const deadline = base + size.windowMs + 60_000;
    await Promise.race([done, new Promise((r) => setTimeout(r, deadline - Date.now()))]);
    const sorted = Float64Array.from(lags.subarray(0, fired)).sort();
    const toS = (ms: number) => ms / 1000;
    const early = sorted.filter((l) => l < 0).length;
    const p50 = percentile(sorted, 50);
    const p99 = percentile(sorted, 99);
    const max = sorted[sorted.length - 1] ?? Number.NaN;
    return {
      name: '2. schedule accuracy',
      setup:
        `${n} active connection rows with next_refresh_at uniform over ${(size.windowMs / 1000).toFixed(0)} s, scheduled by ` +
        `scheduler.reconcile() (the real path after a Redis flush) on a private redis-server (--save "" --appendonly no); ` +
        `no-op processor recording fired − due, concurrency ${size.concurrency}, the refresh worker's options.`,
      figures: [
        { figure: 'lag p50 (fired − due)', value: toS(p50), unit: 's' },
        { figure: 'lag p99', value: toS(p99), unit: 's', target: '< 10 s', pass: p99 < 10_000 },
        { figure: 'lag max', value: toS(max), unit: 's' },
        { figure: 'jobs fired early', value: early, unit: 'jobs', target: '0 (no jitter in job options)', pass: early === 0 },
        { figure: 'Redis memory per scheduled connection', value: bytesPerJob, unit: 'B', target: '≤ 2048 B', pass: bytesPerJob <= 2048 },
      ],
      notes: [
        `fired ${fired}/${n}; the last one ${((lastAt - base - size.windowMs) / 1000).toFixed(2)} s after the window closed`,
        `inserting the rows took ${(insertedMs / 1000).toFixed(2)} s; the reconciler scheduled ${reconciled.added} in ${((addedAt - addStarted) / 1000).toFixed(2)} s (${(n / ((addedAt - addStarted) / 1000)).toFixed(0)} connections/s), ` +
          `${addedAt <= base ? 'finished before the first job was due' : `finished ${((addedAt - base) / 1000).toFixed(2)} s AFTER the first job was due (lags include it)`}`,
        `used_memory ${before} → ${after} B; MEMORY USAGE of one job hash: ${oneJobBytes} B (plus its entry in the delayed sorted set)`,
        'a scheduled connection costs one job hash + one delayed-zset member; the refresh processor itself (bench 1) is what limits how many due jobs a worker clears per second',
      ],
    };
  } finally {
    await worker?.close();
    await core.close();
    await db.drop();
    redis.disconnect();
    await server.stop();
  }
}
