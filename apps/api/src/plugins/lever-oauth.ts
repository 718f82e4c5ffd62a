import oauth2, { type OAuth2Namespace } from '@fastify/oauth2';
import { LEVER_ENVIRONMENTS, type LeverEnvironment } from '@lever-connect/config';
import type { ConnectSession } from '@lever-connect/db';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    leverOAuth: Record<LeverEnvironment, OAuth2Namespace>;
  }
  interface FastifyRequest {
    /** The connect session this request is working on (set by the connect routes before the plugin runs). */
    connectSession: ConnectSession | null;
    /** How the flow was opened: a popup posts its result to the opener, a redirect goes to returnUrl. */
    connectMode: 'popup' | 'redirect';
  }
}

export const STATE_COOKIE = 'lc_oauth_state';
const cookieName = (kind: 'state' | 'pkce', env: LeverEnvironment) => `lc_oauth_${kind}_${env}`;

/**
 * One @fastify/oauth2 registration per Lever environment, sharing one callback route. The state is ours:
 * random, single use (GETDEL in Redis), bound to the connect session, and expiring with it.
 */
export default fp(
  async function leverOAuthPlugin(app: FastifyInstance) {
    const { config } = app.core;
    app.decorateRequest('connectSession', null);
    app.decorateRequest('connectMode', 'redirect');
    const namespaces = {} as Record<LeverEnvironment, OAuth2Namespace>;
    for (const environment of LEVER_ENVIRONMENTS) {
      const env = config.lever.environments[environment];
      if (!env.clientId) continue;
      const name = `lever_${environment}`;
      await app.register(oauth2, {
        name,
        scope: env.scopes,
        credentials: {
          client: { id: env.clientId, secret: env.clientSecret },
          auth: {
            authorizeHost: env.authUrl,
            authorizePath: env.authorizePath,
            tokenHost: env.authUrl,
            tokenPath: env.tokenPath,
          },
          // Lever documents client_secret_post; @fastify/oauth2 defaults to HTTP Basic.
          options: { authorizationMethod: 'body', bodyFormat: 'form' },
          http: { timeout: config.lever.httpTimeoutMs },
        },
        callbackUri: config.connect.callbackUrl,
        // The audience is fixed per environment (never configurable): without it Lever's production tokens
        // silently fail against the API. prompt=consent makes the sandbox return a refresh token reliably.
        callbackUriParams: environment === 'sandbox' ? { audience: env.audience, prompt: 'consent' } : { audience: env.audience },
        pkce: 'S256',
        redirectStateCookieName: cookieName('state', environment),
        verifierCookieName: cookieName('pkce', environment),
        cookie: { path: '/oauth/callback', httpOnly: true, sameSite: 'lax', secure: config.isProduction },
        userAgent: 'lever-connect',
        generateStateFunction: async (request: FastifyRequest) => {
          if (!request.connectSession) throw new Error('no connect session on the request');
          return app.core.connect.issueState(request.connectSession, request.connectMode);
        },
        checkStateFunction: async (request: FastifyRequest) => {
          const state = (request.query as { state?: string }).state ?? '';
          const stored = await app.core.connect.consumeState(state);
          // Bound to this browser (the cookie set when the flow started) and to this session.
          const cookie = request.cookies[cookieName('state', environment)];
          return Boolean(stored && stored.sessionId === request.connectSession?.id && cookie === state);
        },
      });
      namespaces[environment] = (app as unknown as Record<string, OAuth2Namespace>)[name]!;
    }
    app.decorate('leverOAuth', namespaces);
  },
  { name: 'lever-oauth', dependencies: ['core'] },
);
