import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { CONNECTION_CURSOR_PATTERN, grantExpiresAt, type ConnectionWithTenant, type Viewer } from '@lever-connect/connections';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DateTime, errorResponses, LeverEnvironmentSchema, Nullable, Uuid } from '../schemas.js';

const ConnectionStatusSchema = Type.Union([Type.Literal('active'), Type.Literal('needs_reauth'), Type.Literal('disconnected')]);

/** The public view of a connection: an allow-list, so a token or ciphertext can never leak. */
export const ConnectionView = Type.Object(
  {
    id: Uuid,
    tenant: Type.Object({ externalId: Type.String() }),
    environment: LeverEnvironmentSchema,
    status: ConnectionStatusSchema,
    leverAccountId: Type.String(),
    scopes: Type.Array(Type.String()),
    accessTokenExpiresAt: Nullable(DateTime),
    refreshTokenIssuedAt: Nullable(DateTime),
    grantCreatedAt: Nullable(DateTime),
    grantExpiresAt: Nullable(DateTime, {
      description:
        'When Lever kills the grant, whatever its use: grantCreatedAt + 365 days. The customer must connect again before then. Null when grantCreatedAt is unknown.',
    }),
    refreshTokenIdleExpiresAt: Nullable(DateTime, {
      description:
        'When Lever kills the refresh token if it is not used again: 90 days after it was last presented to Lever (refreshTokenIssuedAt when never presented). Every refresh moves it; null when neither time is known.',
    }),
    nextRefreshAt: Nullable(DateTime),
    lastRefreshedAt: Nullable(DateTime),
    lastRefreshFailedAt: Nullable(DateTime),
    lastRefreshError: Nullable(Type.String()),
    refreshAttemptCount: Type.Integer(),
    reauthReason: Nullable(Type.String()),
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  { $id: 'Connection', title: 'Connection' },
);

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Lever kills a refresh token that goes unused this long (its one-year grant limit is `grantExpiresAt`). */
const REFRESH_TOKEN_IDLE_LIFETIME_MS = 90 * 24 * 3600 * 1000;

function refreshTokenIdleExpiresAt(c: Pick<ConnectionWithTenant, 'refreshTokenLastUsedAt' | 'refreshTokenIssuedAt'>): Date | null {
  const lastUsed = c.refreshTokenLastUsedAt ?? c.refreshTokenIssuedAt;
  return lastUsed ? new Date(lastUsed.getTime() + REFRESH_TOKEN_IDLE_LIFETIME_MS) : null;
}

export function connectionView(c: ConnectionWithTenant) {
  return {
    id: c.id,
    tenant: { externalId: c.tenant.externalId },
    environment: c.environment,
    status: c.status,
    leverAccountId: c.leverAccountId,
    scopes: c.scopes,
    accessTokenExpiresAt: iso(c.accessTokenExpiresAt),
    refreshTokenIssuedAt: iso(c.refreshTokenIssuedAt),
    grantCreatedAt: iso(c.grantCreatedAt),
    grantExpiresAt: iso(c.grantCreatedAt && grantExpiresAt(c.grantCreatedAt)),
    refreshTokenIdleExpiresAt: iso(refreshTokenIdleExpiresAt(c)),
    nextRefreshAt: iso(c.nextRefreshAt),
    lastRefreshedAt: iso(c.lastRefreshedAt),
    lastRefreshFailedAt: iso(c.lastRefreshFailedAt),
    lastRefreshError: c.lastRefreshError,
    refreshAttemptCount: c.refreshAttemptCount,
    reauthReason: c.reauthReason,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

const IdParams = Type.Object({ id: Uuid });

const AccessTokenResponse = Type.Object({
  accessToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresAt: DateTime,
  scopes: Type.Array(Type.String()),
  apiBaseUrl: Type.String({ description: "The Lever API base URL of the connection's environment" }),
});

export const ConnectionCursor = Type.String({ pattern: CONNECTION_CURSOR_PATTERN, description: 'Opaque: the `nextCursor` of the previous page' });

const ListQuery = Type.Object(
  {
    tenant: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "The tenant's externalId" })),
    status: Type.Optional(ConnectionStatusSchema),
    environment: Type.Optional(LeverEnvironmentSchema),
    leverAccountId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Exactly this Lever account id' })),
    q: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: "A connection id (exact), or the start of the tenant's externalId or of the Lever account id" }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    cursor: Type.Optional(ConnectionCursor),
  },
  { additionalProperties: false },
);

