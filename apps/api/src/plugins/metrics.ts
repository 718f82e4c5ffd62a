import { sampleGauges } from '@lever-connect/connections';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** HTTP request metrics for every route, and `/metrics` (admin API key) in Prometheus text format. */
export default fp(
  async function metricsPlugin(app: FastifyInstance) {
    const { metrics } = app.core;
    // prom-client validates and hashes a label object on every call; the label sets here are bounded
    // (route pattern × method × status), so each one's series is bound once and reused on the hot path.
    const series = new Map<string, { requests: { inc(): void }; duration: { observe(v: number): void } }>();
    app.addHook('onResponse', (request, reply, done) => {
      // The route pattern, never the raw URL: bounded label values, and no tokens in labels.
      const route = request.routeOptions.url ?? 'unmatched';
      const key = `${request.method} ${route} ${reply.statusCode}`;
      let s = series.get(key);
      if (!s) {
        s = {
          requests: metrics.httpRequests.labels(route, request.method, String(reply.statusCode)),
          duration: metrics.httpDuration.labels(route, request.method),
        };
        series.set(key, s);
      }
      s.requests.inc();
      s.duration.observe(reply.elapsedTime / 1000);
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
