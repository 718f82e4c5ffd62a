import oauth2, { type OAuth2Namespace } from '@fastify/oauth2';
import { LEVER_ENVIRONMENTS, type LeverEnvironment } from '@lever-connect/config';
import { ConnectFlowError } from '@lever-connect/connections';
import type { ConnectSession } from '@lever-connect/db';
import { AppError } from '@lever-connect/errors';
import { classifyTokenFailure, type TokenFailure } from '@lever-connect/lever';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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

/**
 * The flow's cookies. Secure ones (every deployment but ALLOW_INSECURE_DEV) carry the `__Host-` prefix, which
 * the browser honours only for a Secure, host-only cookie of path `/`: no subdomain and no plain-http page can
 * plant a state or verifier cookie of its own (cookie tossing).
 */
const cookieName = (kind: 'state' | 'pkce', env: LeverEnvironment, secure: boolean) => `${secure ? '__Host-' : ''}lc_oauth_${kind}_${env}`;

/** The state this browser was given when it started the flow in `environment` (double-submit cookie). */
export function stateCookieOf(request: FastifyRequest, environment: LeverEnvironment): string | undefined {
  return request.cookies[cookieName('state', environment, request.server.core.config.secureCookies)];
}

/** What simple-oauth2 (@hapi/wreck) throws: a Boom error, with Lever's answer when there was one. */
interface WreckError {
  isBoom?: boolean;
  message?: string;
  output?: { statusCode?: number };
  data?: { isResponseError?: boolean; payload?: unknown; res?: { statusCode?: number; headers?: Record<string, unknown> } };
}

/** Translates simple-oauth2's failure into the Lever client's vocabulary (classify on Lever's `error`, not the status). */
function exchangeFailure(error: WreckError): TokenFailure {
  const status = error.data?.res?.statusCode;
  if (status !== undefined) {
    const retryAfter = error.data?.res?.headers?.['retry-after'];
    return classifyTokenFailure({
      type: 'http',
      status,
      // A 2xx that could not be read (not JSON) has no payload: classified as a bad response.
      body: error.data?.isResponseError ? error.data.payload : undefined,
      retryAfter: typeof retryAfter === 'string' ? retryAfter : null,
    });
  }
  // No answer at all: Wreck's own timeout (504 "Client request timeout") or a connection error (502).
  const timedOut = error.output?.statusCode === 504;
  return classifyTokenFailure({ type: 'network', error: { name: timedOut ? 'TimeoutError' : 'Error' }, requestSent: true });
}

/**
 * Exchanges the callback's code with the environment's @fastify/oauth2 registration, which first runs
 * `checkStateFunction` (the state consumed, bound to this browser and session). Lever's refusals come back as
 * a classified failure; a state found invalid is a `state_invalid` error.
 */
export async function exchangeAuthorizationCode(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  session: ConnectSession,
  environment: LeverEnvironment,
): Promise<{ response: unknown } | { failure: TokenFailure }> {
  const oauth = app.leverOAuth[environment];
  if (!oauth) throw new AppError('environment_not_configured', `The ${environment} environment is not configured`, 400);
  request.connectSession = session;
  try {
    return { response: (await oauth.getAccessTokenFromAuthorizationCodeFlow(request, reply)).token };
  } catch (error) {
    if ((error as Error).message === 'Invalid state') {
      throw new ConnectFlowError('state_invalid', 'The state is unknown, expired, already used or from another browser', 400);
    }
    // Anything but a Boom error is ours (e.g. Redis down while consuming the state), not Lever's answer.
    if (!(error as WreckError).isBoom) throw error;
    return { failure: exchangeFailure(error as WreckError) };
  }
}

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
        redirectStateCookieName: cookieName('state', environment, config.secureCookies),
        verifierCookieName: cookieName('pkce', environment, config.secureCookies),
        // `__Host-` needs path `/`; without it (local http) the cookies go only to the callback.
        cookie: config.secureCookies
          ? { path: '/', httpOnly: true, sameSite: 'lax', secure: true }
          : { path: '/oauth/callback', httpOnly: true, sameSite: 'lax', secure: false },
        userAgent: 'lever-connect',
        generateStateFunction: async (request: FastifyRequest) => {
          if (!request.connectSession) throw new Error('no connect session on the request');
          return app.core.connect.issueState(request.connectSession, request.connectMode);
        },
        checkStateFunction: async (request: FastifyRequest) => {
          const state = (request.query as { state?: string }).state ?? '';
          // Bound to this browser (the cookie set when the flow started), compared before it is consumed: a
          // forged or crossed callback must not burn the customer's state. Then bound to this session.
          const stored = await app.core.connect.consumeBoundState(state, stateCookieOf(request, environment));
          return Boolean(stored && stored.sessionId === request.connectSession?.id && stored.environment === environment);
        },
      });
      namespaces[environment] = (app as unknown as Record<string, OAuth2Namespace>)[name]!;
    }
    app.decorate('leverOAuth', namespaces);
  },
  { name: 'lever-oauth', dependencies: ['core'] },
);
