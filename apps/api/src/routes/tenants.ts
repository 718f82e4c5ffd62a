import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { NotFoundError } from '@lever-connect/errors';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DateTime, errorResponses, Nullable } from '../schemas.js';
import { connectionView } from './connections.js';

const TenantView = Type.Object({
  externalId: Type.String(),
  name: Nullable(Type.String()),
  createdAt: DateTime,
});

const Params = Type.Object({ externalId: Type.String({ minLength: 1, maxLength: 200 }) });

export default async function tenantRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { prisma } = app.core;

  /** A tenant visible to the caller; a scoped key sees only its own (others are 404). */
  async function visibleTenant(request: FastifyRequest, externalId: string) {
    const tenant = await prisma.tenant.findUnique({ where: { externalId } });
    const scoped = request.principal?.tenantId;
    if (!tenant || (scoped && tenant.id !== scoped)) throw new NotFoundError('Tenant');
    return tenant;
  }

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
      const limit = request.query.limit ?? 50;
      const scoped = request.principal?.tenantId;
      const rows = await prisma.tenant.findMany({
        where: { ...(scoped ? { id: scoped } : {}), ...(request.query.cursor ? { externalId: { gt: request.query.cursor } } : {}) },
        orderBy: { externalId: 'asc' },
        take: limit + 1,
      });
      const page = rows.slice(0, limit);
      return {
        data: page.map((t) => ({ externalId: t.externalId, name: t.name, createdAt: t.createdAt.toISOString() })),
        nextCursor: rows.length > limit ? page[page.length - 1]!.externalId : null,
      };
    },
  );

  r.get(
    '/v1/tenants/:externalId',
    {
      schema: {
        tags: ['tenants'],
        summary: 'One tenant with its connections',
        params: Params,
        response: {
          200: Type.Composite([TenantView, Type.Object({ connections: Type.Array(Type.Ref('Connection')) })]),
          ...errorResponses(401, 404),
        },
      },
    },
    async (request) => {
      const tenant = await visibleTenant(request, request.params.externalId);
      const connections = await prisma.connection.findMany({
        where: { tenantId: tenant.id },
        include: { tenant: { select: { externalId: true } } },
        orderBy: { createdAt: 'desc' },
      });
      return { externalId: tenant.externalId, name: tenant.name, createdAt: tenant.createdAt.toISOString(), connections: connections.map(connectionView) };
    },
  );

  r.delete(
    '/v1/tenants/:externalId',
    {
      schema: {
        tags: ['tenants'],
        summary: "Disconnect all of the tenant's connections",
        params: Params,
        response: { 200: Type.Object({ disconnected: Type.Integer() }), ...errorResponses(401, 404) },
      },
    },
    async (request) => {
      const tenant = await visibleTenant(request, request.params.externalId);
      return { disconnected: await app.core.disconnect({ tenantId: tenant.id }) };
    },
  );
}
