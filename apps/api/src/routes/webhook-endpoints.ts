import type { FastifyInstance } from 'fastify';

/** Webhook endpoint management (admin): filled in by the webhooks work. */
export default async function webhookEndpointRoutes(app: FastifyInstance) {
  void app;
}
