import type { Core } from '@lever-connect/connections';
import { QUEUE_NAMES, RECONCILE_SCHEDULER_ID, type SweepJobData } from '@lever-connect/runtime';
import { Queue, Worker } from 'bullmq';
import { createSweepProcessor } from './processors/sweep.js';
import { startLeverWebhookWorkers } from './lever-webhooks.js';
import { startWebhookWorkers } from './webhooks.js';

/**
 * Starts this process's BullMQ workers: refresh sweeps (each refresh takes a slot of the global Lever budget,
 * so a backlog after an outage drains steadily) and the reconciler, which re-arms the sweep from Postgres.
 */
export async function startWorkers(core: Core) {
  const { config, log, queueRedis } = core;
  const connection = queueRedis;
  const prefix = config.redisPrefix;

  // Sweeps stop claiming when the process shuts down; the refreshes they started finish (SIGTERM safety).
  const stopping = new AbortController();
  const refreshWorker = new Worker<SweepJobData>(QUEUE_NAMES.refresh, createSweepProcessor(core.sweep, stopping.signal), {
    connection,
    prefix,
    // One sweep at a time per process (it runs REFRESH_CONCURRENCY refreshes itself); a wake-up that comes
    // while it runs goes to another process, which then joins in (SKIP LOCKED claims keep them disjoint).
    concurrency: 1,
    // BullMQ renews a running job's lock every lockDuration / 2; kept short so that a SIGKILLed worker's
    // sweep is run again by another process within ~20 s (its claimed rows' leases expire on their own).
    lockDuration: 15_000,
    stalledInterval: 5_000,
    maxStalledCount: 1_000_000, // a stalled sweep is re-run, never failed: the domain is idempotent
    autorun: true,
  });
  refreshWorker.on('error', (err) => log.warn({ err: { message: err.message } }, 'refresh worker error'));
  refreshWorker.on('failed', (job, err) => log.error({ jobId: job?.id, err }, 'refresh sweep failed unexpectedly'));

  const maintenance = new Queue(QUEUE_NAMES.maintenance, { connection, prefix });
  maintenance.on('error', () => undefined);
  const maintenanceWorker = new Worker(
    QUEUE_NAMES.maintenance,
    async (job) => {
      if (job.name === 'reconcile') return core.scheduler.reconcile();
      return undefined;
    },
    { connection, prefix, concurrency: 1 },
  );
  maintenanceWorker.on('error', (err) => log.warn({ err: { message: err.message } }, 'maintenance worker error'));

  const everyMs = config.refresh.reconcileIntervalSeconds * 1000;
  /**
   * (Re)creates the reconciler's job scheduler. A FLUSHALL deletes it without any reconnect, so this runs
   * at start, after every reconnect, and on a short timer; if the scheduler was missing, a reconcile runs
   * at once so a flushed Redis is back on schedule well within a minute.
   */
  async function ensureReconciler() {
    try {
      const existing = await maintenance.getJobScheduler(RECONCILE_SCHEDULER_ID);
      if (existing) return;
      await maintenance.upsertJobScheduler(RECONCILE_SCHEDULER_ID, { every: everyMs }, { name: 'reconcile', opts: { removeOnComplete: true, removeOnFail: true } });
      await maintenance.add('reconcile', {}, { jobId: `reconcile-now-${Math.floor(Date.now() / 10_000)}`, removeOnComplete: true, removeOnFail: true });
      log.info({ everyMs }, 'reconciler scheduled');
    } catch (err) {
      log.warn({ err: { message: (err as Error).message } }, 'could not ensure the reconciler (Redis down?)');
    }
  }
  await ensureReconciler();
  const timer = setInterval(() => void ensureReconciler(), Math.min(10_000, everyMs));
  timer.unref();
  const onReady = () => void ensureReconciler();
  connection.on('ready', onReady);

  const webhooks = await startWebhookWorkers(core);
  const leverWebhooks = await startLeverWebhookWorkers(core);

  return {
    refreshWorker,
    maintenanceWorker,
    maintenance,
    async close() {
      clearInterval(timer);
      connection.off('ready', onReady);
      stopping.abort();
      // Stop taking jobs and wait for running ones: refreshes in flight finish and persist (SIGTERM safety).
      await Promise.all([refreshWorker.close(), maintenanceWorker.close(), webhooks.close(), leverWebhooks.close()]);
      await maintenance.close();
    },
  };
}
