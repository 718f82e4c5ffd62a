import type { Core } from '@lever-connect/connections';
import { LEVER_WEBHOOKS_DAILY_SCHEDULER_ID, QUEUE_NAMES, type LeverWebhooksJobData } from '@lever-connect/runtime';
import { Worker } from 'bullmq';

const DAY_MS = 24 * 3600 * 1000;

/**
 * Lever webhook subscriptions: a job per connection after connect (reconcile.ts: create, re-enable, delete
 * strays, through the account's budget; a failure is retried by BullMQ with backoff), and once a day a pass
 * that queues every connection with webhooks, so what Lever disabled silently comes back.
 */
export async function startLeverWebhookWorkers(core: Core): Promise<{ close(): Promise<void> }> {
  const { config, log, queueRedis: connection } = core;
  const prefix = config.redisPrefix;
  const wlog = log.child({ component: 'lever-webhooks' });
  const worker = new Worker<LeverWebhooksJobData>(
    QUEUE_NAMES.leverWebhooks,
    async (job) => {
      // The deployment fence covers Lever's webhooks API too: a copy of this database must not call Lever.
      if (!(await core.fence.isOwner())) return { fenced: true };
      if (job.data.connectionId) return core.leverWebhooks.reconcile(job.data.connectionId).then((r) => ({ ...r, subscriptions: r.subscriptions.length }));
      const ids = await core.leverWebhooks.connectionsToReconcile();
      for (const id of ids) await core.leverWebhooks.requestReconcile(id);
      return { queued: ids.length };
    },
    { connection, prefix, concurrency: 4 },
  );
  worker.on('error', (err) => wlog.warn({ err: { message: err.message } }, 'lever webhooks worker error'));
  worker.on('failed', (job, err) => wlog.warn({ jobId: job?.id, attemptsMade: job?.attemptsMade, err: { message: err.message } }, 'lever webhooks job failed; retried'));
  await core.leverWebhooksQueue
    .upsertJobScheduler(LEVER_WEBHOOKS_DAILY_SCHEDULER_ID, { every: DAY_MS }, { name: 'reconcile-all', data: {}, opts: { removeOnComplete: true, removeOnFail: true } })
    .catch((err: Error) => wlog.warn({ err: { message: err.message } }, 'could not schedule the daily Lever webhooks pass (Redis down?)'));
  return {
    async close() {
      await worker.close();
    },
  };
}
