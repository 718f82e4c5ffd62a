export { EVENT_TYPES, isEventType, LEVER_EVENT_TYPES, type EventType } from './event-types.js';
export { createHttpMetrics, type HttpMetrics } from './http-metrics.js';
export { createLogger, formatLogObject, redactSecrets, redactUrl } from './logger.js';
export { createMetrics, type Metrics } from './metrics.js';
export {
  LEVER_WEBHOOKS_DAILY_SCHEDULER_ID,
  QUEUE_NAMES,
  RECONCILE_SCHEDULER_ID,
  sweepJobId,
  type LeverWebhooksJobData,
  type MaintenanceJobName,
  type SweepJobData,
} from './queues.js';
export { createRedis } from './redis.js';
