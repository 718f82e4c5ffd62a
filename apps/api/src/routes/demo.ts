import type { FastifyInstance } from 'fastify';

/** Development-only demo page (apps/api serves it outside production). Filled in by the connect-button work. */
export default async function demoRoutes(app: FastifyInstance) {
  void app;
}
