import type { PrismaClient } from '@lever-connect/db';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
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
   * from Redis (flushed, replaced, crash between commit and enqueue) gets one. Returns how many were added.
   */
  reconcile(): Promise<{ checked: number; added: number }>;
}

const PAGE = 1_000;

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
  return {
    async schedule(connection) {
      if (connection.status !== 'active') return;
      await deps.queue.add('refresh', data(connection), jobOptions(connection));
    },
    async reconcile() {
      let checked = 0;
      let added = 0;
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
        if (page.length < PAGE) break;
      }
      if (added) deps.log.warn({ checked, added }, 'reconciler re-created missing refresh jobs');
      return { checked, added };
    },
  };
}
