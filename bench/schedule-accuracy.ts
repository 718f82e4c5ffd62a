import { randomUUID } from 'node:crypto';
import { jobOptions, QUEUE_NAMES, type RefreshJobData } from '@lever-connect/connections';
import { Redis } from 'ioredis';
import { startOwnRedis } from '../test/support/servers.js';
import { Queue, Worker } from './lib/deps.js';
import type { BenchResult } from './lib/report.js';
import { percentile } from './lib/stack.js';

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
 * BullMQ's delayed-job accuracy with our job options (scheduler.ts `jobOptions`), on a private Redis so its
 * memory is ours alone. The processor only records how late it fired; the refresh work itself is bench 1.
 */
export async function benchScheduleAccuracy(size: ScheduleAccuracySize): Promise<BenchResult> {
  const server = await startOwnRedis();
  const redis = new Redis(server.url);
  const connection = { host: '127.0.0.1', port: server.port };
  const prefix = 'lc';
  const queue = new Queue<RefreshJobData>(QUEUE_NAMES.refresh, { connection, prefix });
  const n = size.jobs;
  const lags = new Float64Array(n);
  let fired = 0;
  let worker: InstanceType<typeof Worker<RefreshJobData>> | undefined;
  try {
    await queue.waitUntilReady();
    const before = await usedMemory(redis);
    const base = Date.now() + size.leadMs;
    // Due times in ascending order, so each job is added well before it is due while the rest are added.
    const dues = Array.from({ length: n }, () => base + Math.random() * size.windowMs).sort((a, b) => a - b);
    const addStarted = Date.now();
    for (let i = 0; i < n; i += 1_000) {
      const now = Date.now();
      await queue.addBulk(
        dues.slice(i, i + 1_000).map((due) => {
          const c = { id: randomUUID(), version: 1, status: 'active', nextRefreshAt: new Date(due) };
          return { name: 'refresh', data: { connectionId: c.id, version: c.version, dueAt: c.nextRefreshAt.toISOString() }, opts: jobOptions(c, now) };
        }),
      );
    }
    const addedAt = Date.now();
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
        `${n} refresh jobs (jobOptions of scheduler.ts: deterministic id, delay, removeOnComplete/Fail) due uniformly over ` +
        `${(size.windowMs / 1000).toFixed(0)} s, on a private redis-server (--save "" --appendonly no); no-op processor recording ` +
        `fired − due, concurrency ${size.concurrency}, the refresh worker's options.`,
      figures: [
        { figure: 'lag p50 (fired − due)', value: toS(p50), unit: 's' },
        { figure: 'lag p99', value: toS(p99), unit: 's', target: '< 10 s', pass: p99 < 10_000 },
        { figure: 'lag max', value: toS(max), unit: 's' },
        { figure: 'jobs fired early', value: early, unit: 'jobs', target: '0 (no jitter in job options)', pass: early === 0 },
        { figure: 'Redis memory per scheduled connection', value: bytesPerJob, unit: 'B', target: '≤ 2048 B', pass: bytesPerJob <= 2048 },
      ],
      notes: [
        `fired ${fired}/${n}; the last one ${((lastAt - base - size.windowMs) / 1000).toFixed(2)} s after the window closed`,
        `adding took ${((addedAt - addStarted) / 1000).toFixed(2)} s (${(n / ((addedAt - addStarted) / 1000)).toFixed(0)} jobs/s, addBulk of 1000), ` +
          `${addedAt <= base ? 'finished before the first job was due' : `finished ${((addedAt - base) / 1000).toFixed(2)} s AFTER the first job was due (lags include it)`}`,
        `used_memory ${before} → ${after} B; MEMORY USAGE of one job hash: ${oneJobBytes} B (plus its entry in the delayed sorted set)`,
        'a scheduled connection costs one job hash + one delayed-zset member; the refresh processor itself (bench 1) is what limits how many due jobs a worker clears per second',
      ],
    };
  } finally {
    await worker?.close();
    await queue.close();
    redis.disconnect();
    await server.stop();
  }
}
