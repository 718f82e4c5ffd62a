import createClient, { type Client } from 'openapi-fetch';
import { errorFromResponse } from './errors.js';
import type { components, paths } from './generated/api.js';
import { createLeverClient, type LeverClient } from './lever.js';
import { createRetryingFetch, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';

type Schemas = components['schemas'];
type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;

export type Connection = Schemas['Connection'];
export type Event = Schemas['Event'];
export type ApiKey = Schemas['ApiKey'];
export type WebhookEndpoint = Schemas['WebhookEndpoint'];
export type WebhookDelivery = Schemas['WebhookDelivery'];
export type AccessToken = Json<paths['/v1/connections/{id}/access-token']['get']['responses'][200]>;
export type TokenRead = Json<paths['/v1/connections/{id}/token-reads']['get']['responses'][200]>['data'][number];
export type Tenant = Json<paths['/v1/tenants']['get']['responses'][200]>['data'][number];
export type TenantWithConnections = Json<paths['/v1/tenants/{externalId}']['get']['responses'][200]>;
export type ConnectSession = Json<paths['/v1/connect-sessions']['post']['responses'][201]>;

export type ConnectionListQuery = NonNullable<paths['/v1/connections']['get']['parameters']['query']>;
export type TokenReadListQuery = NonNullable<paths['/v1/connections/{id}/token-reads']['get']['parameters']['query']>;
export type TenantListQuery = NonNullable<paths['/v1/tenants']['get']['parameters']['query']>;
export type EventListQuery = NonNullable<paths['/v1/events']['get']['parameters']['query']>;
export type DeliveryListQuery = NonNullable<paths['/v1/webhook-endpoints/{id}/deliveries']['get']['parameters']['query']>;
export type ConnectSessionCreate = Json<paths['/v1/connect-sessions']['post']['requestBody']>;
export type ApiKeyCreate = Json<paths['/v1/api-keys']['post']['requestBody']>;
export type WebhookEndpointCreate = Json<paths['/v1/webhook-endpoints']['post']['requestBody']>;
export type WebhookEndpointUpdate = Json<paths['/v1/webhook-endpoints/{id}']['patch']['requestBody']>;
export type RotateSecretOptions = NonNullable<Json<NonNullable<paths['/v1/webhook-endpoints/{id}/rotate-secret']['post']['requestBody']>>>;

export interface LeverConnectOptions {
  /** Where the api is served, e.g. `https://connect.example.com` (no `/v1`). */
  baseUrl: string;
  /** An `lc_...` API key; a tenant-scoped key sees only its tenant. */
  apiKey: string;
  /** A fetch implementation (default: the global one). Called with a `Request`. */
  fetch?: (request: Request) => Promise<Response>;
  /** Retries of idempotent calls on network errors, 429 and 5xx. Default 3; 0 disables. */
  retries?: number;
  /** Backoff and timeouts; see `RetryPolicy` for units and defaults. */
  retryPolicy?: Partial<Omit<RetryPolicy, 'retries'>>;
}

/** The calls that may be repeated safely: reads, deletes, and the coalesced refresh. */
function isIdempotent(request: Request): boolean {
  if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'DELETE') return true;
  return request.method === 'POST' && /\/v1\/connections\/[^/]+\/refresh$/.test(new URL(request.url).pathname);
}

/** openapi-fetch's result union, reduced to "the data or a typed error". */
async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw errorFromResponse(response, error);
  return data as T;
}

/** Pages through a cursor-paginated list until `nextCursor` is null. */
async function* paginate<T, Q extends object>(
  query: Q,
  page: (query: Q & { cursor?: string }) => Promise<{ data: T[]; nextCursor: string | null }>,
): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  do {
    const result = await page({ ...query, cursor });
    yield* result.data;
    cursor = result.nextCursor ?? undefined;
  } while (cursor);
}

/**
 * The lever-connect API, typed from its OpenAPI document. Every method resolves to the response body or
 * throws a `LeverConnectError` subclass (`NotFoundError`, `NeedsReauthError`, ...).
 *
 * ```ts
 * const lc = new LeverConnect({ baseUrl: 'https://connect.example.com', apiKey: process.env.LC_API_KEY! });
 * const { accessToken, apiBaseUrl } = await lc.connections.accessToken(connectionId);
 * ```
 */
export class LeverConnect {
  /** The underlying openapi-fetch client, for calls the resources below do not cover. */
  readonly client: Client<paths>;
  readonly #lever: { baseUrl: string; apiKey: string; fetch: (request: Request) => Promise<Response> };

