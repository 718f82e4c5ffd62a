import type { FastifyRequest } from 'fastify';
import { lever, type ApiAnswer } from './api-serve.js';
import { paginate } from './pagination.js';
import { stringParam } from './params.js';

/** Every list of the API pages the same way (LEVER.md): `limit` 1..100, opaque `offset` from the previous `next`. */
export function list<T>(items: readonly T[], request: FastifyRequest): ApiAnswer {
  const result = paginate(items, { limit: stringParam(request.query, 'limit'), offset: stringParam(request.query, 'offset') });
  return result.ok ? { status: 200, body: result.page } : lever(400, 'BadRequestError', result.message);
}
