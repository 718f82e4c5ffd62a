import type { FastifyInstance } from 'fastify';

/** The queue dashboard (bull-board) at /admin/queues, behind an admin API key: filled in by the observability work. */
export default async function queueDashboardPlugin(app: FastifyInstance) {
  void app;
}