  constructor(options: LeverConnectOptions) {
    if (!options.baseUrl) throw new TypeError('LeverConnect: baseUrl is required');
    if (!options.apiKey) throw new TypeError('LeverConnect: apiKey is required');
    const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retryPolicy, retries: options.retries ?? DEFAULT_RETRY_POLICY.retries };
    const baseFetch = options.fetch ?? ((request: Request) => globalThis.fetch(request));
    this.#lever = { baseUrl: options.baseUrl.replace(/\/+$/, ''), apiKey: options.apiKey, fetch: baseFetch };
    this.client = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      headers: { authorization: `Bearer ${options.apiKey}` },
      fetch: createRetryingFetch(baseFetch, policy, isIdempotent),
    });
  }

  readonly connections = {
    /** One page, newest first. */
    list: (query: ConnectionListQuery = {}) => unwrap(this.client.GET('/v1/connections', { params: { query } })),
    /** Every matching connection, page by page. */
    listAll: (query: Omit<ConnectionListQuery, 'cursor'> = {}) => paginate(query, (q) => this.connections.list(q)),
    get: (id: string) => unwrap(this.client.GET('/v1/connections/{id}', { params: { path: { id } } })),
    /** A valid Lever access token (refreshed by the api when close to expiry). Never cache it past `expiresAt`. */
    accessToken: (id: string, options: { forceRefresh?: boolean } = {}) =>
      unwrap(this.client.GET('/v1/connections/{id}/access-token', { params: { path: { id }, query: options } })),
    /** Refresh now (coalesced with a refresh already running); resolves to the updated connection. */
    refresh: (id: string) => unwrap(this.client.POST('/v1/connections/{id}/refresh', { params: { path: { id } } })),
    /** Disconnect: the api wipes the tokens and emits `connection.deleted`. Repeating it is harmless. */
    delete: async (id: string): Promise<void> => {
      await unwrap(this.client.DELETE('/v1/connections/{id}', { params: { path: { id } } }));
    },
    /** The connection's Lever webhooks (one per Lever event it subscribes to): state at Lever, last event. */
    leverWebhooks: (id: string) => unwrap(this.client.GET('/v1/connections/{id}/lever-webhooks', { params: { path: { id } } })),
    /** Makes Lever's webhooks of this connection match ours now (creates, re-enables, deletes strays). */
    reconcileLeverWebhooks: (id: string) => unwrap(this.client.POST('/v1/connections/{id}/lever-webhooks/reconcile', { params: { path: { id } } })),
    /** Who was handed this connection's access token, newest first (never the token). */
    tokenReads: (id: string, query: TokenReadListQuery = {}) =>
      unwrap(this.client.GET('/v1/connections/{id}/token-reads', { params: { path: { id }, query } })),
  };

  /**
   * Lever's API for one connection, through the api's proxy (one rate budget per Lever account, shared by
   * every caller; 429s, 5xx and early 401s absorbed there). Lever's own errors throw `LeverApiError`.
   *
   * ```ts
   * for await (const opportunity of lc.lever(connectionId).paginate('opportunities', { limit: 100 })) { ... }
   * await lc.lever(connectionId).put(`opportunities/${id}/stage`, { stage: stageId });
   * ```
   */
  lever(connectionId: string): LeverClient {
    return createLeverClient({ ...this.#lever, connectionId });
  }

  readonly connectSessions = {
    /** A single-use connect token and URL for one tenant's "Connect Lever" flow. Not retried. */
    create: (body: ConnectSessionCreate) => unwrap(this.client.POST('/v1/connect-sessions', { body })),
  };

  readonly tenants = {
    list: (query: TenantListQuery = {}) => unwrap(this.client.GET('/v1/tenants', { params: { query } })),
    listAll: (query: Omit<TenantListQuery, 'cursor'> = {}) => paginate(query, (q) => this.tenants.list(q)),
    /**
     * The tenant with its newest connections (at most 100), by your own id for it. When `connectionsTruncated`,
     * `connections.list({ tenant, cursor: connectionsNextCursor })` lists the rest.
     */
    get: (externalId: string) => unwrap(this.client.GET('/v1/tenants/{externalId}', { params: { path: { externalId } } })),
    /** Disconnects all of the tenant's connections. */
    delete: (externalId: string) => unwrap(this.client.DELETE('/v1/tenants/{externalId}', { params: { path: { externalId } } })),
  };

  readonly events = {
    /** Domain events, newest first: the payloads the webhooks send. */
    list: (query: EventListQuery = {}) => unwrap(this.client.GET('/v1/events', { params: { query } })),
    listAll: (query: Omit<EventListQuery, 'cursor'> = {}) => paginate(query, (q) => this.events.list(q)),
  };

  /** Admin (unscoped) keys only. */
  readonly apiKeys = {
    /** The key itself is in this response only. Not retried. */
    create: (body: ApiKeyCreate) => unwrap(this.client.POST('/v1/api-keys', { body })),
    list: () => unwrap(this.client.GET('/v1/api-keys')),
    revoke: async (id: string): Promise<void> => {
      await unwrap(this.client.DELETE('/v1/api-keys/{id}', { params: { path: { id } } }));
    },
  };

  /** Admin (unscoped) keys only. */
  readonly webhookEndpoints = {
    /** The signing secret is in this response only. Not retried. */
    create: (body: WebhookEndpointCreate) => unwrap(this.client.POST('/v1/webhook-endpoints', { body })),
    list: () => unwrap(this.client.GET('/v1/webhook-endpoints')),
    get: (id: string) => unwrap(this.client.GET('/v1/webhook-endpoints/{id}', { params: { path: { id } } })),
    update: (id: string, body: WebhookEndpointUpdate) => unwrap(this.client.PATCH('/v1/webhook-endpoints/{id}', { params: { path: { id } }, body })),
    delete: async (id: string): Promise<void> => {
      await unwrap(this.client.DELETE('/v1/webhook-endpoints/{id}', { params: { path: { id } } }));
    },
    /** A new secret (in this response only); the old one keeps signing for `overlapSeconds` (default 24 h). Not retried. */
    rotateSecret: (id: string, options: RotateSecretOptions = {}) =>
      unwrap(this.client.POST('/v1/webhook-endpoints/{id}/rotate-secret', { params: { path: { id } }, body: options })),
    /** Sends a `webhook.test` event to this endpoint only. */
    test: (id: string) => unwrap(this.client.POST('/v1/webhook-endpoints/{id}/test', { params: { path: { id } } })),
    deliveries: (id: string, query: DeliveryListQuery = {}) =>
      unwrap(this.client.GET('/v1/webhook-endpoints/{id}/deliveries', { params: { path: { id }, query } })),
    retryDelivery: (id: string, deliveryId: string) =>
      unwrap(this.client.POST('/v1/webhook-endpoints/{id}/deliveries/{deliveryId}/retry', { params: { path: { id, deliveryId } } })),
  };
}
