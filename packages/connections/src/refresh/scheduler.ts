import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { ConnectionRepo } from '../store/connection-repo.js';
import { sweepJobId, type SweepJobData } from '@lever-connect/runtime';

export interface ScheduledConnection {
  id: string;
  version: number;
  status: string;
  nextRefreshAt: Date | null;
}

/**
 * The refresh schedule is next_refresh_at in Postgres; Redis only holds wake-ups for the sweep
 * (sweep.ts), one BullMQ delayed job per second that something falls due in, whatever the number
 * of connections. Every sweep ends by arming the next one at the earliest due time (the chain); schedule()
 * arms one when a connection becomes due sooner than that (connect, a refresh outside the sweep); and the
 * reconciler re-arms the chain when Redis lost it (a flush, a crash between a write and its wake-up).
 */
export interface RefreshScheduler {
  /** Makes sure a sweep runs by this connection's next_refresh_at. */
  schedule(connection: ScheduledConnection): Promise<void>;
  /**
   * Arms a sweep wake-up for `at` (rounded up to its second; at once when past). `force` skips this
   * process's memory of what it armed (the reconciler: Redis may have lost it).
   */
  wakeAt(at: Date, options?: { force?: boolean }): Promise<void>;
  /** Asks for the k-th helper of a sweep armed for `second`: another process joins in (a backlog). */
  addHelper(dueAt: Date, helper: number): Promise<void>;
  /**
   * When the next sweep must run: the earliest time an active connection is due and its lease free;
   * null when none is scheduled.
   */
  nextDue(): Promise<Date | null>;
  /**
   * Re-derives the schedule from Postgres: arms a wake-up for nextDue(). Also makes sure the planner has
   * statistics for connections (repo.ensureStatistics), which the sweep's claims depend on.
   */
  reconcile(): Promise<{ nextDueAt: Date | null }>;
}

/** Rows looked at for the earliest claimable due time (the earliest due ones may be leased). */
const NEXT_DUE_SCAN = 100;

const JOB_OPTIONS = {
  // Completed wake-ups would block re-arming the same second; Postgres keeps the history.
  removeOnComplete: true,
  removeOnFail: true,
} as const;

export function createRefreshScheduler(deps: {
  queue: Queue<SweepJobData>;
  repo: Pick<ConnectionRepo, 'ensureStatistics' | 'earliestDue'>;
  log: Logger;
}): RefreshScheduler {
  /** Seconds this process armed that have not come yet: re-arming them would be a Redis call for nothing. */
  const armed = new Map<number, number>();

  function forget(nowMs: number) {
    for (const [second] of armed) if (second * 1000 < nowMs) armed.delete(second);
  }

  async function wakeAt(at: Date, { force = false } = {}) {
    const nowMs = Date.now();
    // A future time wakes at its second, rounded up; a past one at once, under the id of the second that
    // already began. So a wake-up armed by a running sweep for any later instant never has the running
    // one's id (BullMQ would ignore it): that one was armed for a second at or before now.
    const past = at.getTime() <= nowMs;
    const second = past ? Math.floor(nowMs / 1000) : Math.ceil(at.getTime() / 1000);
    // Past wake-ups are never cached: the caller needs one now.
    const future = !past;
    if (future && !force && armed.has(second)) return;
    await deps.queue.add('sweep', { dueAt: new Date(second * 1000).toISOString(), helper: 0 }, { ...JOB_OPTIONS, jobId: sweepJobId(second), delay: Math.max(0, second * 1000 - nowMs) });
    if (future) {
      if (armed.size > 10_000) forget(nowMs);
      armed.set(second, nowMs);
    }
  }

  async function nextDue(): Promise<Date | null> {
    const rows = await deps.repo.earliestDue(NEXT_DUE_SCAN);
    let earliest: number | null = null;
    for (const row of rows) {
      // A leased row is due again when its holder's lease runs out (a holder that lives writes before that).
      const at = row.leased && row.leaseExpiresAt ? Math.max(row.nextRefreshAt.getTime(), row.leaseExpiresAt.getTime()) : row.nextRefreshAt.getTime();
      if (earliest === null || at < earliest) earliest = at;
    }
    return earliest === null ? null : new Date(earliest);
  }

  return {
    async schedule(connection) {
      if (connection.status !== 'active' || !connection.nextRefreshAt) return;
      await wakeAt(connection.nextRefreshAt);
    },
    wakeAt,
    async addHelper(dueAt, helper) {
      const second = Math.ceil(dueAt.getTime() / 1000);
      await deps.queue.add('sweep', { dueAt: dueAt.toISOString(), helper }, { ...JOB_OPTIONS, jobId: sweepJobId(second, helper) });
    },
    nextDue,
    async reconcile() {
      if (await deps.repo.ensureStatistics()) deps.log.warn('connections had no planner statistics: analyzed it (is autovacuum running?)');
      const next = await nextDue();
      if (next) await wakeAt(next, { force: true });
      return { nextDueAt: next };
    },
  };
}
