import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkAccessToken } from './access-tokens.js';
import { API_AUDIENCE, type ApiEnvironment } from './audiences.js';
import type { SimContext } from './context.js';
import type { AccountData } from './data.js';
import { answerEarlyFault, DEFAULT_SLOW_MS } from './faults.js';
import { paginate } from './pagination.js';
import { stringParam } from './params.js';
import { destroyConnection, pause } from './pause.js';
import type { BucketPolicy } from './rate-limit.js';
import { revokeGrant } from './revoke-grant.js';

type Answer = { status: number; body: unknown; headers?: Record<string, string> };
type Handler = (account: AccountData, request: FastifyRequest) => Answer;

const UNAUTHORIZED_MESSAGES = {
  malformed: 'Invalid token',
  // Lever answers a token for another API (sandbox vs production, or the userinfo audience) this way.
  wrong_audience: 'Unable to find a signing key that matches',
  expired: 'Token expired',
  unknown: 'Invalid token',
  revoked: 'Token revoked',
} as const;

function lever(status: number, code: string, message: string): Answer {
  return { status, body: { code, message } };
}

function list<T>(items: readonly T[], request: FastifyRequest): Answer {
  const result = paginate(items, { limit: stringParam(request.query, 'limit'), offset: stringParam(request.query, 'offset') });
  return result.ok ? { status: 200, body: result.page } : lever(400, 'BadRequestError', result.message);
}

/**
 * Lever's API for one environment, mounted at /v1 (production) and /sandbox/v1 (sandbox). Each mount
 * accepts only tokens minted for its own audience. Every request goes through `serve`: bearer check,
 * faults, per-account rate limits, then the handler.
 *
 * Faults come first and a taken fault is always applied: `503`/`500`/`429`/`timeout`/`reset` answer
 * before auth and rate limits (the request never reaches them), while `slow` and `timeout_after_rotation`
 * act on whatever answer the request gets, a rate-limit 429 or a 401 included. So a fault with `count: n`
 * hits exactly the next n matching requests, whether the account's bucket is empty or not.
 */
export async function apiRoutes(app: FastifyInstance, { ctx, environment }: { ctx: SimContext; environment: ApiEnvironment }) {
  const audience = API_AUDIENCE[environment];

  const serve = async (request: FastifyRequest, reply: FastifyReply, handler: Handler, extraLimit?: BucketPolicy) => {
    ctx.stats.increment('apiCalls');
    const header = request.headers.authorization;
    const token = header?.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() : undefined;
    const check = token ? checkAccessToken(ctx, token, audience) : undefined;
    const account = check?.ok ? check.grant.account : check?.account;

    const fault = ctx.faults.take('api', account);
    if (fault) {
      ctx.stats.increment('faultsInjected');
      const body = (status: number) =>
        status === 429 ? { code: 'TooManyRequests', message: 'Rate limit exceeded' } : { code: 'ServiceUnavailable', message: 'Service unavailable' };
      if (await answerEarlyFault(fault, reply, ctx.shutdown.signal, body)) return reply;
    }
    await pause(ctx.config.latencyMs, reply, ctx.shutdown.signal);

    let answer: Answer;
    if (!check || !check.ok) {
      const reason = check ? check.reason : 'missing';
      ctx.stats.reject(`api_${reason}`);
      answer = lever(401, 'UNAUTHORIZED', check && !check.ok ? UNAUTHORIZED_MESSAGES[check.reason] : 'Missing bearer token');
    } else if (fault?.kind === 'invalid_grant') {
      revokeGrant(ctx, check.grant, 'fault_injected');
      ctx.stats.reject('api_fault_invalid_grant');
      answer = lever(401, 'UNAUTHORIZED', UNAUTHORIZED_MESSAGES.revoked);
    } else {
      const key = `${environment}:${check.grant.account}`;
      const limited = ctx.limiter.take(key, ctx.rateLimits.api);
      const limitedExtra = limited.ok && extraLimit ? ctx.limiter.take(`${key}:${request.routeOptions.url}`, extraLimit) : limited;
      if (limitedExtra.ok) {
        answer = handler(ctx.accounts.get(check.grant.account), request);
      } else {
        ctx.stats.increment('rateLimited');
        answer = { ...lever(429, 'TooManyRequests', 'Rate limit exceeded'), headers: { 'retry-after': String(limitedExtra.retryAfterSeconds) } };
      }
    }

    if (fault?.kind === 'timeout_after_rotation') {
      destroyConnection(reply);
      return reply;
    }
    if (fault?.kind === 'slow') await pause(fault.delayMs ?? DEFAULT_SLOW_MS, reply, ctx.shutdown.signal);
    return reply.code(answer.status).headers(answer.headers ?? {}).send(answer.body);
  };

  app.get('/users', (request, reply) => serve(request, reply, (data) => list(data.users, request)));
  app.get('/stages', (request, reply) => serve(request, reply, (data) => list(data.stages, request)));
  app.get('/postings', (request, reply) => serve(request, reply, (data) => list(data.postings, request)));
  app.get('/opportunities', (request, reply) => serve(request, reply, (data) => list(data.opportunities, request)));
  app.get<{ Params: { id: string } }>('/opportunities/:id', (request, reply) =>
    serve(request, reply, (data) => {
      const opportunity = data.opportunities.find((o) => o.id === request.params.id);
      return opportunity ? { status: 200, body: { data: opportunity } } : lever(404, 'ResourceNotFound', 'Opportunity not found');
    }),
  );
  app.post<{ Params: { id: string } }>('/opportunities/:id/applications', (request, reply) =>
    serve(
      request,
      reply,
      (data) => {
        const postingId = stringParam(request.body, 'postingId') ?? null;
        if (postingId && !data.postings.some((p) => p.id === postingId)) return lever(400, 'BadRequestError', 'Unknown postingId');
        const application = ctx.accounts.createApplication(data.id, request.params.id, postingId, ctx.clock.now());
        return application ? { status: 201, body: { data: application } } : lever(404, 'ResourceNotFound', 'Opportunity not found');
      },
      ctx.rateLimits.applications,
    ),
  );
}
