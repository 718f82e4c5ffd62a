// The shapes the console reads from the REST API (the OpenAPI document is the source; these are the fields used).

export type ConnectionStatus = 'active' | 'needs_reauth' | 'disconnected';
export type LeverEnvironment = 'sandbox' | 'production';

export interface Connection {
  id: string;
  tenant: { externalId: string };
  environment: LeverEnvironment;
  status: ConnectionStatus;
  leverAccountId: string;
  scopes: string[];
  accessTokenExpiresAt: string | null;
  refreshTokenIssuedAt: string | null;
  grantCreatedAt: string | null;
  grantExpiresAt: string | null;
  refreshTokenIdleExpiresAt: string | null;
  nextRefreshAt: string | null;
  lastRefreshedAt: string | null;
  lastRefreshFailedAt: string | null;
  lastRefreshError: string | null;
  refreshAttemptCount: number;
  reauthReason: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export interface DomainEvent {
  id: string;
  type: string;
  createdAt: string;
  data: { connection?: { reason?: string; status?: string } } & Record<string, unknown>;
}

export interface TokenRead {
  id: string;
  apiKeyId: string | null;
  requestId: string;
  refreshed: boolean;
  createdAt: string;
}

export interface Overview {
  generatedAt: string;
  connections: { total: number; byStatus: Array<{ status: ConnectionStatus; environment: LeverEnvironment; count: number }>; failing: number };
  refreshes: Array<{ hour: string; refreshed: number; failed: number; needsReauth: number }>;
  expiring: {
    withinDays: number;
    count: number;
    data: Array<{ id: string; tenant: { externalId: string }; environment: LeverEnvironment; leverAccountId: string; grantExpiresAt: string }>;
  };
  webhookEndpoints: {
    total: number;
    failing: number;
    disabled: number;
    data: Array<{ id: string; url: string; enabled: boolean; disabledReason: string | null; failingSince: string | null }>;
  } | null;
  leverRateLimited: Array<{ hour: string; count: number }> | null;
}

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  tenantExternalId: string | null;
  enabled: boolean;
  disabledReason: string | null;
  failingSince: string | null;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookDelivery {
  id: string;
  eventId: string;
  eventType: string | null;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  responseStatus: number | null;
  durationMs: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  createdAt: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  tenantExternalId: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** A Lever webhook subscription of a connection (GET /v1/connections/:id/lever-webhooks, where the server has it). */
export interface LeverWebhook {
  id: string;
  event: string;
  state: string;
  leverWebhookId: string | null;
  failureReason: string | null;
  lastEventAt: string | null;
}

/** Who is signed in: what the console session answers (never the key itself). */
export interface Principal {
  apiKeyId: string;
  apiKeyPrefix: string;
  tenantExternalId: string | null;
  admin: boolean;
}

export interface SessionInfo {
  csrfToken: string;
  principal: Principal;
  idleTimeoutSeconds: number;
}
