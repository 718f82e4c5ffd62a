import { randomUUID } from 'node:crypto';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Core } from '@lever-connect/connections';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import consoleRoutes from './console/index.js';
import consoleSessionPlugin from './console/session.js';
import authPlugin from './plugins/auth.js';
import corePlugin from './plugins/core.js';
import errorsPlugin from './plugins/errors.js';
import leverOAuthPlugin from './plugins/lever-oauth.js';
import metricsPlugin from './plugins/metrics.js';
import queueDashboardPlugin from './plugins/queue-dashboard.js';
import securityPlugin from './plugins/security.js';
import { buildRequestValidator } from './request-validation.js';
import webhookEndpointsPlugin from './plugins/webhook-endpoints.js';
import apiKeyRoutes from './routes/api-keys.js';
import connectButtonRoutes from './routes/connect-button.js';
import connectRoutes from './routes/connect.js';
import connectionRoutes, { ConnectionView } from './routes/connections.js';
import demoRoutes, { isDemoEnabled } from './routes/demo.js';
import eventRoutes from './routes/events.js';
import healthRoutes from './routes/health.js';
import leverProxyRoutes from './routes/lever-proxy.js';
import leverWebhookRoutes from './routes/lever-webhooks.js';
import overviewRoutes from './routes/overview.js';
import tenantRoutes from './routes/tenants.js';
import webhookEndpointRoutes from './routes/webhook-endpoints.js';
import { ErrorResponse } from './schemas.js';

const REQUEST_ID = /^[A-Za-z0-9_.-]{1,64}$/;

const trustHops = (hops: number) => (_address: string, hop: number) => hop < hops;

/**
 * One log line per request, when it is answered, not Fastify's two: the first carried nothing the second
 * lacks, and at thousands of calls a second each line is a visible share of the CPU. Written from Fastify's
 * own completion call, not from an onResponse hook (a hook is one more step on every request). Fastify's
 * other per-request lines stay off: the errors plugin logs the errors it answers.
 */
class OneLinePerRequest extends LogController {
  constructor() {
    super({ disableRequestLogging: true });
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) request.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else request.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

/** The api as a Fastify instance that does not listen (server.ts listens; tests inject or listen on port 0). */
export async function buildApp(deps: { core: Core; logger: Logger }): Promise<FastifyInstance> {
  const { config } = deps.core;
  const app = Fastify({
    loggerInstance: deps.logger,
    // Echo a caller's request id only when it is harmless (no log or header injection).
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    // request.ip is the customer's only when the proxies in front are trusted (per-address connect limit).
    // (A number of hops as the function Fastify builds from one; its types take no number in this overload.)
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    bodyLimit: 64 * 1024,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    return503OnClosing: true,
    // Bodies are validated as sent, query strings and params coerced; unknown fields are an error.
    schemaController: { compilersFactory: { buildValidator: buildRequestValidator() } },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 300 },
    logController: new OneLinePerRequest(),
  }) as unknown as FastifyInstance;
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });

  await app.register(corePlugin, { core: deps.core });
  await app.register(errorsPlugin);
  await app.register(securityPlugin);
  await app.register(cookie);
  await app.register(formbody);
  app.addSchema(ErrorResponse);
  app.addSchema(ConnectionView);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'lever-connect', version: '0.1.0', description: 'Connect Lever accounts and keep their OAuth tokens valid.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'lc_... API key' } } },
      security: [{ apiKey: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (json.$id as string) ?? `def-${i}` },
  });
  // The console's sessions before auth: a console cookie stands for its key on /v1 routes (console/session.ts).
  await app.register(consoleSessionPlugin);
  await app.register(authPlugin);
  await app.register(metricsPlugin);
  await app.register(queueDashboardPlugin);
  await app.register(webhookEndpointsPlugin);
  await app.register(leverOAuthPlugin);
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes);
  await app.register(connectRoutes);
  await app.register(connectButtonRoutes);
  await app.register(connectionRoutes);
  await app.register(leverProxyRoutes);
  await app.register(leverWebhookRoutes);
  await app.register(apiKeyRoutes);
  await app.register(tenantRoutes);
  await app.register(eventRoutes);
  await app.register(overviewRoutes);
  await app.register(webhookEndpointRoutes);
  await app.register(consoleRoutes);
  // The demo serves unauthenticated pages: only ever against the simulator, never with real Lever data.
  if (isDemoEnabled(config)) await app.register(demoRoutes);
  return app;
}
