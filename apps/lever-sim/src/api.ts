import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createServe, lever, type ApiAnswer } from './api-serve.js';
import { writeRoutes } from './api-writes.js';
import type { ApiEnvironment } from './audiences.js';
import type { SimContext } from './context.js';
import { findOpportunity } from './opportunity-writes.js';
import { paginate } from './pagination.js';
import { stringParam } from './params.js';

/** Every list of the API pages the same way (LEVER.md): `limit` 1..100, opaque `offset` from the previous `next`. */
export function list<T>(items: readonly T[], request: FastifyRequest): ApiAnswer {
  const result = paginate(items, { limit: stringParam(request.query, 'limit'), offset: stringParam(request.query, 'offset') });
  return result.ok ? { status: 200, body: result.page } : lever(400, 'BadRequestError', result.message);
}

/**
 * Lever's API for one environment, mounted at /v1 (production) and /sandbox/v1 (sandbox). Each mount
 * accepts only tokens minted for its own audience; every route goes through `serve` (api-serve.ts).
 */
export async function apiRoutes(app: FastifyInstance, { ctx, environment }: { ctx: SimContext; environment: ApiEnvironment }) {
  const serve = createServe(ctx, environment);
  // Parses nothing by itself: a route reads its parts when serve lets the request through (upload.ts), and an
  // oversized file is truncated and reported rather than thrown mid-stream.
  await app.register(multipart, { throwFileSizeLimit: false });

  app.get('/users', (request, reply) => serve(request, reply, ({ data }) => list(data.users, request)));
  app.get('/stages', (request, reply) => serve(request, reply, ({ data }) => list(data.stages, request)));
  app.get('/postings', (request, reply) => serve(request, reply, ({ data }) => list(data.postings, request)));
  app.get('/opportunities', (request, reply) => serve(request, reply, ({ data }) => list(data.opportunities, request)));
  app.get<{ Params: { id: string } }>('/opportunities/:id', (request, reply) =>
    serve(request, reply, ({ data }) => {
      const opportunity = findOpportunity(data, request.params.id);
      return opportunity ? { status: 200, body: { data: opportunity } } : lever(404, 'ResourceNotFound', 'Opportunity not found');
    }),
  );
  app.get<{ Params: { id: string } }>('/opportunities/:id/notes', (request, reply) =>
    serve(request, reply, ({ data }) => {
      const opportunity = findOpportunity(data, request.params.id);
      return opportunity ? list(data.notes.get(opportunity.id) ?? [], request) : lever(404, 'ResourceNotFound', 'Opportunity not found');
    }),
  );
  app.get<{ Params: { id: string } }>('/opportunities/:id/resumes', (request, reply) =>
    serve(request, reply, ({ data }) => {
      const opportunity = findOpportunity(data, request.params.id);
      return opportunity ? list(data.resumes.get(opportunity.id) ?? [], request) : lever(404, 'ResourceNotFound', 'Opportunity not found');
    }),
  );
  writeRoutes(app, { ctx, serve });
}