/** The caller's view of tenants: a tenant-scoped key sees only its own (the wall is the domain's, access/viewer.ts). */
export const viewerOf = (request: FastifyRequest): Viewer => ({ tenantId: request.principal?.tenantId ?? null, apiKeyId: request.principal?.apiKeyId ?? null });

export default async function connectionRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { connections, actions } = app.core;

  r.get(
    '/v1/connections',
    {
      schema: {
        tags: ['connections'],
        summary: 'List connections (newest first), filtered by tenant, status, environment, Lever account, or searched (q)',
        querystring: ListQuery,
        response: {
          200: Type.Object({ data: Type.Array(Type.Ref('Connection')), nextCursor: Nullable(ConnectionCursor) }),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const { data, nextCursor } = await connections.list(viewerOf(request), { ...request.query, limit: request.query.limit ?? 50 });
      return { data: data.map(connectionView), nextCursor };
    },
  );

  r.get(
    '/v1/connections/:id',
    {
      schema: {
        tags: ['connections'],
        summary: 'One connection: status, scopes, expiry times, last refresh result — never a token',
        params: IdParams,
        response: { 200: Type.Ref('Connection'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => connectionView(await connections.get(viewerOf(request), request.params.id)),
  );

  r.get(
    '/v1/connections/:id/access-token',
    {
      schema: {
        tags: ['connections'],
        summary: 'A valid Lever access token for this connection (refreshed inline when close to expiry)',
        params: IdParams,
        querystring: Type.Object({ forceRefresh: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: AccessTokenResponse, ...errorResponses(400, 401, 403, 404, 409, 429, 503) },
      },
    },
    async (request, reply) => {
      const grant = await app.core.tokens.getAccessToken(request.params.id, {
        tenantId: request.principal?.tenantId ?? undefined,
        forceRefresh: request.query.forceRefresh,
      });
      app.core.tokenAudit.record({
        connectionId: grant.connectionId,
        apiKeyId: request.principal?.apiKeyId ?? null,
        requestId: request.id,
        refreshed: grant.refreshed,
      });
      // `grant.body` is exactly AccessTokenResponse, serialized once per cached token (token-service.ts);
      // a JSON string is sent as is. openapi.test.ts checks it against the schema.
      const body = grant.body as unknown as Static<typeof AccessTokenResponse>; // already serialized
      return reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(body);
    },
  );

  r.post(
    '/v1/connections/:id/refresh',
    {
      schema: {
        tags: ['connections'],
        summary: 'Refresh now (coalesced with any refresh in progress; a quota per tenant)',
        params: IdParams,
        response: { 200: Type.Ref('Connection'), ...errorResponses(400, 401, 403, 404, 409, 429, 503) },
      },
    },
    async (request) => connectionView(await actions.refreshNow(viewerOf(request), request.params.id)),
  );

  r.delete(
    '/v1/connections/:id',
    {
      schema: {
        tags: ['connections'],
        summary: 'Disconnect: delete its Lever webhooks, revoke the grant at Lever, wipe the tokens, stop refreshing, emit connection.deleted',
        description:
          "In that order. Deleting Lever's webhooks and revoking the grant (POST /oauth/revoke) are best effort and bounded: a failing or silent Lever never blocks the disconnect (the failure is logged and counted in lever_connect_grant_revocations_total). Repeating it is harmless (204, nothing asked of Lever).",
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await actions.disconnect(viewerOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/v1/connections/:id/token-reads',
    {
      schema: {
        tags: ['connections'],
        summary: 'Audit trail of access tokens handed out for this connection (never the token)',
        params: IdParams,
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
            cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}\\.[0-9]{1,9}$', description: 'The id of the last read of the previous page' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            data: Type.Array(
              Type.Object({
                id: Type.String({ description: 'Stable id of the read (`<batch>.<position>`)' }),
                apiKeyId: Nullable(Uuid),
                requestId: Type.String(),
                refreshed: Type.Boolean(),
                createdAt: DateTime,
              }),
            ),
            nextCursor: Nullable(Type.String()),
          }),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request) => {
      const { limit = 50, cursor } = request.query;
      const { data, nextCursor } = await connections.tokenReads(viewerOf(request), request.params.id, { limit, cursor });
      return {
        data: data.map((r) => ({ id: r.id, apiKeyId: r.apiKeyId, requestId: r.requestId, refreshed: r.refreshed, createdAt: r.readAt.toISOString() })),
        nextCursor,
      };
    },
  );
}
