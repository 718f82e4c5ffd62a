import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { grantExpiresAt, type ConnectionWithTenant } from '@lever-connect/connections';
import { AppError, NeedsReauthError, NotFoundError } from '@lever-connect/errors';
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

/**
 * The list's keyset cursor: the sort key (createdAt, id) of the previous page's last row, as 6 bytes of
 * milliseconds and the id's 16 bytes, base64url. The next page is the rows strictly after that key, so a
 * row that changed between pages (its status no longer matching a filter, say) cannot shift the page the
 * way an offset from the cursor row would. Any 30 such characters decode to a key Postgres accepts, so the
 * schema alone tells a malformed cursor (400) from a valid one.
 */
const ConnectionCursor = Type.String({
  pattern: '^[A-Za-z0-9_-]{30}$',
  description: 'Opaque: the `nextCursor` of the previous page',
});

function encodeCursor(row: { createdAt: Date; id: string }): string {
  const key = Buffer.alloc(22);
  key.writeUIntBE(row.createdAt.getTime(), 0, 6);
  Buffer.from(row.id.replace(/-/g, ''), 'hex').copy(key, 6);
  return key.toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const key = Buffer.from(cursor, 'base64url');
  const hex = key.subarray(6, 22).toString('hex');
  return {
    createdAt: new Date(key.readUIntBE(0, 6)),
    id: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
  };
}

const ListQuery = Type.Object(
  {
    tenant: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "The tenant's externalId" })),
    status: Type.Optional(ConnectionStatusSchema),
    environment: Type.Optional(LeverEnvironmentSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    cursor: Type.Optional(ConnectionCursor),
  },
  { additionalProperties: false },
);

const include = { tenant: { select: { externalId: true } } } as const;

/** Loads a connection visible to the caller; another tenant's connection is a plain 404. */
async function visibleConnection(app: FastifyInstance, request: FastifyRequest, id: string) {
  const connection = await app.core.repo.findById(id);
  const tenantId = request.principal?.tenantId;
  if (!connection || (tenantId && connection.tenantId !== tenantId)) throw new NotFoundError('Connection');
  return connection;
}

export default async function connectionRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { prisma } = app.core;

  r.get(
    '/v1/connections',
    {
      schema: {
        tags: ['connections'],
        summary: 'List connections (newest first), filtered by tenant, status, environment',
        querystring: ListQuery,
        response: {
          200: Type.Object({ data: Type.Array(Type.Ref('Connection')), nextCursor: Nullable(ConnectionCursor) }),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const { tenant, status, environment, limit = 50, cursor } = request.query;
      const scopedTenant = request.principal?.tenantId;
      const after = cursor ? decodeCursor(cursor) : null;
      const rows = await prisma.connection.findMany({
        where: {
          ...(scopedTenant ? { tenantId: scopedTenant } : {}),
          ...(tenant ? { tenant: { externalId: tenant } } : {}),
          ...(status ? { status } : {}),
          ...(environment ? { environment } : {}),
          // Strictly after the previous page's last key, in the order below (createdAt desc, id desc).
          ...(after ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] } : {}),
        },
        include,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
      });
      const page = rows.slice(0, limit);
      return { data: page.map(connectionView), nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!) : null };
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
    async (request) => connectionView(await visibleConnection(app, request, request.params.id)),
  );

  r.get(
    '/v1/connections/:id/access-token',
    {
      schema: {
        tags: ['connections'],
        summary: 'A valid Lever access token for this connection (refreshed inline when close to expiry)',
        params: IdParams,
        querystring: Type.Object({ forceRefresh: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: AccessTokenResponse, ...errorResponses(400, 401, 404, 409, 503) },
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
        summary: 'Refresh now (coalesced with any refresh in progress)',
        params: IdParams,
        response: { 200: Type.Ref('Connection'), ...errorResponses(400, 401, 404, 409, 503) },
      },
    },
    async (request) => {
      const connection = await visibleConnection(app, request, request.params.id);
      if (connection.status === 'needs_reauth') throw new NeedsReauthError(connection.reauthReason);
      if (connection.status === 'disconnected') throw new AppError('connection_disconnected', 'The connection was deleted', 409);
      // No token leaves this route, so nothing goes in the token-read audit trail.
      await app.core.tokens.getAccessToken(connection.id, { forceRefresh: true });
      return connectionView((await app.core.repo.findById(connection.id))!);
    },
  );

  r.delete(
    '/v1/connections/:id',
    {
      schema: {
        tags: ['connections'],
        summary: 'Disconnect: wipe the tokens, stop refreshing, emit connection.deleted',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const connection = await visibleConnection(app, request, request.params.id);
      await app.core.disconnect({ id: connection.id });
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
      const connection = await visibleConnection(app, request, request.params.id);
      await app.core.tokenAudit.flush();
      const { data, nextCursor } = await app.core.tokenAudit.list(connection.id, { limit: request.query.limit ?? 50, cursor: request.query.cursor });
      return {
        data: data.map((r) => ({ id: r.id, apiKeyId: r.apiKeyId, requestId: r.requestId, refreshed: r.refreshed, createdAt: r.readAt.toISOString() })),
        nextCursor,
      };
    },
  );
}
