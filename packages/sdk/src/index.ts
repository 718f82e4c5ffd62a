export {
  LeverConnect,
  type AccessToken,
  type ApiKey,
  type ApiKeyCreate,
  type Connection,
  type ConnectionListQuery,
  type ConnectSession,
  type ConnectSessionCreate,
  type DeliveryListQuery,
  type Event,
  type EventListQuery,
  type LeverConnectOptions,
  type RotateSecretOptions,
  type Tenant,
  type TenantListQuery,
  type TenantWithConnections,
  type TokenRead,
  type TokenReadListQuery,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEndpointCreate,
  type WebhookEndpointUpdate,
} from './client.js';
export {
  ConflictError,
  ForbiddenError,
  LeverConnectError,
  NeedsReauthError,
  NetworkError,
  NotFoundError,
  RateLimitedError,
  RetryLaterError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
} from './errors.js';
export { LeverApiError, type LeverCallOptions, type LeverClient, type LeverPage } from './lever.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
export type { components, paths } from './generated/api.js';
export { verifyWebhook, WebhookVerificationError, type VerifyOptions } from './webhook-verify.js';
