import type { FastifyInstance } from 'fastify';
import { authenticateClient, oauthError, UNAUTHORIZED_CLIENT } from './client-auth.js';
import type { SimContext } from './context.js';
import { stringParam } from './params.js';
import { pause } from './pause.js';
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
    await pause(ctx.config.latencyMs, reply, ctx.shutdown.signal);

    const record = ctx.store.findRefreshToken(token);
    const grant = record ? ctx.store.findGrant(record.grantId) : undefined;
    if (grant && grant.clientId === client.clientId) revokeGrant(ctx, grant, 'client_revoked');
    ctx.stats.increment('revocations');
    return reply.code(200).header('cache-control', 'no-store').send();
  });
}
