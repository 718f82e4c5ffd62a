import type { FastifyInstance } from 'fastify';
import { authenticateClient, oauthError, UNAUTHORIZED_CLIENT } from './client-auth.js';
import type { SimContext } from './context.js';
import { answerEarlyFault, DEFAULT_SLOW_MS } from './faults.js';
import { stringParam } from './params.js';
import { destroyConnection, pause } from './pause.js';
import { revokeGrant } from './revoke-grant.js';

/**
 * Auth0's `POST /oauth/revoke` (RFC 7009): `token` (a refresh token), client credentials in the body or as
 * HTTP Basic, form or JSON. Lever documents no revocation; Auth0's endpoint may exist on Lever's host, so
 * lever-connect calls it best-effort on disconnect and never depends on it.
 *
 * Revoking a refresh token revokes its whole grant (every refresh token and access token of the family),
 * whether the token is the live one or an already rotated one. An unknown token, an access token, or a
 * refresh token of another client is answered 200 like a success and revokes nothing: RFC 7009 says an
 * invalid token is no error, and a client must not learn about, or end, another client's grants.
 *
 * Faults at target `revoke` (after the client check, `matchAccount` = the token's grant's account): the early
 * kinds answer or drop without revoking; `timeout_after_rotation` revokes and then drops the answer; `slow`
 * revokes and answers late. They let a test prove a disconnect does not depend on this endpoint.
 */
export async function revokeEndpoint(app: FastifyInstance, { ctx }: { ctx: SimContext }) {
  app.post('/oauth/revoke', async (request, reply) => {
    const body = request.body;
    const client = authenticateClient(ctx, request, body);
    if (!client) {
      ctx.stats.reject('revoke_invalid_client');
      return oauthError(reply, UNAUTHORIZED_CLIENT.status, UNAUTHORIZED_CLIENT.error, UNAUTHORIZED_CLIENT.description);
    }
    const token = stringParam(body, 'token');
    if (!token) {
      ctx.stats.reject('revoke_invalid_request');
      return oauthError(reply, 400, 'invalid_request', 'Missing required parameter: token');
    }
    const record = ctx.store.findRefreshToken(token);
    const grant = record ? ctx.store.findGrant(record.grantId) : undefined;
    const fault = ctx.faults.take('revoke', grant?.account);
    if (fault) {
      ctx.stats.increment('faultsInjected');
      const answered = await answerEarlyFault(fault, reply, ctx.shutdown.signal, (status) => ({
        error: status === 429 ? 'too_many_requests' : 'server_error',
        error_description: status === 429 ? 'Rate limit exceeded' : 'Service unavailable',
      }));
      if (answered) return reply;
    }
    await pause(ctx.config.latencyMs, reply, ctx.shutdown.signal);

    if (grant && grant.clientId === client.clientId) revokeGrant(ctx, grant, 'client_revoked');
    ctx.stats.increment('revocations');
    if (fault?.kind === 'timeout_after_rotation') {
      destroyConnection(reply);
      return reply;
    }
    if (fault?.kind === 'slow') await pause(fault.delayMs ?? DEFAULT_SLOW_MS, reply, ctx.shutdown.signal);
    return reply.code(200).header('cache-control', 'no-store').send();
  });
}
