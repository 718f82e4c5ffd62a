import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { EVENT_TYPES } from '@lever-connect/runtime';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DateTime, errorResponses, Nullable, Uuid } from '../schemas.js';
import { viewerOf } from './connections.js';

const EventView = Type.Object(
  {
    id: Uuid,
    type: Type.String(),
    createdAt: DateTime,
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { $id: 'Event', title: 'Event' },
);

export default async function eventRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(EventView);
  r.get(
    '/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Domain events, newest first (the same payloads the webhooks send)',
        querystring: Type.Object(
          {
            type: Type.Optional(Type.Union(EVENT_TYPES.map((t) => Type.Literal(t)))),
            connectionId: Type.Optional(Uuid),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
            cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('Event')), nextCursor: Nullable(Type.String()) }), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const { type, connectionId, cursor, limit = 50 } = request.query;
      const { data, nextCursor } = await app.core.events.list(viewerOf(request), { type, connectionId, cursor, limit });
      return {
        data: data.map((e) => ({ id: e.id, type: e.type, createdAt: e.createdAt.toISOString(), data: e.data as Record<string, unknown> })),
        nextCursor,
      };
    },
  );
}
