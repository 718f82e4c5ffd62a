import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { accessTokenMinter, type MintAccessToken } from './access-tokens.js';
import { authenticateClient, oauthError, UNAUTHORIZED_CLIENT } from './client-auth.js';
import { exchangeCode, type CodeRejection } from './code-exchange.js';
import type { SimContext } from './context.js';
import { answerEarlyFault, DEFAULT_SLOW_MS, type Fault } from './faults.js';
import { issuerOf } from './issuer.js';
import { stringParam } from './params.js';
import { destroyConnection, pause } from './pause.js';
import { refreshGrant } from './refresh.js';
import { revokeGrant } from './revoke-grant.js';
import { trackRotationDelivery } from './rotation-delivery.js';
import type { RejectionReason } from './stats.js';
import type { Grant, IssuedTokens } from './store.js';

/** Auth0's exact descriptions; clients must classify on `error`, but matching text keeps the sim honest. */
const INVALID_REFRESH = 'Unknown or invalid refresh token.';
const CODE_DESCRIPTIONS: Record<CodeRejection, string> = {
  invalid_code: 'Invalid authorization code',
  code_reuse: 'Invalid authorization code',
  code_expired: 'Invalid authorization code',
  client_mismatch: 'Invalid authorization code',
  redirect_uri_mismatch: 'The redirect_uri does not match the one used at /authorize',
  pkce_failed: 'Failed to verify code verifier',
};

function tokenBody(tokens: IssuedTokens, grant: Grant, now: number) {
  return {
    access_token: tokens.accessToken,
    ...(tokens.refreshToken ? { refresh_token: tokens.refreshToken } : {}),
    token_type: 'Bearer',
    scope: grant.scope.join(' '),
    // exp is whole seconds, so ceil gives exactly the TTL for a fresh token and the remainder for a replay.
    expires_in: Math.max(0, Math.ceil((tokens.accessTokenExpiresAt - now) / 1000)),
  };
}

/**
 * The minter a fault asks for: `wrong_audience` mints for Auth0's userinfo audience (the grant keeps the one it
 * asked for), `unreadable_access_token` hands out an opaque token instead of the JWT. Either is recorded as
 * issued (a leak scan finds it) and dies with its grant.
 */
function faultyMinter(ctx: Pick<SimContext, 'store'>, mint: MintAccessToken, fault: Fault | undefined, issuer: string): MintAccessToken {
  if (fault?.kind === 'wrong_audience') return (grant) => mint({ ...grant, audience: `${issuer}userinfo` });
  if (fault?.kind === 'unreadable_access_token') {
    return (grant) => {
      const { accessTokenExpiresAt } = mint(grant);
      const accessToken = randomBytes(24).toString('base64url');
      ctx.store.recordAccessToken(randomUUID(), grant.id, accessToken);
      return { accessToken, accessTokenExpiresAt };
    };
  }
  return mint;
}

