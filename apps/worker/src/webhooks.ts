import type { Core } from '@lever-connect/connections';
import {
  createDeliverer,
  createOutboxRelay,
  createWebhookQueue,
  startOutboxPump,
  WEBHOOK_QUEUE_NAME,
  type DelivererDeps,
  type WebhookJobData,
} from '@lever-connect/webhooks';
import { Worker } from 'bullmq';
import { createWebhookDeliveryProcessor } from './processors/webhook-delivery.js';

/** Knobs for tests; production uses the defaults. */
export interface WebhookWorkerOptions {
  relayIntervalMs?: number;
  sweepIntervalMs?: number;
  sweepGraceMs?: number;
  /** Per-attempt timeout, ms (default 10 s). */
  timeoutMs?: number;
  /** BullMQ job lock; a crashed worker's job is re-run after about this long (default 30 s). */
  lockDurationMs?: number;
  fetch?: DelivererDeps['fetch'];
  lookup?: DelivererDeps['lookup'];
}

/**
 * Starts the outbox relay (Postgres → deliveries → queue), the sweep for deliveries whose job was lost,
 * and the delivery worker. Safe to run in any number of processes.
 */
export async function startWebhookWorkers(core: Core, options: WebhookWorkerOptions = {}): Promise<{ close(): Promise<void>; kill(): Promise<void> }> {
  const { config, log, prisma, cipher, queueRedis: connection } = core;
  const prefix = config.redisPrefix;
  const wlog = log.child({ component: 'webhooks' });

  const queue = createWebhookQueue(connection, prefix);
  queue.on('error', (err) => wlog.warn({ err: { message: err.message } }, 'webhook queue error'));

  const deliverer = createDeliverer({
    prisma,
    cipher,
    config,
    log: wlog,
    onAttempt: (outcome) => core.metrics.webhookDeliveries.inc({ outcome }),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.lookup ? { lookup: options.lookup } : {}),
  });
  // The deployment fence covers webhooks too: a copy of this database must not re-send pending deliveries.
  const mayRun = () => core.fence.isOwner();
  const worker = new Worker<WebhookJobData>(WEBHOOK_QUEUE_NAME, createWebhookDeliveryProcessor(deliverer, mayRun), {
    connection,
    prefix,
    concurrency: config.webhooks.concurrency,
    lockDuration: options.lockDurationMs ?? 30_000,
    ...(options.lockDurationMs ? { stalledInterval: options.lockDurationMs } : {}),
    // A stalled delivery is re-run, never failed: the row's attempt fence makes a second run harmless.
    maxStalledCount: 1_000_000,
  });
  worker.on('error', (err) => wlog.warn({ err: { message: err.message } }, 'webhook worker error'));
  worker.on('failed', (job, err) => wlog.error({ jobId: job?.id, err }, 'webhook job failed unexpectedly'));

  const pump = startOutboxPump({
    relay: createOutboxRelay({
      database: core.database,
      onFannedOut: (byType) => {
        const lever = Object.entries(byType).reduce((n, [type, count]) => (type.startsWith('lever.') ? n + count : n), 0);
        if (lever > 0) core.metrics.leverWebhooksForwarded.inc(lever);
      },
    }),
    queue,
    log: wlog,
    mayRun,
    ...(options.relayIntervalMs ? { relayIntervalMs: options.relayIntervalMs } : {}),
    ...(options.sweepIntervalMs ? { sweepIntervalMs: options.sweepIntervalMs } : {}),
    ...(options.sweepGraceMs !== undefined ? { sweepGraceMs: options.sweepGraceMs } : {}),
  });
  await pump.started;

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        await pump.stop();
        // Waits for attempts in flight, so their outcome is recorded (SIGTERM safety).
        await worker.close();
        await queue.close();
      })();
      return closing;
    },
    /** Stops at once without waiting for attempts in flight, as a crash would (tests). */
    async kill() {
      closing ??= (async () => {
        await pump.stop();
        await worker.close(true);
        await queue.close();
      })();
      await closing;
    },
  };
}
