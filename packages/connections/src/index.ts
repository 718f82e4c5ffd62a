// The domain: connect (connect/), refresh (refresh/), token reads (tokens/), storage (store/), and what API
// keys may see and do (access/). core.ts composes them. README.md says where to start reading.
export { createApiKeyService, principalOf, type ApiKeyService, type ApiPrincipal } from './access/api-keys.js';
export { createConsoleSessions, type ConsoleSession, type ConsoleSessionPolicy, type ConsoleSessions } from './access/console-sessions.js';
export { allows, isScope, SCOPES, scopesForNewKey, TENANT_FULL_SET, type Scope } from './access/scopes.js';
export { createConnectionActions, type ConnectionActions } from './access/connection-actions.js';
export {
  CONNECTION_CURSOR_PATTERN,
  createConnectionReads,
  encodeConnectionCursor,
  type ConnectionListQuery,
  type ConnectionReads,
} from './access/connection-reads.js';
export { createEventReads, type EventReads } from './access/event-reads.js';
export { createOverviewReads, type Overview, type OverviewReads, type RefreshHour } from './access/overview.js';
export { createTenantReads, type TenantReads } from './access/tenant-reads.js';
export { upsertTenant } from './access/tenants.js';
export { createQuotas, quotaExceeded, type ProxyCaller, type QuotaGate, type QuotaPolicy, type Quotas, type QuotasConfig } from './access/quotas.js';
export { EVERY_TENANT, sees, type Viewer } from './access/viewer.js';
export type { CallbackInput, CallbackOutcome, CallbackResult, CodeExchange } from './connect/callback.js';
export { ConnectFlowError } from './connect/errors.js';
export type { OAuthState } from './connect/oauth-state.js';
export { createConnectService, type ConnectService, type ConnectServiceDeps } from './connect/service.js';
export type { ConnectResult, CreateConnectSessionInput } from './connect/sessions.js';
export { createCore, type Core } from './core.js';
export { readCreatedWebhook, readDelivery, readWebhookPage, type LeverDelivery, type LeverWebhook } from './lever-webhooks/lever-api-shapes.js';
export { LeverWebhookMalformedError, type ReceiveOutcome, type RejectReason } from './lever-webhooks/receive.js';
export type { ReconcileReport } from './lever-webhooks/reconcile.js';
export { createLeverWebhooks, type LeverWebhooks, type LeverWebhookView } from './lever-webhooks/service.js';
export { leverSignatureValid } from './lever-webhooks/signature.js';
export { subscriptionCiphertexts, type LeverWebhookSubscription, type SubscriptionState } from './lever-webhooks/subscription-store.js';
export { createAccountBudget, type AccountBudget, type BudgetClass, type Gate, type Reservation } from './proxy/budget.js';
export { budgetClassesFor } from './proxy/classes.js';
export { backoffWithJitter, decide, retryAfterMs, type AttemptOutcome, type Verdict } from './proxy/decide.js';
export { headersFromLever, headersToLever } from './proxy/headers.js';
export { checkProxyPath, ProxyPathInvalidError } from './proxy/path.js';
export { createHourlyCounter, lastHourStarts, type HourCount, type HourlyCounter } from './proxy/hourly-counter.js';
export { createLeverProxy, type LeverProxy, type ProxyAnswer, type ProxyRequest, type ReplayableBody } from './proxy/proxy.js';
export { refreshLeaseTtlMs, type RefresherDeps } from './refresh/context.js';
export { createDeploymentFence, type DeploymentFence } from './refresh/fence.js';
export { createConnectionLocks, LockBusyError, LockUnavailableError, type ConnectionLocks, type LockHandle } from './refresh/locks.js';
export { observeRefresh } from './refresh/observe.js';
export { createRefresher } from './refresh/refresh.js';
export { backoffMs, effectiveLeadMs, grantExpiresAt, isRefreshDue, nextRefreshAt } from './refresh/schedule.js';
export { createRefreshScheduler, type RefreshScheduler, type ScheduledConnection } from './refresh/scheduler.js';
export { createResponseStash, stashCiphertexts, type PendingTokens, type ResponseStash } from './refresh/stash.js';
export {
  createRefreshSweep,
  type RefreshSweep,
  type SweepReport,
  type SweepRunOptions,
  type SweepTally,
  type WakeOutcome,
  type WakeUp,
} from './refresh/sweep.js';
export type { ClaimedConnection, Refresher, RefreshOptions, RefreshResult, RefreshTrigger } from './refresh/types.js';
export { connectionEventData, writeConnectionEvent } from './store/connection-events.js';
export { connectionCiphertexts, createConnectionRepo, type ConnectionRepo, type ConnectionWithTenant } from './store/connection-repo.js';
export { sampleGauges } from './store/gauges.js';
export { createInvalidationBus, type InvalidationBus, type InvalidationTopic } from './tokens/invalidation.js';
export { createTokenAudit, type TokenAudit, type TokenReadRecord } from './tokens/token-audit.js';
export { createTokenService, type AccessTokenGrant, type TokenService } from './tokens/token-service.js';
