import type { FastifyInstance } from 'fastify';
import { lever, type ApiAnswer, type Serve } from './api-serve.js';
import type { SimContext } from './context.js';
import { addNote, addResume, changeStage, findOpportunity, setArchived } from './opportunity-writes.js';
import { stringParam } from './params.js';
import { readUpload } from './upload.js';

type ById = { Params: { id: string } };

const OPPORTUNITY_NOT_FOUND = lever(404, 'ResourceNotFound', 'Opportunity not found');

function badRequest(message: string): ApiAnswer {
  return lever(400, 'BadRequestError', message);
}

/**
 * The API's writes on opportunities. Each runs inside `serve` (auth, faults, the account's bucket), so a
 * write is counted, rate-limited and fault-injected like a read; an unknown opportunity is 404 before the
 * body is judged.
 */
export function writeRoutes(app: FastifyInstance, { ctx, serve }: { ctx: SimContext; serve: Serve }) {
  app.put<ById>('/opportunities/:id/stage', (request, reply) =>
    serve(request, reply, ({ data }) => {
      const opportunity = findOpportunity(data, request.params.id);
      if (!opportunity) return OPPORTUNITY_NOT_FOUND;
      const stageId = stringParam(request.body, 'stage');
      if (!stageId) return badRequest('stage is required');
      const change = changeStage(data, opportunity, stageId, ctx.clock.now());
      if (!change) return badRequest('Unknown stage');
      return { status: 200, body: { data: opportunity } };
    }),
  );

  app.put<ById>('/opportunities/:id/archived', (request, reply) =>
    serve(request, reply, ({ data }) => {
      const opportunity = findOpportunity(data, request.params.id);
      if (!opportunity) return OPPORTUNITY_NOT_FOUND;
      const body = request.body;
      // `{reason: null}` unarchives, so the key must be there; a missing key is a mistake, not an unarchive.
      const reason = body && typeof body === 'object' && 'reason' in body ? (body as { reason: unknown }).reason : undefined;
      if (reason !== null && (typeof reason !== 'string' || reason === '')) return badRequest('reason must be an archive reason id, or null to unarchive');
      setArchived(opportunity, reason, ctx.clock.now());
      return { status: 200, body: { data: opportunity } };
    }),
  );

  app.post<ById>('/opportunities/:id/notes', (request, reply) =>
    serve(request, reply, ({ data }) => {
      const opportunity = findOpportunity(data, request.params.id);
      if (!opportunity) return OPPORTUNITY_NOT_FOUND;
      const value = stringParam(request.body, 'value');
      if (!value || value.trim() === '') return badRequest('value is required');
      return { status: 201, body: { data: addNote(data, opportunity, value, ctx.clock.now()) } };
    }),
  );

  app.post<ById>('/opportunities/:id/resumes', (request, reply) =>
    serve(request, reply, async ({ data }) => {
      const opportunity = findOpportunity(data, request.params.id);
      if (!opportunity) return OPPORTUNITY_NOT_FOUND;
      const upload = await readUpload(request, 'file');
      if (!upload.ok) return upload.status === 413 ? lever(413, 'PayloadTooLarge', upload.message) : badRequest(upload.message);
      const resume = addResume(data, opportunity, upload.file, ctx.clock.now());
      return { status: 201, body: { data: resume } };
    }),
  );

  app.post<ById>('/opportunities/:id/applications', (request, reply) =>
    serve(
      request,
      reply,
      ({ data }) => {
        const postingId = stringParam(request.body, 'postingId') ?? null;
        if (postingId && !data.postings.some((p) => p.id === postingId)) return badRequest('Unknown postingId');
        const application = ctx.accounts.createApplication(data.id, request.params.id, postingId, ctx.clock.now());
        return application ? { status: 201, body: { data: application } } : OPPORTUNITY_NOT_FOUND;
      },
      'applications',
    ),
  );
}
