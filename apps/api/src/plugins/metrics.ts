import { sampleGauges } from '@lever-connect/connections';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** HTTP request metrics for every route, and `/metrics` (admin API key) in Prometheus text format. */
export default fp(
  async function metricsPlugin(app: FastifyInstance) {
    const { metrics } = app.core;
    app.addHook('onResponse', async (request, reply) => {
      // The route pattern, never the raw URL: bounded label values, and no tokens in labels.
      const route = request.routeOptions.url ?? 'unmatched';
      const labels = { route, method: request.method };
      metrics.httpRequests.inc({ ...labels, status: String(reply.statusCode) });
      metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    });
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      await sampleGauges({ metrics, prisma: app.core.prisma, queues: [app.core.refreshQueue] }).catch((err: unknown) =>
        app.log.warn({ err }, 'sampling gauges failed'),
      );
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
  },
  { name: 'metrics', dependencies: ['core'] },
);
