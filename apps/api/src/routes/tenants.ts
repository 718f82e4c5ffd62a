import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DateTime, errorResponses, Nullable } from '../schemas.js';
import { ConnectionCursor, connectionView, viewerOf } from './connections.js';

const TenantView = Type.Object({
  externalId: Type.String(),
  name: Nullable(Type.String()),
  createdAt: DateTime,
});

const Params = Type.Object({ externalId: Type.String({ minLength: 1, maxLength: 200 }) });

export default async function tenantRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { tenants, actions } = app.core;

  r.get(
    '/v1/tenants',
    {
      schema: {
        tags: ['tenants'],
        summary: 'List tenants (a tenant-scoped key sees only its own)',
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ data: Type.Array(TenantView), nextCursor: Nullable(Type.String()) }), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const { limit = 50, cursor } = request.query;
      const { data, nextCursor } = await tenants.list(viewerOf(request), { limit, cursor });
      return { data: data.map((t) => ({ externalId: t.externalId, name: t.name, createdAt: t.createdAt.toISOString() })), nextCursor };
    },
  );

  r.get(
    '/v1/tenants/:externalId',
    {
      schema: {
        tags: ['tenants'],
        summary: 'One tenant with its newest connections (at most 100; the rest through GET /v1/connections?tenant=)',
        params: Params,
        response: {
          200: Type.Composite([
            TenantView,
            Type.Object({
              connections: Type.Array(Type.Ref('Connection'), { description: 'Newest first, at most 100' }),
              connectionsTruncated: Type.Boolean({ description: 'The tenant has more connections than `connections` holds' }),
              connectionsNextCursor: Nullable(ConnectionCursor, {
                description: 'When truncated: the `cursor` of GET /v1/connections?tenant=<externalId> that lists the rest',
              }),
            }),
          ]),
          ...errorResponses(401, 404),
        },
      },
    },
    async (request) => {
      const { tenant, connections, nextCursor } = await tenants.withConnections(viewerOf(request), request.params.externalId);
      return {
        externalId: tenant.externalId,
        name: tenant.name,
        createdAt: tenant.createdAt.toISOString(),
        connections: connections.map(connectionView),
        connectionsTruncated: nextCursor !== null,
        connectionsNextCursor: nextCursor,
      };
    },
  );

  r.delete(
    '/v1/tenants/:externalId',
    {
      schema: {
        tags: ['tenants'],
        summary: "Disconnect all of the tenant's connections",
        description: 'Each as DELETE /v1/connections/:id does: its Lever webhooks deleted and its grant revoked at Lever (best effort, bounded), then its tokens wiped.',
        params: Params,
        response: { 200: Type.Object({ disconnected: Type.Integer() }), ...errorResponses(401, 404) },
      },
    },
    async (request) => ({ disconnected: await actions.disconnectTenant(viewerOf(request), request.params.externalId) }),
  );
}
