import { QUEUE_NAMES } from '@lever-connect/runtime';
import { Queue, type ConnectionOptions } from 'bullmq';

/** The BullMQ queue carrying webhook deliveries (prefix = REDIS_PREFIX). It only carries work: the rows are the truth. */
export const WEBHOOK_QUEUE_NAME = QUEUE_NAMES.webhooks;

export interface WebhookJobData {
  deliveryId: string;
}

/**
 * One job per delivery for its whole life: a retry moves the same job back to delayed. Adding an id that
 * exists is a no-op in BullMQ, which makes the relay and the sweep safe to repeat. (Ids may not contain ':'.)
 */
export const webhookJobId = (deliveryId: string) => `wh-${deliveryId}`;

export type WebhookQueue = Queue<WebhookJobData>;

/** Completed or failed jobs are removed so a later re-arm of the delivery can add its id again. */
const JOB_OPTIONS = {
  removeOnComplete: true,
  removeOnFail: true,
  // Unexpected errors (database down): a few quick retries, then the sweep takes over from the row.
  attempts: 3,
  backoff: { type: 'exponential', delay: 2_000 },
} as const;

/** Enqueues deliveries now (or at `at`); repeating it for a delivery already queued changes nothing. */
export async function enqueueDeliveries(queue: WebhookQueue, deliveryIds: readonly string[], at?: Date): Promise<void> {
  if (deliveryIds.length === 0) return;
  const delay = at ? Math.max(0, at.getTime() - Date.now()) : 0;
  await queue.addBulk(
    deliveryIds.map((deliveryId) => ({
      name: 'deliver',
      data: { deliveryId },
      opts: { ...JOB_OPTIONS, jobId: webhookJobId(deliveryId), delay },
    })),
  );
}

/** Brings a delivery's job forward to now: promotes it when it waits on a backoff, adds it when missing. */
export async function enqueueDeliveryNow(queue: WebhookQueue, deliveryId: string): Promise<void> {
  const job = await queue.getJob(webhookJobId(deliveryId));
  if (job && (await job.isDelayed())) {
    await job.promote().catch(() => undefined); // it may have just started: then it runs anyway
    return;
  }
  await enqueueDeliveries(queue, [deliveryId]);
}

/** The queue handle for producers (the api's test sends and retries, the worker's relay). */
export function createWebhookQueue(connection: ConnectionOptions, prefix: string): WebhookQueue {
  return new Queue<WebhookJobData>(WEBHOOK_QUEUE_NAME, { connection, prefix });
}
