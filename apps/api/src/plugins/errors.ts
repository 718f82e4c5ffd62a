import { isDatabaseUnavailable } from '@lever-connect/db';
import { AppError, RetryLaterError } from '@lever-connect/errors';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
  requestId: string;
}

/** Fastify's own 4xx (body parsing), by its error code; any other 4xx it raises is `bad_request`. */
const FASTIFY_CLIENT_ERRORS = new Map([
  ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 'unsupported_media_type'],
  ['FST_ERR_CTP_BODY_TOO_LARGE', 'body_too_large'],
  ['FST_ERR_CTP_INVALID_JSON_BODY', 'malformed_body'],
  ['FST_ERR_CTP_EMPTY_JSON_BODY', 'malformed_body'],
  ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', 'malformed_body'],
]);

/** Maps a thrown error to the one error shape. 5xx never echo internals. */
export function toErrorResponse(error: unknown, requestId: string): { status: number; body: ErrorBody; retryAfter?: number } {
  if (error instanceof AppError) {
    return {
      status: error.statusCode,
      body: { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) }, requestId },
      ...(error instanceof RetryLaterError ? { retryAfter: error.retryAfterSeconds } : {}),
    };
  }
  const fe = error as FastifyError & { validation?: Array<{ instancePath?: string; params?: Record<string, unknown>; message?: string }> };
  if (fe.validation) {
    const first = fe.validation[0];
    const missing = first?.params?.missingProperty as string | undefined;
    const extra = first?.params?.additionalProperty as string | undefined;
    const field = [fe.validationContext, (first?.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.'), missing ?? extra]
      .filter(Boolean)
      .join('.');
    const message = extra ? `unknown field "${extra}"` : (first?.message ?? 'invalid request');
    return {
      status: 400,
      body: { error: { code: 'validation_failed', message: `${field}: ${message}`, details: { field } }, requestId },
    };
  }
  if (isDatabaseUnavailable(error)) {
    return {
      status: 503,
      body: { error: { code: 'database_unavailable', message: 'The database is unavailable; retry shortly' }, requestId },
      retryAfter: 2,
    };
  }
  if (isRedisUnavailable(error)) {
    return {
      status: 503,
      body: { error: { code: 'redis_unavailable', message: 'Redis is unavailable; retry shortly' }, requestId },
      retryAfter: 2,
    };
  }
  const status = typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500 ? fe.statusCode : 500;
  if (status < 500) {
    const code = FASTIFY_CLIENT_ERRORS.get(fe.code) ?? (fe instanceof SyntaxError ? 'malformed_body' : 'bad_request');
    return { status, body: { error: { code, message: fe.message }, requestId } };
  }
  return { status: 500, body: { error: { code: 'internal_error', message: 'Internal server error' }, requestId } };
}

/** ioredis gives up on a command when Redis is gone (offline queue off, retries exhausted, closed). */
function isRedisUnavailable(error: unknown): boolean {
  const e = error as { name?: string; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  return e.name === 'MaxRetriesPerRequestError' || /^(Connection is closed|Stream isn't writeable)/.test(String(e.message ?? ''));
}

export function sendError(reply: FastifyReply, request: FastifyRequest, error: unknown) {
  const { status, body, retryAfter } = toErrorResponse(error, request.id);
  // A 503 is an outage or a retry signal the caller is told to wait out, not a bug: no stack at error level.
  if (status === 503) request.log.warn({ code: body.error.code }, 'request answered 503');
  else if (status >= 500) request.log.error({ err: error }, 'request failed');
  if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

export default fp(
  async function errorsPlugin(app: FastifyInstance) {
    app.setErrorHandler((error, request, reply) => sendError(reply, request, error));
    app.setNotFoundHandler((request, reply) =>
      reply.code(404).send({
        error: { code: 'route_not_found', message: `No route ${request.method} ${request.url.split('?')[0]}` },
        requestId: request.id,
      }),
    );
  },
  { name: 'errors' },
);
