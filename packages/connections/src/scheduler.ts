import type { PrismaClient } from '@lever-connect/db';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createBatcher } from './batcher.js';
import { refreshJobId, type RefreshJobData } from './queues.js';

export interface ScheduledConnection {
  id: string;
  version: number;
  status: string;
  nextRefreshAt: Date | null;
}

export interface RefreshScheduler {
  /** Ensures the refresh job of this connection's current generation exists, due at nextRefreshAt. */
  schedule(connection: ScheduledConnection): Promise<void>;
  /**
   * Re-derives the schedule from Postgres: every active connection whose current-generation job is missing
   * from Redis (flushed, replaced, crash between commit and enqueue) gets one, and one that is due but whose
   * job still waits for a later time (a delay computed before a backoff, a clock step) is promoted. Returns
   * how many were added and promoted.
   */
  reconcile(): Promise<{ checked: number; added: number; promoted: number }>;
}

const PAGE = 1_000;
/** A connection this far past next_refresh_at without its job running is not merely a busy queue. */
const OVERDUE_GRACE_MS = 60_000;
/** Overdue jobs looked at per pass (each costs a couple of Redis calls; the next pass takes the rest). */
const OVERDUE_CHECKS_PER_PASS = 500;

export function jobOptions(connection: ScheduledConnection, now = Date.now()) {
  return {
    jobId: refreshJobId(connection.id, connection.version),
    delay: Math.max(0, (connection.nextRefreshAt?.getTime() ?? now) - now),
    // Kept completed/failed jobs would block re-adding the same id; Postgres keeps the history.
    removeOnComplete: true,
    removeOnFail: true,
  };
}

export function createRefreshScheduler(deps: {
  queue: Queue<RefreshJobData>;
  /** A plain (non-blocking) connection to the queue's Redis, for the reconciler's EXISTS pipeline. */
  redis: Redis;
  prisma: PrismaClient;
  log: Logger;
}): RefreshScheduler {
  function data(c: ScheduledConnection): RefreshJobData {
    return { connectionId: c.id, version: c.version, dueAt: (c.nextRefreshAt ?? new Date()).toISOString() };
  }
  // Every refresh schedules its successor: concurrent ones share one addBulk (one write to Redis).
  const add = createBatcher<ScheduledConnection, void>(
    async (connections) => {
      await deps.queue.addBulk(connections.map((c) => ({ name: 'refresh', data: data(c), opts: jobOptions(c) })));
      return connections.map(() => undefined);
    },
    { maxBatch: 100, maxInFlight: 2, keyOf: (c) => refreshJobId(c.id, c.version) },
  );
  return {
    async schedule(connection) {
      if (connection.status !== 'active') return;
      await add(connection);
    },
    async reconcile() {
      let checked = 0;
      let added = 0;
      let promoted = 0;
      let overdueChecks = 0;
      let cursor: string | undefined;
      for (;;) {
        const page = await deps.prisma.connection.findMany({
          where: { status: 'active' },
          select: { id: true, version: true, status: true, nextRefreshAt: true },
          orderBy: { id: 'asc' },
          take: PAGE,
          ...(cursor ? { skip: 1, cursor: { id: cursor } } : {}),
        });
        if (page.length === 0) break;
        cursor = page[page.length - 1]!.id;
        checked += page.length;
        const pipeline = deps.redis.pipeline();
        for (const c of page) pipeline.exists(deps.queue.toKey(refreshJobId(c.id, c.version)));
        const results = (await pipeline.exec()) ?? [];
        const missing = page.filter((_, i) => results[i]?.[1] === 0);
        if (missing.length) {
          await deps.queue.addBulk(
            missing.map((c) => ({ name: 'refresh', data: data(c), opts: jobOptions(c) })),
          );
          added += missing.length;
        }
        // Due and not running: a job that exists but is parked later than the row says.
        const overdueBefore = Date.now() - OVERDUE_GRACE_MS;
        const overdue = page.filter((c, i) => results[i]?.[1] === 1 && c.nextRefreshAt && c.nextRefreshAt.getTime() < overdueBefore);
        for (const c of overdue) {
          if (overdueChecks++ >= OVERDUE_CHECKS_PER_PASS) break;
          const job = await deps.queue.getJob(refreshJobId(c.id, c.version));
          if (job && (await job.getState()) === 'delayed' && job.timestamp + (job.opts.delay ?? 0) > Date.now()) {
            await job.promote().catch(() => undefined); // it may have fired meanwhile
            promoted++;
          }
        }
        if (page.length < PAGE) break;
      }
      if (added || promoted) deps.log.warn({ checked, added, promoted }, 'reconciler re-created missing refresh jobs or promoted overdue ones');
      return { checked, added, promoted };
    },
  };
}
