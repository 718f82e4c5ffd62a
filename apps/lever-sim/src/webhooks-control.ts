import type { FastifyInstance } from 'fastify';
import type { ApiEnvironment } from './audiences.js';
import type { SimContext } from './context.js';
import { LEVER_WEBHOOK_EVENTS, type WebhookEvent } from './webhook-events.js';
import { checkWebhookUrl, type WebhookConfiguration } from './webhook-input.js';
import { controlWebhookView, createdWebhookView } from './webhook-views.js';

const ACCOUNT = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as const;
const ENVIRONMENT = { type: 'string', enum: ['production', 'sandbox'], default: 'production' } as const;
const EVENT = { type: 'string', enum: [...LEVER_WEBHOOK_EVENTS] } as const;

interface AdminWebhookBody {
  account: string;
  environment: ApiEnvironment;
  url: string;
  event: WebhookEvent;
  configuration?: WebhookConfiguration;
}

interface EmitBody {
  account: string;
  environment: ApiEnvironment;
  event: WebhookEvent;
  data?: Record<string, unknown>;
}

/**
 * The control plane's side of Lever's webhooks: play the Lever admin who creates a webhook in the settings
 * (the API then lists it but may not change it), emit any of the ten events, and read every webhook and
 * every delivery. Listings never carry signature tokens; only the creation answer does.
 */
export async function webhookControlRoutes(app: FastifyInstance, { ctx }: { ctx: SimContext }) {
  app.get('/webhooks', async () => ctx.webhooks.list().map(controlWebhookView));

  app.post<{ Body: AdminWebhookBody }>(
    '/webhooks',
    {
      schema: {
        body: {
          type: 'object',
          required: ['account', 'url', 'event'],
          additionalProperties: false,
          properties: {
            account: ACCOUNT,
            environment: ENVIRONMENT,
            url: { type: 'string' },
            event: EVENT,
            configuration: { type: 'object', properties: { conditions: { type: 'object' } } },
          },
        },
      },
    },
    async (request, reply) => {
      const url = checkWebhookUrl(request.body.url, ctx.options.allowHttpWebhooks ?? true);
      if (!url.ok) return reply.code(400).send({ error: 'bad_request', message: url.message });
      const { conditions } = request.body.configuration ?? {};
      const webhook = ctx.webhooks.create({
        account: request.body.account,
        environment: request.body.environment,
        url: url.value,
        event: request.body.event,
        configuration: conditions ? { conditions } : {},
        createdAt: ctx.clock.now(),
        createdVia: 'admin',
      });
      ctx.stats.increment('webhooksCreated');
      // The admin copies the signature token from Lever's settings page; this answer is that page.
      return reply.code(201).send({ ...createdWebhookView(webhook), account: webhook.account, environment: webhook.environment });
    },
  );

  app.get('/webhooks/deliveries', async () => ctx.deliveries.list());

  app.post<{ Body: EmitBody }>(
    '/webhooks/emit',
    {
      schema: {
        body: {
          type: 'object',
          required: ['account', 'event'],
          additionalProperties: false,
          properties: { account: ACCOUNT, environment: ENVIRONMENT, event: EVENT, data: { type: 'object' } },
        },
      },
    },
    async (request, reply) => {
      const { account, environment, event, data = {} } = request.body;
      return reply.code(202).send({ deliveries: ctx.deliveries.emit({ account, environment, event, data }) });
    },
  );
}
