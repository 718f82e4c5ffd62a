import { sampleGauges } from '@lever-connect/connections';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** HTTP request metrics for every route, and `/metrics` (admin API key) in Prometheus text format. */
export default fp(
  async function metricsPlugin(app: FastifyInstance) {
    const { metrics } = app.core;
    app.addHook('onResponse', (request, reply, done) => {
      // The route pattern, never the raw URL: bounded label values, and no tokens in labels.
      metrics.http.observe(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      await sampleGauges({ metrics, prisma: app.core.prisma, queues: app.core.watchedQueues }).catch((err: unknown) =>
        app.log.warn({ err }, 'sampling gauges failed'),
      );
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
  },
  { name: 'metrics', dependencies: ['core'] },
);
