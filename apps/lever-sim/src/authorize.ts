import type { FastifyInstance, FastifyReply } from 'fastify';
import { effectiveAudience, isApiAudience, PRODUCTION_AUDIENCE, SANDBOX_AUDIENCE } from './audiences.js';
import { renderConsentPage, renderErrorPage } from './consent-page.js';
import type { SimContext } from './context.js';
import { adminUserId } from './data.js';
import { issuerOf } from './issuer.js';
import { stringParam } from './params.js';
import { CONSENT_TTL_MS, type PendingConsent } from './pending-consents.js';
import { grantedScopes, parseScope } from './scopes.js';

export const DEFAULT_ACCOUNT = 'acct_default';
const ACCOUNT_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

function redirectWith(reply: FastifyReply, redirectUri: string, params: Record<string, string | undefined>) {
  const url = new URL(redirectUri);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  return reply.header('cache-control', 'no-store').redirect(url.toString(), 302);
}

function htmlError(reply: FastifyReply, status: number, title: string, message: string) {
  return reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(renderErrorPage(title, message));
}

function environmentName(audience: string): string {
  if (audience === PRODUCTION_AUDIENCE) return 'production';
  if (audience === SANDBOX_AUDIENCE) return 'sandbox';
  return 'no API access';
}

/** GET /authorize (validate, then consent page or auto-approve) and POST /authorize/decision (the click). */
export async function authorizeRoutes(app: FastifyInstance, { ctx }: { ctx: SimContext }) {
  const approve = (reply: FastifyReply, consent: PendingConsent) => {
    const code = ctx.store.createCode({
      clientId: consent.clientId,
      redirectUri: consent.redirectUri,
      account: consent.account,
      userId: adminUserId(consent.account),
      audience: consent.audience,
      scope: consent.scope,
      createdAt: ctx.clock.now(),
      ...(consent.codeChallenge ? { codeChallenge: consent.codeChallenge } : {}),
    });
    ctx.stats.increment('authorizations');
    return redirectWith(reply, consent.redirectUri, { code, state: consent.state });
  };

  app.get('/authorize', async (request, reply) => {
    const q = request.query;
    const clientId = stringParam(q, 'client_id');
    const client = clientId ? ctx.clients.find(clientId) : undefined;
    if (!client) return htmlError(reply, 400, 'Unknown application', `No OAuth application with client_id "${clientId ?? ''}".`);
    const redirectUri = stringParam(q, 'redirect_uri');
    if (!redirectUri || !ctx.clients.isRedirectAllowed(client, redirectUri)) {
      return htmlError(reply, 400, 'Callback URL mismatch', `The redirect_uri "${redirectUri ?? ''}" is not registered for ${client.name}.`);
    }
    const state = stringParam(q, 'state');
    const fail = (error: string, description: string) =>
      redirectWith(reply, redirectUri, { error, error_description: description, state });

    if (stringParam(q, 'response_type') !== 'code') return fail('unsupported_response_type', 'Unsupported response type');
    const requested = parseScope(stringParam(q, 'scope'));
    if (requested.length === 0) return fail('invalid_request', 'Missing required parameter: scope');
    const codeChallenge = stringParam(q, 'code_challenge');
    if (codeChallenge && stringParam(q, 'code_challenge_method') !== 'S256') {
      return fail('invalid_request', 'Unsupported code_challenge_method: only S256 is allowed');
    }
    const requestedAudience = stringParam(q, 'audience');
    if (requestedAudience && !ctx.audiences.has(requestedAudience)) {
      return fail('access_denied', `Service not found: ${requestedAudience}`);
    }
    const account = stringParam(q, 'sim_account') ?? DEFAULT_ACCOUNT;
    if (!ACCOUNT_PATTERN.test(account)) return fail('invalid_request', 'sim_account must match [A-Za-z0-9_-]{1,64}');

    const audience = effectiveAudience(requestedAudience, ctx.config.mode, issuerOf(ctx, request));
    const consent: PendingConsent = {
      clientId: client.clientId,
      redirectUri,
      account,
      audience,
      scope: grantedScopes(requested, isApiAudience(audience)),
      expiresAt: ctx.clock.now() + CONSENT_TTL_MS,
      ...(state !== undefined ? { state } : {}),
      ...(codeChallenge ? { codeChallenge } : {}),
    };
    if (ctx.config.autoApprove || stringParam(q, 'sim_auto_approve') === '1') return approve(reply, consent);

    const requestId = ctx.pending.add(consent);
    const data = ctx.accounts.get(account);
    return reply
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(
        renderConsentPage({
          requestId,
          appName: client.name,
          accountName: data.name,
          userId: data.adminUserId,
          environment: environmentName(audience),
          scopes: consent.scope,
        }),
      );
  });

  app.post('/authorize/decision', async (request, reply) => {
    const requestId = stringParam(request.body, 'request_id');
    const consent = requestId ? ctx.pending.take(requestId, ctx.clock.now()) : undefined;
    if (!consent) return htmlError(reply, 400, 'Request expired', 'This authorization request has expired or was already answered.');
    if (stringParam(request.body, 'decision') === 'approve') return approve(reply, consent);
    return redirectWith(reply, consent.redirectUri, {
      error: 'access_denied',
      error_description: 'User did not authorize the request',
      state: consent.state,
    });
  });
}
