import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ValidationError } from '@lever-connect/errors';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { readReplayableBody, type DisposableBody } from '../proxy/replayable-body.js';
import { errorResponses, Uuid } from '../schemas.js';
import { viewerOf } from './connections.js';

/** The caller's own limit on waiting for the account's budget, ms (0 = fail fast). */
const MAX_WAIT_HEADER = 'x-lever-connect-max-wait-ms';
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function maxWaitOf(request: FastifyRequest): number | undefined {
  const value = request.headers[MAX_WAIT_HEADER];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,9}$/.test(value)) throw new ValidationError(`${MAX_WAIT_HEADER} must be a whole number of milliseconds`, { field: MAX_WAIT_HEADER });
  return Number(value);
}

/** The raw path after `/lever/` and the raw query string, exactly as the caller sent them. */
function splitRawUrl(url: string): { rawPath: string; query: string } {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  // /v1/connections/<id>/lever/<rest>: the id was validated as a UUID, so the rest starts after the fifth slash.
  const rawPath = path.split('/').slice(5).join('/');
  return { rawPath, query: q < 0 ? '' : url.slice(q) };
}

function hasBody(request: FastifyRequest): boolean {
  return BODY_METHODS.has(request.method) && (Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined);
}

/**
 * `/v1/connections/:id/lever/*`: the Lever API proxy (packages/connections/src/proxy/). Bodies are not
 * parsed here: the request body is read once as it comes (replayable-body.ts) and Lever's answer streams
 * back as it is, with our two headers saying how long the call waited in the account's budget and how many
 * attempts it took.
 */
export default async function leverProxyRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { config, proxy, metrics } = app.core;
  // Any content type, unparsed: the handler reads the raw stream (JSON, forms, multipart uploads alike).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  r.route({
    method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    url: '/v1/connections/:id/lever/*',
    bodyLimit: config.proxy.maxBodyBytes,
    schema: {
      tags: ['lever'],
      summary: "Call Lever's API for this connection, through the account's shared rate budget",
      description:
        "Forwards to the connection's Lever API base + the rest of the path, query string unchanged, with its current access token. " +
        "Lever's status, body and useful headers come back as they are; our own errors (ErrorResponse) name what went wrong. " +
        'x-lever-connect-wait-ms and x-lever-connect-attempts say how long the call waited for its turn and how many attempts it took.',
      params: Type.Object({ id: Uuid, '*': Type.String() }),
      response: {
        200: Type.Unknown({ description: "Lever's answer, as it is (any of Lever's statuses)" }),
        ...errorResponses(400, 401, 403, 404, 409, 413, 429, 502, 503),
      },
    },
    handler: async (request, reply) => {
      const { rawPath, query } = splitRawUrl(request.raw.url ?? request.url);
      const maxWaitMs = maxWaitOf(request);
      // The caller went away before its answer: a call still waiting for its turn gives up. (The response's
      // 'close', not the request's: the request stream also closes once its body has been read.)
      const gone = new AbortController();
      let body: DisposableBody | undefined;
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) gone.abort();
        void body?.dispose();
      });
      try {
        if (hasBody(request)) {
          body = await readReplayableBody(request.body as Readable, config.proxy.maxBodyBytes).catch((error: unknown) => {
            // The rest of the body was not read: this connection cannot carry another request.
            void reply.header('connection', 'close');
            throw error;
          });
        }
        const answer = await proxy.forward(request.params.id, {
          method: request.method,
          rawPath,
          query,
          headers: request.headers,
          body,
          maxWaitMs,
          viewer: viewerOf(request),
          signal: gone.signal,
        });
        metrics.proxyWait.observe(answer.waitedMs / 1000);
        metrics.proxyAttempts.observe(answer.attempts);
        // Lever's status, whatever it is (the schema's 200 stands for all of them).
        return reply
          .code(answer.status as 200)
          .headers({ ...answer.headers, 'x-lever-connect-wait-ms': String(answer.waitedMs), 'x-lever-connect-attempts': String(answer.attempts) })
          .send(answer.body);
      } catch (error) {
        await body?.dispose();
        body = undefined;
        throw error;
      }
    },
  });

  app.addHook('onResponse', async (request, reply) => {
    metrics.proxyRequests.inc({ method: request.method, status_class: `${Math.floor(reply.statusCode / 100)}xx` });
  });
}
