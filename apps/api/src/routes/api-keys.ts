import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { SCOPES } from '@lever-connect/connections';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DateTime, errorResponses, Nullable, Uuid } from '../schemas.js';

const ApiKeyView = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    prefix: Type.String({ description: 'First characters of the key, to recognise it' }),
    tenantExternalId: Nullable(Type.String()),
    scopes: Type.Array(Type.String(), { description: 'What the key may do' }),
    createdAt: DateTime,
    lastUsedAt: Nullable(DateTime),
    revokedAt: Nullable(DateTime),
  },
  { $id: 'ApiKey', title: 'ApiKey' },
);

type ApiKeyRow = { id: string; name: string; prefix: string; tenantExternalId: string | null; scopes: readonly string[]; createdAt: Date; lastUsedAt: Date | null; revokedAt: Date | null };
const view = (k: ApiKeyRow) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  tenantExternalId: k.tenantExternalId,
  scopes: [...k.scopes],
  createdAt: k.createdAt.toISOString(),
  lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
  revokedAt: k.revokedAt?.toISOString() ?? null,
});

export default async function apiKeyRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(ApiKeyView);
  const { apiKeys } = app.core;

  r.post(
    '/v1/api-keys',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'Create an API key (the key is in this response only)',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            tenantExternalId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            scopes: Type.Optional(
              Type.Array(Type.Union(SCOPES.map((s) => Type.Literal(s))), {
                minItems: 1,
                uniqueItems: true,
                description: 'Default: admin for an unscoped key; tokens:read, connections:read, connections:write for a tenant key',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ key: Type.String({ description: 'Shown once; store it now' }), apiKey: Type.Ref('ApiKey') }),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const { key, apiKey } = await apiKeys.create(request.body);
      return reply.code(201).send({ key, apiKey: view(apiKey) });
    },
  );

  r.get(
    '/v1/api-keys',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'List API keys (never the keys themselves)',
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('ApiKey')) }), ...errorResponses(401, 403) },
      },
    },
    async () => ({ data: (await apiKeys.list()).map(view) }),
  );

  r.delete(
    '/v1/api-keys/:id',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'Revoke an API key',
        params: Type.Object({ id: Uuid }),
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await apiKeys.revoke(request.params.id);
      return reply.code(204).send(null);
    },
  );
}
