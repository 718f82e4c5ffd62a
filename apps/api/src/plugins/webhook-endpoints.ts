import { createWebhookEndpointService, createWebhookQueue, enqueueDeliveryNow, type WebhookEndpointService } from '@lever-connect/webhooks';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    webhookEndpoints: WebhookEndpointService;
  }
}

/**
 * The webhook endpoint service (packages/webhooks), over the domain's database and tenants. Test sends and
 * retries go to the delivery queue at once; if Redis is down the worker's sweep finds the rows.
 */
export default fp(
  async function webhookEndpointsPlugin(app: FastifyInstance) {
    const { prisma, cipher, config, queueRedis, log, tenantIdOf } = app.core;
    const queue = createWebhookQueue(queueRedis, config.redisPrefix);
    queue.on('error', () => undefined);
    app.addHook('onClose', async () => {
      await queue.close().catch(() => undefined);
    });
    app.decorate(
      'webhookEndpoints',
      createWebhookEndpointService({
        prisma,
        cipher,
        config,
        tenantIdOf,
        enqueueNow: (deliveryId) =>
          enqueueDeliveryNow(queue, deliveryId).catch((err: Error) => {
            log.warn({ deliveryId, err: { message: err.message } }, 'could not enqueue the webhook delivery; the sweep will');
          }),
      }),
    );
  },
  { name: 'webhook-endpoints', dependencies: ['core'] },
);
