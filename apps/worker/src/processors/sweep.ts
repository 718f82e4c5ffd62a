import type { RefreshSweep, SweepTally } from '@lever-connect/connections';
import type { SweepJobData } from '@lever-connect/runtime';
import { DelayedError, type Job } from 'bullmq';

/**
 * A sweep wake-up job → `sweep.wake` (packages/connections/src/refresh/sweep.ts), which decides everything:
 * whether the sweep may run, what to claim, when the next wake-up is. This maps its outcome to BullMQ: done,
 * or the job moved later when the sweep could not run. Jobs of the earlier design (one per connection, name
 * 'refresh') are treated as wake-ups too, so an upgrade loses nothing.
 */
export function createSweepProcessor(sweep: Pick<RefreshSweep, 'wake'>, signal: AbortSignal) {
  return async function processSweep(job: Job<SweepJobData>, token?: string): Promise<SweepTally> {
    const wakeUp = job.name === 'sweep' ? { dueAt: new Date(job.data.dueAt), helper: job.data.helper } : { dueAt: new Date(), helper: 0 };
    const outcome = await sweep.wake(wakeUp, signal);
    if (outcome.kind === 'done') return outcome.tally;
    await job.moveToDelayed(Date.now() + outcome.delayMs, token);
    // Tells BullMQ the job was moved, not completed (it must not be removed).
    throw new DelayedError();
  };
}
