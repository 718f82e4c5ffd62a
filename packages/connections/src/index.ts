export { createApiKeyService, type ApiKeyService, type ApiPrincipal } from './api-keys.js';
export {
  ConnectFlowError,
  createConnectService,
  type ConnectResult,
  type ConnectService,
  type CreateConnectSessionInput,
  type OAuthState,
} from './connect.js';
export { createConnectionRepo, type ConnectionRepo, type ConnectionWithTenant } from './connection-repo.js';
export {
  connectionEventData,
  EVENT_TYPES,
  writeConnectionEvent,
  writeEvent,
  type EventType,
} from './events.js';
export { createDeploymentFence, type DeploymentFence } from './fence.js';
export {
  createConnectionLocks,
  LockBusyError,
  LockUnavailableError,
  type ConnectionLocks,
  type LockHandle,
} from './locks.js';
export { QUEUE_NAMES, RECONCILE_SCHEDULER_ID, sweepJobId, type SweepJobData } from './queues.js';
export { createRedis } from './redis.js';
export {
  createRefresher,
  refreshLeaseTtlMs,
  type ClaimedConnection,
  type Refresher,
  type RefresherDeps,
  type RefreshOptions,
  type RefreshResult,
  type RefreshTrigger,
} from './refresh.js';
export { createRefreshScheduler, type RefreshScheduler, type ScheduledConnection } from './scheduler.js';
export { createRefreshSweep, type RefreshSweep, type SweepReport, type SweepRunOptions, type SweepTally } from './refresh-sweep.js';
export { backoffMs, effectiveLeadMs, grantExpiresAt, isRefreshDue, nextRefreshAt } from './schedule.js';
export { createResponseStash, type PendingTokens, type ResponseStash } from './stash.js';
export { upsertTenant } from './tenants.js';
export { createTokenService, type AccessTokenGrant, type TokenService } from './token-service.js';
export { createCore, type Core } from './core.js';
export { disconnectConnections } from './lifecycle.js';
export { createTokenAudit, type TokenAudit, type TokenReadRecord } from './token-audit.js';
export { createMetrics, type Metrics } from './metrics.js';
export { observeRefresh, sampleGauges } from './refresh-metrics.js';
export { createLogger, redactUrl, REDACT_PATHS } from './logger.js';
export { createInvalidationBus, type InvalidationBus, type InvalidationTopic } from './invalidation.js';
