export { EVENT_TYPES, isEventType, type EventType } from './event-types.js';
export { createHttpMetrics, type HttpMetrics } from './http-metrics.js';
export { createLogger, redactUrl, REDACT_PATHS } from './logger.js';
export { createMetrics, type Metrics } from './metrics.js';
export { QUEUE_NAMES, RECONCILE_SCHEDULER_ID, sweepJobId, type MaintenanceJobName, type SweepJobData } from './queues.js';
export { createRedis } from './redis.js';