export async function tokenEndpoint(app: FastifyInstance, { ctx }: { ctx: SimContext }) {
  const { stats, store } = ctx;

  app.post('/oauth/token', async (request, reply) => {
    stats.increment('tokenRequests');
    // Read now: once the client hangs up (while the latency holds the answer) the socket no longer knows it.
    const clientPort = request.socket.remotePort ?? null;
    const body = request.body;
    const grantType = stringParam(body, 'grant_type');
    const reject = (reason: RejectionReason, status: number, error: string, description: string, isRefresh = false) => {
      stats.reject(reason);
      if (isRefresh) stats.increment('refreshesRejected');
      return oauthError(reply, status, error, description);
    };
    if (!grantType) return reject('invalid_request', 400, 'invalid_request', 'Missing required parameter: grant_type');
    if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
      return reject('unsupported_grant_type', 400, 'unsupported_grant_type', `Unsupported grant type: ${grantType}`);
    }
    const isRefresh = grantType === 'refresh_token';

    const client = authenticateClient(ctx, request, body);
    if (!client) return reject('invalid_client', UNAUTHORIZED_CLIENT.status, UNAUTHORIZED_CLIENT.error, UNAUTHORIZED_CLIENT.description, isRefresh);

    const code = stringParam(body, 'code');
    const refreshToken = stringParam(body, 'refresh_token');
    if (!isRefresh && !code) return reject('invalid_request', 400, 'invalid_request', 'Missing required parameter: code');
    if (isRefresh && !refreshToken) {
      return reject('invalid_request', 400, 'invalid_request', 'Missing required parameter: refresh_token', true);
    }

    // Faults may be aimed at one Lever account: find it without touching any state.
    const presentedGrant = refreshToken ? store.findGrant(store.findRefreshToken(refreshToken)?.grantId ?? '') : undefined;
    const account = code ? store.findCode(code)?.account : presentedGrant?.account;
    const fault: Fault | undefined = ctx.faults.take('token', account);
    if (fault) {
      stats.increment('faultsInjected');
      const answered = await answerEarlyFault(fault, reply, ctx.shutdown.signal, (status) => ({
        error: status === 429 ? 'too_many_requests' : 'server_error',
        error_description: status === 429 ? 'Rate limit exceeded' : 'Service unavailable',
      }));
      if (answered) return reply;
    }
    await pause(ctx.config.latencyMs, reply, ctx.shutdown.signal);

    // From here to the answer nothing awaits: the check and the rotation are one step.
    const now = ctx.clock.now();
    const issuer = issuerOf(ctx, request);
    const mint = faultyMinter(ctx, accessTokenMinter(ctx, issuer), fault, issuer);
    let answer: { status: number; body: unknown };
    if (fault?.kind === 'invalid_grant') {
      if (presentedGrant) revokeGrant(ctx, presentedGrant, 'fault_injected');
      const found = code ? store.findCode(code) : undefined;
      if (found) found.used = true;
      stats.reject('fault_invalid_grant');
      if (isRefresh) stats.increment('refreshesRejected');
      answer = { status: 403, body: { error: 'invalid_grant', error_description: isRefresh ? INVALID_REFRESH : CODE_DESCRIPTIONS.invalid_code } };
    } else if (isRefresh) {
      const outcome = refreshGrant(ctx, { clientId: client.clientId, refreshToken: refreshToken! }, mint);
      if (outcome.ok) {
        stats.increment('refreshesOk');
        // A leeway replay hands back a rotation already counted; only a real rotation is tracked.
        if (!outcome.replayed) trackRotationDelivery(ctx, outcome.grant, reply, clientPort);
        answer = { status: 200, body: tokenBody(outcome.tokens, outcome.grant, now) };
      } else {
        stats.reject(outcome.reason);
        stats.increment('refreshesRejected');
        answer = { status: 403, body: { error: 'invalid_grant', error_description: INVALID_REFRESH } };
      }
    } else {
      const outcome = exchangeCode(
        ctx,
        { clientId: client.clientId, code: code!, redirectUri: stringParam(body, 'redirect_uri'), codeVerifier: stringParam(body, 'code_verifier') },
        mint,
      );
      if (outcome.ok) {
        stats.increment('codeExchanges');
        trackRotationDelivery(ctx, outcome.grant, reply, clientPort);
        answer = { status: 200, body: tokenBody(outcome.tokens, outcome.grant, now) };
      } else {
        stats.reject(outcome.reason);
        answer = { status: 403, body: { error: 'invalid_grant', error_description: CODE_DESCRIPTIONS[outcome.reason] } };
      }
    }

    if (fault?.kind === 'timeout_after_rotation') {
      destroyConnection(reply);
      return reply;
    }
    if (fault?.kind === 'slow') await pause(fault.delayMs ?? DEFAULT_SLOW_MS, reply, ctx.shutdown.signal);
    return reply.code(answer.status).header('cache-control', 'no-store').header('pragma', 'no-cache').send(answer.body);
  });
}
