import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { EVENT_TYPES } from '@lever-connect/runtime';
import { LEVER_WILDCARD } from '@lever-connect/webhooks';
import { MAX_OVERLAP_SECONDS, type DeliveryRecord, type WebhookEndpointRecord } from '@lever-connect/webhooks';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DateTime, errorResponses, Nullable, Uuid } from '../schemas.js';

/** An event type, or `lever.*` (every event Lever sends, as `lever.<event>`). */
const EventTypeSchema = Type.Union([...EVENT_TYPES.map((t) => Type.Literal(t)), Type.Literal(LEVER_WILDCARD)]);
const DeliveryStatusSchema = Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]);

/** The public view of an endpoint: an allow-list, so the secret (or its ciphertext) can never leak. */
const WebhookEndpointView = Type.Object(
  {
    id: Uuid,
    url: Type.String(),
    description: Nullable(Type.String()),
    eventTypes: Type.Array(Type.String(), { description: 'Effective subscription (default: all but connection.refreshed and connection.refresh_failed)' }),
    tenantExternalId: Nullable(Type.String({ description: "Only this tenant's events when set" })),
    enabled: Type.Boolean(),
    disabledReason: Nullable(Type.String()),
    failingSince: Nullable(DateTime),
    previousSecretExpiresAt: Nullable(Type.String({ format: 'date-time', description: 'Until then the previous secret also signs' })),
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  { $id: 'WebhookEndpoint', title: 'WebhookEndpoint' },
);

const WebhookDeliveryView = Type.Object(
  {
    id: Uuid,
    eventId: Uuid,
    eventType: Nullable(Type.String()),
    status: DeliveryStatusSchema,
    attempts: Type.Integer(),
    responseStatus: Nullable(Type.Integer()),
    durationMs: Nullable(Type.Integer()),
    lastError: Nullable(Type.String()),
    nextAttemptAt: Nullable(DateTime),
    lastAttemptAt: Nullable(DateTime),
    createdAt: DateTime,
  },
  { $id: 'WebhookDelivery', title: 'WebhookDelivery' },
);

const iso = (d: Date | null) => (d ? d.toISOString() : null);

const view = (e: WebhookEndpointRecord) => ({
  id: e.id,
  url: e.url,
  description: e.description,
  eventTypes: e.eventTypes,
  tenantExternalId: e.tenantExternalId,
  enabled: e.enabled,
  disabledReason: e.disabledReason,
  failingSince: iso(e.failingSince),
  previousSecretExpiresAt: iso(e.previousSecretExpiresAt),
  createdAt: e.createdAt.toISOString(),
  updatedAt: e.updatedAt.toISOString(),
});

const deliveryView = (d: DeliveryRecord) => ({
  id: d.id,
  eventId: d.eventId,
  eventType: d.eventType,
  status: d.status,
  attempts: d.attempts,
  responseStatus: d.responseStatus,
  durationMs: d.durationMs,
  lastError: d.lastError,
  nextAttemptAt: iso(d.nextAttemptAt),
  lastAttemptAt: iso(d.lastAttemptAt),
  createdAt: d.createdAt.toISOString(),
});

const IdParams = Type.Object({ id: Uuid });
const Url = Type.String({ minLength: 1, maxLength: 2048, description: 'https:// (http://localhost allowed outside production)' });
const Description = Type.String({ maxLength: 500 });
const TenantExternalId = Type.String({ minLength: 1, maxLength: 200 });
const EventTypes = Type.Array(EventTypeSchema, { minItems: 1, maxItems: EVENT_TYPES.length + 1, uniqueItems: true });
const SecretResponse = Type.Object({
  id: Uuid,
  secret: Type.String({ description: 'whsec_... signing secret. Shown once; store it now' }),
  endpoint: Type.Ref('WebhookEndpoint'),
});

/** Webhook endpoint management (admin). Domain logic lives in @lever-connect/webhooks. */
export default async function webhookEndpointRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(WebhookEndpointView);
  app.addSchema(WebhookDeliveryView);
  const endpoints = app.webhookEndpoints;

  r.post(
    '/v1/webhook-endpoints',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Create a webhook endpoint (its signing secret is in this response only)',
        body: Type.Object(
          {
            url: Url,
            eventTypes: Type.Optional(EventTypes),
            tenantExternalId: Type.Optional(TenantExternalId),
            enabled: Type.Optional(Type.Boolean()),
            description: Type.Optional(Description),
          },
          { additionalProperties: false },
        ),
        response: { 201: SecretResponse, ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { endpoint, secret } = await endpoints.create(request.body);
      return reply.code(201).send({ id: endpoint.id, secret, endpoint: view(endpoint) });
    },
  );

  r.get(
    '/v1/webhook-endpoints',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'List webhook endpoints (never their secrets)',
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('WebhookEndpoint')) }), ...errorResponses(401, 403) },
      },
    },
    async () => ({ data: (await endpoints.list()).map(view) }),
  );

  r.get(
    '/v1/webhook-endpoints/:id',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'One webhook endpoint',
        params: IdParams,
        response: { 200: Type.Ref('WebhookEndpoint'), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => view(await endpoints.get(request.params.id)),
  );

  r.patch(
    '/v1/webhook-endpoints/:id',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Change an endpoint; `enabled: true` re-enables a disabled one',
        params: IdParams,
        body: Type.Object(
          {
            url: Type.Optional(Url),
            eventTypes: Type.Optional(Nullable(EventTypes)),
            tenantExternalId: Type.Optional(Nullable(TenantExternalId)),
            enabled: Type.Optional(Type.Boolean()),
            description: Type.Optional(Nullable(Description)),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Ref('WebhookEndpoint'), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => view(await endpoints.update(request.params.id, request.body)),
  );

  r.delete(
    '/v1/webhook-endpoints/:id',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Delete an endpoint and its delivery history',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await endpoints.remove(request.params.id);
      return reply.code(204).send(null);
    },
  );

  r.post(
    '/v1/webhook-endpoints/:id/rotate-secret',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'New signing secret (in this response only); the old one keeps signing during the overlap',
        params: IdParams,
        // The body is optional: a bare POST rotates with the default overlap.
        body: Nullable(
          Type.Object(
            {
              overlapSeconds: Type.Optional(
                Type.Integer({ minimum: 0, maximum: MAX_OVERLAP_SECONDS, description: 'Default 86400 (24 h); 0 retires the old secret now' }),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        response: { 200: SecretResponse, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { endpoint, secret } = await endpoints.rotateSecret(request.params.id, { overlapSeconds: request.body?.overlapSeconds });
      return { id: endpoint.id, secret, endpoint: view(endpoint) };
    },
  );

  r.post(
    '/v1/webhook-endpoints/:id/test',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Send a webhook.test event to this endpoint only',
        params: IdParams,
        response: { 202: Type.Object({ eventId: Uuid, deliveryId: Uuid }), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => reply.code(202).send(await endpoints.sendTest(request.params.id)),
  );

  r.get(
    '/v1/webhook-endpoints/:id/deliveries',
    {
      schema: {
        tags: ['webhooks'],
        summary: "The endpoint's deliveries, newest first: status, attempts, response code, next attempt",
        params: IdParams,
        querystring: Type.Object(
          {
            status: Type.Optional(DeliveryStatusSchema),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
            cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ data: Type.Array(Type.Ref('WebhookDelivery')), nextCursor: Nullable(Type.String()) }),
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const page = await endpoints.listDeliveries(request.params.id, request.query);
      return { data: page.data.map(deliveryView), nextCursor: page.nextCursor };
    },
  );

  r.post(
    '/v1/webhook-endpoints/:id/deliveries/:deliveryId/retry',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Attempt a failed or pending delivery again now',
        params: Type.Object({ id: Uuid, deliveryId: Uuid }),
        response: { 202: Type.Object({ deliveryId: Uuid, status: Type.Literal('pending') }), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await endpoints.retryDelivery(request.params.id, request.params.deliveryId);
      return reply.code(202).send({ deliveryId: request.params.deliveryId, status: 'pending' as const });
    },
  );
}
