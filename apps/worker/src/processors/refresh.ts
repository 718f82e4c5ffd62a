import type { Core, RefreshJobData, RefreshResult } from '@lever-connect/connections';
import { DelayedError, type Job } from 'bullmq';

/** How long to wait before looking again at a connection another process is refreshing. */
const BUSY_RECHECK_MS = 5_000;
/** With refreshes switched off or fenced, jobs keep their schedule and look again later. */
const PAUSED_RECHECK_MS = 60_000;

/**
 * The refresh job: one call into the domain, then decide what happens to the job. Retries are the domain's
 * decision (backoff computed from Lever's answer), expressed by moving this same job back to delayed.
 */
export function createRefreshProcessor(core: Pick<Core, 'refresher' | 'repo' | 'scheduler' | 'log' | 'metrics'>) {
  async function later(job: Job<RefreshJobData>, token: string | undefined, delayMs: number): Promise<never> {
    await job.moveToDelayed(Date.now() + delayMs, token);
    // Tells BullMQ the job was moved, not completed (it must not be removed).
    throw new DelayedError();
  }

  /** Re-arms the schedule for the connection's current generation. */
  async function rearm(job: Job<RefreshJobData>, token: string | undefined, delayMs: number): Promise<void> {
    const connection = await core.repo.findById(job.data.connectionId);
    if (!connection || connection.status !== 'active') return;
    if (connection.version === job.data.version) return later(job, token, delayMs);
    // A newer generation exists (refreshed elsewhere, reconnected): make sure its job exists; this one ends.
    await core.scheduler.schedule(connection);
  }

  return async function processRefresh(job: Job<RefreshJobData>, token?: string): Promise<RefreshResult['outcome']> {
    const lagMs = Date.now() - Date.parse(job.data.dueAt);
    // Only the first run of a job measures schedule lag (re-runs after a backoff were due later).
    if (job.attemptsStarted <= 1) core.metrics.scheduleLag.observe(Math.max(0, lagMs) / 1000);
    const log = core.log.child({ connectionId: job.data.connectionId, jobId: job.id });
    const result = await core.refresher.refresh(job.data.connectionId, { trigger: 'schedule' });
    log.debug({ outcome: result.outcome, lagMs }, 'refresh job');
    switch (result.outcome) {
      case 'refreshed':
        log.info({ outcome: 'refreshed', lagMs }, 'refresh done');
        return result.outcome; // the refresher scheduled the next generation
      case 'not_due': {
        const next = result.connection.nextRefreshAt?.getTime() ?? Date.now() + BUSY_RECHECK_MS;
        await rearm(job, token, Math.max(1_000, next - Date.now()));
        return result.outcome;
      }
      case 'busy':
        await rearm(job, token, BUSY_RECHECK_MS);
        return result.outcome;
      case 'failed':
        log.warn({ outcome: 'failed', reason: result.failure.reason, kind: result.failure.kind, retryInMs: result.retryInMs }, 'refresh failed; will retry');
        return later(job, token, result.retryInMs);
      case 'throttled':
        // Over the global Lever budget (refresh on read took slots): try again in the next windows.
        return later(job, token, result.retryInMs);
      case 'unavailable':
        log.warn({ dependency: result.dependency, retryInMs: result.retryInMs }, 'refresh postponed: dependency unavailable');
        return later(job, token, result.retryInMs);
      case 'disabled':
      case 'fenced':
        return later(job, token, PAUSED_RECHECK_MS);
      case 'needs_reauth':
        log.warn({ outcome: 'needs_reauth', reason: result.reason }, 'connection needs re-authorization');
        return result.outcome;
      case 'inactive':
      case 'not_found':
        return result.outcome;
    }
  };
}
