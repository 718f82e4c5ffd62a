import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { LEVER_EVENTS } from '@lever-connect/config';
import type { LeverWebhookView } from '@lever-connect/connections';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DateTime, errorResponses, Nullable, Uuid } from '../schemas.js';
import { viewerOf } from './connections.js';

/** Lever posts small JSON bodies; anything larger is not one of its deliveries. */
const DELIVERY_BODY_LIMIT = 1024 * 1024;

const SubscriptionView = Type.Object(
  {
    id: Uuid,
    event: Type.Union(LEVER_EVENTS.map((e) => Type.Literal(e))),
    state: Type.Union([Type.Literal('pending'), Type.Literal('active'), Type.Literal('failed')]),
    leverWebhookId: Nullable(Type.String()),
    failureReason: Nullable(Type.String()),
    lastEventAt: Nullable(DateTime),
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  { $id: 'LeverWebhookSubscription', title: 'LeverWebhookSubscription' },
);

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const view = (s: LeverWebhookView) => ({
  id: s.id,
  event: s.event as (typeof LEVER_EVENTS)[number],
  state: s.state,
  leverWebhookId: s.leverWebhookId,
  failureReason: s.failureReason,
  lastEventAt: iso(s.lastEventAt),
  createdAt: s.createdAt.toISOString(),
  updatedAt: s.updatedAt.toISOString(),
});

/**
 * Lever's own webhooks: the public receiving route Lever posts to (one unguessable URL per subscription,
 * verified with that subscription's signature token), and the subscriptions' view and reconcile for the
 * operator (packages/connections/src/lever-webhooks/).
 */
export default async function leverWebhookRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { leverWebhooks, metrics } = app.core;
  app.addSchema(SubscriptionView);

  r.post(
    '/lever/webhooks/:subscriptionId',
    {
      bodyLimit: DELIVERY_BODY_LIMIT,
      schema: {
        tags: ['lever-webhooks'],
        summary: "Lever posts its webhook deliveries here (signed in the body); answered 200 once the event is stored",
        // Any string: an id that is no subscription's is a 404, whatever its shape.
        params: Type.Object({ subscriptionId: Type.String({ maxLength: 100 }) }),
        body: Type.Unknown(),
        response: { 200: Type.Object({ received: Type.Boolean(), duplicate: Type.Boolean() }), ...errorResponses(400, 401, 404, 413, 503) },
      },
    },
    async (request) => {
      const outcome = await leverWebhooks.receiver.receive(request.params.subscriptionId, request.body);
      metrics.leverWebhooksReceived.inc({ outcome });
      return { received: true, duplicate: outcome === 'duplicate' };
    },
  );

  r.get(
    '/v1/connections/:id/lever-webhooks',
    {
      schema: {
        tags: ['lever-webhooks'],
        summary: "The connection's Lever webhooks: one per event, its state at Lever, when it last delivered",
        params: Type.Object({ id: Uuid }),
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('LeverWebhookSubscription')) }), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => ({ data: (await leverWebhooks.list(viewerOf(request), request.params.id)).map(view) }),
  );

  r.post(
    '/v1/connections/:id/lever-webhooks/reconcile',
    {
      schema: {
        tags: ['lever-webhooks'],
        summary: "Make Lever's webhooks of this connection match ours now (creates missing, re-enables disabled, deletes strays)",
        params: Type.Object({ id: Uuid }),
        response: {
          200: Type.Object({
            created: Type.Integer(),
            enabled: Type.Integer(),
            deleted: Type.Integer(),
            failed: Type.Integer(),
            data: Type.Array(Type.Ref('LeverWebhookSubscription')),
          }),
          ...errorResponses(400, 401, 404, 409, 429, 502, 503),
        },
      },
    },
    async (request) => {
      const viewer = viewerOf(request);
      const connection = await app.core.connections.get(viewer, request.params.id);
      const report = await leverWebhooks.reconcile(connection.id);
      const data = await leverWebhooks.list(viewer, connection.id);
      return { created: report.created, enabled: report.enabled, deleted: report.deleted, failed: report.failed, data: data.map(view) };
    },
  );
}
