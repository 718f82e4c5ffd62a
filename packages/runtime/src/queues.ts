/**
 * Every BullMQ queue, its job names and payloads, in one place. BullMQ job ids may not contain ':'.
 */
export const QUEUE_NAMES = {
  /** Sweep wake-ups (scheduler.ts): the refresh schedule itself is next_refresh_at in Postgres. */
  refresh: 'refresh',
  maintenance: 'maintenance',
  /** Webhook deliveries (packages/webhooks owns its jobs; the name lives here so every process can watch it). */
  webhooks: 'webhooks',
  /** Lever webhook subscriptions: reconcile one connection's (after connect), or every connection's (daily). */
  leverWebhooks: 'lever-webhooks',
} as const;

export interface LeverWebhooksJobData {
  /** Absent for the daily pass over every connection. */
  connectionId?: string;
}

export const LEVER_WEBHOOKS_DAILY_SCHEDULER_ID = 'lever-webhooks-daily';

export interface SweepJobData {
  /** The second this wake-up was armed for (ISO): connections due by then are claimed when it runs. */
  dueAt: string;
  /** 0 for a wake-up; k for the k-th helper a sweep with more work than one process does asked for. */
  helper: number;
}

export type MaintenanceJobName = 'reconcile';

/** One wake-up per second, whoever arms it: adding an id that exists is a no-op in BullMQ. */
export function sweepJobId(second: number, helper = 0): string {
  return helper > 0 ? `sweep-${second}-h${helper}` : `sweep-${second}`;
}

export const RECONCILE_SCHEDULER_ID = 'reconcile';
