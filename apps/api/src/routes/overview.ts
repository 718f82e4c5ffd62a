import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Overview } from '@lever-connect/connections';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DateTime, errorResponses, LeverEnvironmentSchema, Nullable, Uuid } from '../schemas.js';
import { viewerOf } from './connections.js';

const Count = Type.Integer({ minimum: 0 });

const OverviewView = Type.Object(
  {
    generatedAt: DateTime,
    connections: Type.Object({
      total: Count,
      byStatus: Type.Array(
        Type.Object({
          status: Type.Union([Type.Literal('active'), Type.Literal('needs_reauth'), Type.Literal('disconnected')]),
          environment: LeverEnvironmentSchema,
          count: Count,
        }),
      ),
      failing: Type.Integer({ minimum: 0, description: 'Active connections whose refreshes keep failing (transiently) right now' }),
    }),
    refreshes: Type.Array(
      Type.Object({
        hour: DateTime,
        refreshed: Type.Integer({ minimum: 0, description: 'connection.refreshed events' }),
        failed: Type.Integer({ minimum: 0, description: 'connection.refresh_failed events (transient: retried, grant kept)' }),
        needsReauth: Type.Integer({ minimum: 0, description: 'connection.needs_reauth events (Lever answered invalid_grant)' }),
      }),
      { description: 'The last 24 hours, oldest first; the current hour last' },
    ),
    expiring: Type.Object({
      withinDays: Type.Integer(),
      count: Count,
      data: Type.Array(
        Type.Object({
          id: Uuid,
          tenant: Type.Object({ externalId: Type.String() }),
          environment: LeverEnvironmentSchema,
          leverAccountId: Type.String(),
          grantExpiresAt: DateTime,
        }),
        { description: 'The soonest first (at most 10)' },
      ),
    }),
    webhookEndpoints: Nullable(
      Type.Object({
        total: Count,
        failing: Count,
        disabled: Count,
        data: Type.Array(
          Type.Object({ id: Uuid, url: Type.String(), enabled: Type.Boolean(), disabledReason: Nullable(Type.String()), failingSince: Nullable(DateTime) }),
          { description: 'Failing or disabled endpoints (at most 10)' },
        ),
      }),
      { description: 'Null for a tenant-scoped key' },
    ),
    leverRateLimited: Nullable(Type.Array(Type.Object({ hour: DateTime, count: Count })), {
      description: "Lever's 429s met by the proxy per hour (last 24 h, every api process). Null for a tenant-scoped key",
    }),
  },
  { $id: 'Overview', title: 'Overview' },
);

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function overviewView(o: Overview) {
  return {
    generatedAt: o.generatedAt.toISOString(),
    connections: o.connections,
    refreshes: o.refreshes.map((h) => ({ ...h, hour: h.hour.toISOString() })),
    expiring: { ...o.expiring, data: o.expiring.data.map((c) => ({ ...c, grantExpiresAt: c.grantExpiresAt.toISOString() })) },
    webhookEndpoints: o.webhookEndpoints && { ...o.webhookEndpoints, data: o.webhookEndpoints.data.map((e) => ({ ...e, failingSince: iso(e.failingSince) })) },
    leverRateLimited: o.leverRateLimited && o.leverRateLimited.map((h) => ({ hour: h.hour.toISOString(), count: h.count })),
  };
}

/** `GET /v1/overview`: connections by status, refresh outcomes over 24 h, what expires soon, what is failing. */
export default async function overviewRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(OverviewView);
  r.get(
    '/v1/overview',
    {
      schema: {
        tags: ['overview'],
        summary: 'Health at a glance: connections by status, refreshes and failures per hour (24 h), grants expiring, failing webhook endpoints, Lever 429s',
        response: { 200: Type.Ref('Overview'), ...errorResponses(401) },
      },
    },
    async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      return overviewView(await app.core.overview.get(viewerOf(request)));
    },
  );
}
