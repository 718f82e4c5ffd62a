/**
 * Every BullMQ queue, its job names and payloads, in one place. BullMQ job ids may not contain ':'.
 */
export const QUEUE_NAMES = {
  refresh: 'refresh',
  maintenance: 'maintenance',
  /** Webhook deliveries (packages/webhooks owns its jobs; the name lives here so every process can watch it). */
  webhooks: 'webhooks',
} as const;

export interface RefreshJobData {
  connectionId: string;
  /**
   * The connection version the job was scheduled for. Job ids are per generation
   * (`refresh-<id>-v<version>`): BullMQ silently ignores adding an id that still exists, including the
   * running job, so the next generation must have a new id.
   */
  version: number;
  /** When the refresh was due (for the schedule-lag metric). */
  dueAt: string;
}

export type MaintenanceJobName = 'reconcile';

export function refreshJobId(connectionId: string, version: number): string {
  return `refresh-${connectionId}-v${version}`;
}

export const RECONCILE_SCHEDULER_ID = 'reconcile';
