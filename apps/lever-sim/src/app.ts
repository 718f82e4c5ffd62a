import formbody from '@fastify/formbody';
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import { apiRoutes } from './api.js';
import { authorizeRoutes } from './authorize.js';
import { createSimContext, type SimContext } from './context.js';
import { controlRoutes } from './control.js';
import type { SimOptions } from './options.js';
import { revokeEndpoint } from './revoke-endpoint.js';
import { noteNextRequest } from './rotation-delivery.js';
import { tokenEndpoint } from './token-endpoint.js';
import { webhookControlRoutes } from './webhooks-control.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The simulator's state, for in-process callers (startSim); HTTP clients use /__sim/*. */
    sim: SimContext;
  }
}

/**
 * The simulator as a Fastify app that never listens (server.ts and startSim do). Request logging is off
 * and secrets are redacted: URLs and bodies here carry codes and tokens, which must never reach a log.
 */
export function buildSim(options: SimOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: {
      level: options.logLevel ?? 'warn',
      redact: { paths: ['req.headers.authorization', '*.access_token', '*.refresh_token', '*.code', '*.client_secret', '*.token'], censor: '[redacted]' },
    },
    logController: new LogController({ disableRequestLogging: true }),
    // close() must not wait for keep-alive sockets of test clients.
    forceCloseConnections: true,
  });
  const ctx = createSimContext(options, app.log);
  app.decorate('sim', ctx);

  // Auth0 accepts JSON and form bodies; an empty JSON body is treated as `{}` so control calls stay terse.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch {
      done(Object.assign(new Error('Body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  });
  void app.register(formbody);

  // Each surface answers errors in its own dialect: OAuth JSON, Lever API JSON, or plain JSON.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'unhandled error');
    const message = status < 500 ? error.message : 'Internal error';
    if (request.url.startsWith('/oauth/')) {
      return reply.code(status).send({ error: status < 500 ? 'invalid_request' : 'server_error', error_description: message });
    }
    if (request.url.startsWith('/v1/') || request.url.startsWith('/sandbox/v1/')) {
      return reply.code(status).send({ code: status < 500 ? 'BadRequestError' : 'InternalServerError', message });
    }
    return reply.code(status).send({ error: status < 500 ? 'bad_request' : 'internal_error', message });
  });

  // Release requests held by timeout/slow faults, or close() would wait for them; stop webhook deliveries
  // (timers and requests in flight) so nothing outlives the app.
  app.addHook('preClose', async () => {
    ctx.shutdown.abort();
    ctx.deliveries.close();
  });

  // A client's next request on a kept-alive socket shows it read the answer before (rotation-delivery.ts).
  app.addHook('onRequest', async (request) => noteNextRequest(ctx.unreadAnswers, request.raw.socket));

  app.get('/healthz', async () => ({ ok: true }));
  void app.register(authorizeRoutes, { ctx });
  void app.register(tokenEndpoint, { ctx });
  void app.register(revokeEndpoint, { ctx });
  void app.register(apiRoutes, { ctx, environment: 'production', prefix: '/v1' });
  void app.register(apiRoutes, { ctx, environment: 'sandbox', prefix: '/sandbox/v1' });
  if (options.control ?? true) {
    void app.register(controlRoutes, { ctx, prefix: '/__sim' });
    void app.register(webhookControlRoutes, { ctx, prefix: '/__sim' });
  }
  return app;
}
