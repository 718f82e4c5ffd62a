import type { Deliverer, DeliveryOutcome, WebhookJobData } from '@lever-connect/webhooks';
import { DelayedError, type Job } from 'bullmq';

/**
 * The webhook job: one attempt through the domain, which records it in the row and decides what comes next.
 * A retry moves this same job (same id) back to delayed until the row's next attempt time.
 */
/** A fenced-off process looks again this much later (the rows keep their state meanwhile). */
const FENCED_RECHECK_MS = 60_000;

export function createWebhookDeliveryProcessor(deliverer: Pick<Deliverer, 'deliver'>, mayRun: () => Promise<boolean> = async () => true) {
  return async function processWebhookDelivery(job: Job<WebhookJobData>, token?: string): Promise<DeliveryOutcome['outcome'] | 'fenced'> {
    if (!(await mayRun().catch(() => false))) {
      await job.moveToDelayed(Date.now() + FENCED_RECHECK_MS, token);
      throw new DelayedError();
    }
    const result = await deliverer.deliver(job.data.deliveryId);
    if (result.outcome === 'retry' || result.outcome === 'not_due') {
      await job.moveToDelayed(Math.max(Date.now(), result.nextAttemptAt.getTime()), token);
      throw new DelayedError();
    }
    return result.outcome;
  };
}
