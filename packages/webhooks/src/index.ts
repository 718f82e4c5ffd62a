export { createDeliverer, DELIVERY_TIMEOUT_MS, type Deliverer, type DelivererDeps, type DeliveryOutcome } from './delivery.js';
export {
  createWebhookEndpointService,
  DEFAULT_OVERLAP_SECONDS,
  endpointCiphertexts,
  MAX_OVERLAP_SECONDS,
  type CreateEndpointInput,
  type DeliveryRecord,
  type UpdateEndpointInput,
  type WebhookEndpointRecord,
  type WebhookEndpointService,
  type WebhookEndpointServiceDeps,
} from './endpoints.js';
export { createGuardedAgent, guardedLookup } from './guarded-agent.js';
export { webhookBody, type WebhookPayload } from './payload.js';
export { startOutboxPump, type OutboxPump, type OutboxPumpOptions } from './pump.js';
export {
  createWebhookQueue,
  enqueueDeliveries,
  enqueueDeliveryNow,
  WEBHOOK_QUEUE_NAME,
  webhookJobId,
  type WebhookJobData,
  type WebhookQueue,
} from './queue.js';
export { createOutboxRelay, type OutboxRelay, type OutboxRelayDeps } from './relay.js';
export {
  decideAfterAttempt,
  describeFailure,
  failureRunGapMs,
  isSuccess,
  retryDelayMs,
  type AttemptDecision,
  type AttemptResult,
  type RetryPolicy,
} from './retry-policy.js';
export { generateWebhookSecret, sign, signedHeaders, type WebhookHeaders } from './signature.js';
export {
  DEFAULT_EVENT_TYPES,
  effectiveEventTypes,
  OPT_IN_EVENT_TYPES,
  endpointMatches,
  isEventType,
  isSubscribable,
  LEVER_WILDCARD,
  type RoutableEvent,
  type SubscribedEndpoint,
} from './subscriptions.js';
export {
  assertWebhookUrlAllowed,
  isPrivateAddress,
  lookupAll,
  parseAllowList,
  parseWebhookUrl,
  WebhookUrlNotAllowedError,
  type AllowList,
  type LookupAll,
  type ResolvedAddress,
  type UrlPolicy,
} from './url-policy.js';
