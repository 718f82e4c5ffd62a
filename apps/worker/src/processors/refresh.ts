import { observeRefresh, type Core, type RefreshResult, type SweepJobData, type SweepTally } from '@lever-connect/connections';
import { DelayedError, type Job } from 'bullmq';

/** With refreshes switched off or fenced, the sweep looks again this much later. */
const PAUSED_RECHECK_MS = 60_000;
/** Helpers one wake-up may ask for (each brings one more process into a large backlog). */
const MAX_HELPERS = 8;
/** Sweeps in a row that may find the schedule still due (rows that fell due while one ran). */
const MAX_PASSES = 5;

/**
 * A sweep wake-up (scheduler.ts): claims and refreshes whatever is due (refresh-sweep.ts), then arms the
 * next wake-up at the earliest due time. Retries are rows' own next_refresh_at; this job is only moved
 * later when the sweep itself cannot run (switched off, fenced, a dependency away). Jobs of the earlier
 * design (one per connection, name 'refresh') are treated as wake-ups too, so an upgrade loses nothing.
 */
export function createSweepProcessor(core: Pick<Core, 'sweep' | 'scheduler' | 'fence' | 'config' | 'log' | 'metrics'>, signal: AbortSignal) {
  async function later(job: Job<SweepJobData>, token: string | undefined, delayMs: number): Promise<never> {
    await job.moveToDelayed(Date.now() + delayMs, token);
    // Tells BullMQ the job was moved, not completed (it must not be removed).
    throw new DelayedError();
  }

  /** A sweep that cannot start still counts as a scheduled attempt, so the kill-switch and fence alerts see it. */
  function paused(job: Job<SweepJobData>, token: string | undefined, result: RefreshResult, delayMs: number): Promise<never> {
    observeRefresh(core.metrics, result, 'schedule', 0);
    return later(job, token, delayMs);
  }

  return async function processSweep(job: Job<SweepJobData>, token?: string): Promise<SweepTally> {
    if (!core.config.refresh.enabled) return paused(job, token, { outcome: 'disabled' }, PAUSED_RECHECK_MS);
    let owner: boolean;
    try {
      owner = await core.fence.isOwner();
    } catch {
      return paused(job, token, { outcome: 'unavailable', dependency: 'database', retryInMs: 5_000 }, 5_000);
    }
    if (!owner) return paused(job, token, { outcome: 'fenced' }, PAUSED_RECHECK_MS);

    const helper = job.name === 'sweep' ? job.data.helper : 0;
    const dueAt = job.name === 'sweep' ? new Date(job.data.dueAt) : new Date();
    const total: SweepTally = { claimed: 0, outcomes: {} };
    for (let pass = 1; ; pass++) {
      const report = await core.sweep.run({
        signal,
        tally: total,
        onBacklog: () => {
          if (helper >= MAX_HELPERS) return;
          void core.scheduler.addHelper(dueAt, helper + 1).catch((err: unknown) => core.log.warn({ err }, 'could not ask for a sweep helper'));
        },
      });
      if (report.stoppedBy?.reason === 'signal') {
        // Shutting down: leave the wake-up for another process (or this one's successor).
        return later(job, token, 1_000);
      }
      if (report.stoppedBy) {
        core.log.warn({ stoppedBy: report.stoppedBy, claimed: report.claimed }, 'refresh sweep paused');
        return later(job, token, report.stoppedBy.retryInMs);
      }
      let next: Date | null;
      try {
        next = await core.scheduler.nextDue();
      } catch (err) {
        core.log.warn({ err }, 'could not read the next due time; the sweep retries');
        return later(job, token, 5_000);
      }
      if (next && next.getTime() <= Date.now() && pass < MAX_PASSES) continue;
      // The chain: the next wake-up at the earliest due time (still due after MAX_PASSES: a second from now).
      if (next) {
        await core.scheduler
          .wakeAt(next.getTime() <= Date.now() ? new Date(Date.now() + 1_000) : next)
          .catch((err: unknown) => core.log.warn({ err }, 'could not arm the next sweep; the reconciler will'));
      }
      return total;
    }
  };
}
