import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { list } from './api-list.js';
import { createServe, lever } from './api-serve.js';
import { writeRoutes } from './api-writes.js';
import type { ApiEnvironment } from './audiences.js';
import type { SimContext } from './context.js';
import { findOpportunity } from './opportunity-writes.js';
import { webhookRoutes } from './webhooks-api.js';

/**
 * Lever's API for one environment, mounted at /v1 (production) and /sandbox/v1 (sandbox). Each mount
 * accepts only tokens minted for its own audience; every route goes through `serve` (api-serve.ts): the reads
 * here, the writes (api-writes.ts) and the Webhooks API (webhooks-api.ts).
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
  webhookRoutes(app, { ctx, serve });
}
