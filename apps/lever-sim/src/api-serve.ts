import type { FastifyReply, FastifyRequest } from 'fastify';
import { checkAccessToken } from './access-tokens.js';
import { API_AUDIENCE, type ApiEnvironment } from './audiences.js';
import type { SimContext } from './context.js';
import type { AccountData } from './data.js';
import { UNKNOWN_ACCOUNT } from './api-stats.js';
import { answerEarlyFault, DEFAULT_SLOW_MS, earlyFaultStatus } from './faults.js';
import { destroyConnection, pause } from './pause.js';
import { revokeGrant } from './revoke-grant.js';
import type { Grant } from './store.js';

export type ApiAnswer = { status: number; body: unknown; headers?: Record<string, string> };

/** What a handler gets once a request passed auth, faults and the rate limiter. */
export interface ApiCall {
  data: AccountData;
  grant: Grant;
  /** The access token's `scope` claim, split. */
  scopes: ReadonlySet<string>;
  environment: ApiEnvironment;
  request: FastifyRequest;
}

export type ApiHandler = (call: ApiCall) => ApiAnswer | Promise<ApiAnswer>;

/** Routes with a limit of their own on top of the account's bucket (LEVER.md: application POSTs 2/s). */
export type ExtraBucket = 'applications';

export type Serve = (request: FastifyRequest, reply: FastifyReply, handler: ApiHandler, extraBucket?: ExtraBucket) => Promise<FastifyReply>;

const UNAUTHORIZED_MESSAGES = {
  malformed: 'Invalid token',
  // Lever answers a token for another API (sandbox vs production, or the userinfo audience) this way.
  wrong_audience: 'Unable to find a signing key that matches',
  expired: 'Token expired',
  unknown: 'Invalid token',
  revoked: 'Token revoked',
} as const;

/** Lever's API error body. */
export function lever(status: number, code: string, message: string): ApiAnswer {
  return { status, body: { code, message } };
}

/**
 * The one path every API request takes, on both mounts: bearer check, faults, per-account rate limits,
 * then the handler. Handlers parse their own bodies (no route schemas) so that a malformed body is judged
 * after auth and the limiter, as Lever does, and every answer is counted in `/__sim/stats/api`.
 *
 * Faults come first and a taken fault is always applied: `503`/`500`/`429`/`timeout`/`reset` answer
 * before auth and rate limits (the request never reaches them), while `slow` and `timeout_after_rotation`
 * act on whatever answer the request gets, a rate-limit 429 or a 401 included. So a fault with `count: n`
 * hits exactly the next n matching requests, whether the account's bucket is empty or not.
 */
export function createServe(ctx: SimContext, environment: ApiEnvironment): Serve {
  const audience = API_AUDIENCE[environment];

  return async (request, reply, handler, extraBucket) => {
    ctx.stats.increment('apiCalls');
    const header = request.headers.authorization;
    const token = header?.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() : undefined;
    const check = token ? checkAccessToken(ctx, token, audience) : undefined;
    const account = check?.ok ? check.grant.account : check?.account;
    // Only a valid token names the account a request counts for; a refused one might name anybody.
    const statsKey = check?.ok ? `${environment}:${check.grant.account}` : UNKNOWN_ACCOUNT;

    const fault = ctx.faults.take('api', account);
    if (fault) {
      ctx.stats.increment('faultsInjected');
      const body = (status: number) =>
        status === 429 ? { code: 'TooManyRequests', message: 'Rate limit exceeded' } : { code: 'ServiceUnavailable', message: 'Service unavailable' };
      if (await answerEarlyFault(fault, reply, ctx.shutdown.signal, body)) {
        const status = earlyFaultStatus(fault.kind);
        if (status !== undefined) ctx.apiStats.answered(statsKey, status);
        return reply;
      }
    }
    await pause(ctx.config.latencyMs, reply, ctx.shutdown.signal);

    let answer: ApiAnswer;
    if (!check || !check.ok) {
      const reason = check ? check.reason : 'missing';
      ctx.stats.reject(`api_${reason}`);
      answer = lever(401, 'UNAUTHORIZED', check && !check.ok ? UNAUTHORIZED_MESSAGES[check.reason] : 'Missing bearer token');
    } else if (fault?.kind === 'invalid_grant') {
      revokeGrant(ctx, check.grant, 'fault_injected');
      ctx.stats.reject('api_fault_invalid_grant');
      answer = lever(401, 'UNAUTHORIZED', UNAUTHORIZED_MESSAGES.revoked);
    } else {
      const limited = ctx.limiter.take(statsKey, ctx.rateLimits.api);
      const limitedExtra = limited.ok && extraBucket ? ctx.limiter.take(`${statsKey}:${extraBucket}`, ctx.rateLimits[extraBucket]) : limited;
      if (limitedExtra.ok) {
        const scope = typeof check.claims.scope === 'string' ? check.claims.scope : '';
        const scopes = new Set(scope.split(' ').filter(Boolean));
        answer = await handler({ data: ctx.accounts.get(check.grant.account), grant: check.grant, scopes, environment, request });
        if (answer.status < 400) {
          // Counted when Lever did the work, whether or not the answer reaches the client afterwards.
          const now = ctx.clock.now();
          ctx.apiStats.accepted(statsKey, now);
          if (extraBucket) ctx.apiStats.accepted(`${statsKey}:${extraBucket}`, now);
        }
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
    ctx.apiStats.answered(statsKey, answer.status);
    return reply.code(answer.status).headers(answer.headers ?? {}).send(answer.body);
  };
}
