import type { FastifyInstance } from 'fastify';
import { lever, type ApiAnswer, type Serve } from './api-serve.js';
import type { SimContext } from './context.js';
import { addNote, addResume, changeStage, findOpportunity, isArchiveChanged, setArchived } from './opportunity-writes.js';
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
 * body is judged. A write that changes something emits Lever's webhook event for it (stage, archive state,
 * new application) to the account's webhooks in that environment; delivery runs in the background.
 */
export function writeRoutes(app: FastifyInstance, { ctx, serve }: { ctx: SimContext; serve: Serve }) {
  app.put<ById>('/opportunities/:id/stage', (request, reply) =>
    serve(request, reply, ({ data, environment }) => {
      const opportunity = findOpportunity(data, request.params.id);
      if (!opportunity) return OPPORTUNITY_NOT_FOUND;
      const stageId = stringParam(request.body, 'stage');
      if (!stageId) return badRequest('stage is required');
      const change = changeStage(data, opportunity, stageId, ctx.clock.now());
      if (!change) return badRequest('Unknown stage');
      if (change.fromStageId !== change.toStageId) {
        ctx.deliveries.emit({
          account: data.id,
          environment,
          event: 'candidateStageChange',
          data: { opportunityId: opportunity.id, toStageId: change.toStageId, fromStageId: change.fromStageId, contactId: opportunity.contact },
        });
      }
      return { status: 200, body: { data: opportunity } };
    }),
  );

  app.put<ById>('/opportunities/:id/archived', (request, reply) =>
    serve(request, reply, ({ data, environment }) => {
      const opportunity = findOpportunity(data, request.params.id);
      if (!opportunity) return OPPORTUNITY_NOT_FOUND;
      const body = request.body;
      // `{reason: null}` unarchives, so the key must be there; a missing key is a mistake, not an unarchive.
      const reason = body && typeof body === 'object' && 'reason' in body ? (body as { reason: unknown }).reason : undefined;
      if (reason !== null && (typeof reason !== 'string' || reason === '')) return badRequest('reason must be an archive reason id, or null to unarchive');
      const change = setArchived(opportunity, reason, ctx.clock.now());
      if (isArchiveChanged(change)) {
        ctx.deliveries.emit({
          account: data.id,
          environment,
          event: 'candidateArchiveChange',
          data: { opportunityId: opportunity.id, toArchived: change.toArchived, fromArchived: change.fromArchived, contactId: opportunity.contact },
        });
      }
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
      ({ data, environment }) => {
        const opportunity = findOpportunity(data, request.params.id);
        if (!opportunity) return OPPORTUNITY_NOT_FOUND;
        const postingId = stringParam(request.body, 'postingId') ?? null;
        if (postingId && !data.postings.some((p) => p.id === postingId)) return badRequest('Unknown postingId');
        const application = ctx.accounts.createApplication(data.id, opportunity.id, postingId, ctx.clock.now())!;
        ctx.deliveries.emit({
          account: data.id,
          environment,
          event: 'applicationCreated',
          data: { opportunityId: opportunity.id, applicationId: application.id, contactId: opportunity.contact, postingId },
        });
        return { status: 201, body: { data: application } };
      },
      'applications',
    ),
  );
}
