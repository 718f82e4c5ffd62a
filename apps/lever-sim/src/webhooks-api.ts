import type { FastifyInstance } from 'fastify';
import { list } from './api-list.js';
import { lever, type ApiAnswer, type ApiCall, type Serve } from './api-serve.js';
import type { SimContext } from './context.js';
import { parseWebhookCreate, parseWebhookUpdate } from './webhook-input.js';
import { createdWebhookView, webhookView } from './webhook-views.js';
import type { Webhook } from './webhooks.js';

const READ = 'webhooks:read:admin';
const WRITE = 'webhooks:write:admin';

type ById = { Params: { id: string } };

function forbidden(message: string): ApiAnswer {
  return lever(403, 'Forbidden', message);
}

/** A write scope includes the matching read (LEVER.md). */
function missingScope(scopes: ReadonlySet<string>, needs: 'read' | 'write'): ApiAnswer | undefined {
  if (scopes.has(WRITE) || (needs === 'read' && scopes.has(READ))) return undefined;
  return forbidden(`Missing scope ${needs === 'read' ? `${READ} or ${WRITE}` : WRITE}`);
}

/**
 * Lever's Webhooks Subscription API (LEVER.md): an OAuth app lists, creates, updates and deletes the
 * webhooks of the account it is connected to, in its environment. Only webhooks created through the API
 * may be changed through it; those an admin made in Lever's settings are listed but refused with 403.
 * Every route goes through `serve` like the rest of the API.
 */
export function webhookRoutes(app: FastifyInstance, { ctx, serve }: { ctx: SimContext; serve: Serve }) {
  const allowHttp = ctx.options.allowHttpWebhooks ?? true;

  /** The account's webhook that this call may change, or the answer refusing it. */
  const changeable = (call: ApiCall, id: string): Webhook | ApiAnswer => {
    const webhook = ctx.webhooks.find(id);
    if (!webhook || webhook.account !== call.grant.account || webhook.environment !== call.environment) {
      return lever(404, 'ResourceNotFound', 'Webhook not found');
    }
    if (webhook.createdVia !== 'api') return forbidden('This webhook was created in Lever settings and cannot be changed through the API');
    return webhook;
  };
  const isAnswer = (value: Webhook | ApiAnswer): value is ApiAnswer => 'status' in value;

  app.get('/webhooks', (request, reply) =>
    serve(request, reply, (call) => {
      const refused = missingScope(call.scopes, 'read');
      if (refused) return refused;
      return list(ctx.webhooks.list({ account: call.grant.account, environment: call.environment }).map(webhookView), request);
    }),
  );

  app.post('/webhooks', (request, reply) =>
    serve(request, reply, (call) => {
      const refused = missingScope(call.scopes, 'write');
      if (refused) return refused;
      const input = parseWebhookCreate(request.body, allowHttp);
      if (!input.ok) return lever(400, 'BadRequestError', input.message);
      const webhook = ctx.webhooks.create({
        ...input.value,
        account: call.grant.account,
        environment: call.environment,
        createdAt: ctx.clock.now(),
        createdVia: 'api',
      });
      ctx.stats.increment('webhooksCreated');
      return { status: 201, body: { data: createdWebhookView(webhook) } };
    }),
  );

  app.put<ById>('/webhooks/:id', (request, reply) =>
    serve(request, reply, (call) => {
      const refused = missingScope(call.scopes, 'write');
      if (refused) return refused;
      const webhook = changeable(call, request.params.id);
      if (isAnswer(webhook)) return webhook;
      const update = parseWebhookUpdate(request.body, allowHttp);
      if (!update.ok) return lever(400, 'BadRequestError', update.message);
      ctx.webhooks.update(webhook, update.value);
      if (!webhook.enabled) ctx.deliveries.cancelWebhook(webhook.id);
      return { status: 200, body: { data: webhookView(webhook) } };
    }),
  );

  app.delete<ById>('/webhooks/:id', (request, reply) =>
    serve(request, reply, (call) => {
      const refused = missingScope(call.scopes, 'write');
      if (refused) return refused;
      const webhook = changeable(call, request.params.id);
      if (isAnswer(webhook)) return webhook;
      ctx.webhooks.remove(webhook.id);
      ctx.deliveries.cancelWebhook(webhook.id);
      ctx.stats.increment('webhooksDeleted');
      return { status: 204, body: undefined };
    }),
  );
}
