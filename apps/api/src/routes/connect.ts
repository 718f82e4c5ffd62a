import { randomBytes } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { LEVER_EVENTS, WEBHOOK_SCOPES } from '@lever-connect/config';
import type { ConnectService } from '@lever-connect/connections';
import type { ConnectSession } from '@lever-connect/db';
import { AppError } from '@lever-connect/errors';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { connectResultPage, type ConnectOutcome } from '../pages/connect-result.js';
import { sendError, toErrorResponse } from '../plugins/errors.js';
import { exchangeAuthorizationCode, stateCookieOf } from '../plugins/lever-oauth.js';
import { connectRateLimit } from '../plugins/security.js';
import { DateTime, errorResponses, LeverEnvironmentSchema, Uuid } from '../schemas.js';

const ConnectSessionBody = Type.Object(
  {
    tenant: Type.Object(
      {
        externalId: Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s].*$' }),
        name: Type.Optional(Type.String({ maxLength: 200 })),
      },
      { additionalProperties: false },
    ),
    environment: Type.Optional(LeverEnvironmentSchema),
    connectionId: Type.Optional(Uuid),
    returnUrl: Type.Optional(Type.String({ maxLength: 2000 })),
    leverWebhookEvents: Type.Optional(
      Type.Array(Type.Union(LEVER_EVENTS.map((e) => Type.Literal(e))), {
        maxItems: LEVER_EVENTS.length,
        uniqueItems: true,
        description: "Lever events this connection's Lever webhooks deliver (as lever.<event>), instead of LEVER_WEBHOOK_EVENTS; [] = none",
      }),
    ),
  },
  { additionalProperties: false },
);

/**
 * The authorize URL with the webhooks scope when this session subscribes to Lever's webhooks and the
 * deployment's scopes do not already carry it (LEVER_WEBHOOK_EVENTS empty, the session chose some).
 */
function withWebhookScopes(location: string, session: ConnectSession): string {
  if (!session.leverWebhookEventsChosen || session.leverWebhookEvents.length === 0) return location;
  const url = new URL(location);
  const scopes = (url.searchParams.get('scope') ?? '').split(' ').filter(Boolean);
  for (const scope of WEBHOOK_SCOPES) if (!scopes.includes(scope)) scopes.push(scope);
  url.searchParams.set('scope', scopes.join(' '));
  return url.toString();
}

const ConnectSessionResponse = Type.Object({
  token: Type.String({ description: 'Single-use connect token; shown once' }),
  connectUrl: Type.String({ description: 'Open this URL (popup or redirect) to run the Lever authorization' }),
  expiresAt: DateTime,
  environment: LeverEnvironmentSchema,
});

const TokenParams = Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) });

const CallbackQuery = Type.Object({
  code: Type.Optional(Type.String({ maxLength: 2000 })),
  state: Type.Optional(Type.String({ maxLength: 200 })),
  error: Type.Optional(Type.String({ maxLength: 200 })),
  error_description: Type.Optional(Type.String({ maxLength: 2000 })),
});

const ResultResponse = Type.Object({
  status: Type.Union([Type.Literal('pending'), Type.Literal('success'), Type.Literal('error')]),
  connectionId: Type.Optional(Uuid),
  error: Type.Optional(Type.String()),
});

const wantsHtml = (request: FastifyRequest) => (request.headers.accept ?? '').includes('text/html');

function sendPage(reply: FastifyReply, status: number, html: string, nonce: string) {
  return reply
    .code(status)
    // No framing: a connect page inside someone else's frame is a clickjacking surface for the consent.
    .header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; frame-ancestors 'none'; base-uri 'none'`)
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(html);
}

/**
 * Answers a browser-facing failure: an HTML page for people (with the code), the JSON error shape for
 * programs. Never a 500 for bad input.
 */
function sendFlowError(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, error: unknown) {
  if (!wantsHtml(request)) return sendError(reply, request, error);
  const { status, body } = toErrorResponse(error, request.id);
  if (status >= 500) request.log.error({ err: error }, 'connect flow failed');
  const nonce = randomBytes(16).toString('base64');
  return sendPage(
    reply,
    status,
    connectResultPage({ status: 'error', error: body.error.code }, app.core.config.connect.allowedOrigins, nonce),
    nonce,
  );
}

/** Where a full-redirect flow sends the browser back, with the outcome in the query. */
function returnLocation(returnUrl: string, outcome: ConnectOutcome): string {
  const url = new URL(returnUrl);
  url.searchParams.set('status', outcome.status);
  if (outcome.connectionId) url.searchParams.set('connection_id', outcome.connectionId);
  if (outcome.error) url.searchParams.set('error', outcome.error);
  return url.toString();
}

type CallbackResult = Awaited<ReturnType<ConnectService['handleCallback']>>;

/**
 * Answers a callback with its outcome. A session opened as a full redirect goes back to its returnUrl with
 * the outcome, whatever it was (the customer must never be stranded on our page); a popup gets the result
 * page, which posts the outcome to the opener. Failures of ours keep their status; Lever's own answer (a
 * declined consent) is a normal end of the flow.
 */
function sendCallbackOutcome(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, result: CallbackResult) {
  const { session, mode, outcome } = result;
  const page: ConnectOutcome =
    outcome.status === 'success' ? { status: 'success', connectionId: outcome.connection.id } : { status: 'error', error: outcome.code };
  if (mode === 'redirect' && session?.returnUrl) {
    if (outcome.status === 'error' && toErrorResponse(outcome.error, request.id).status >= 500) {
      request.log.error({ err: outcome.error }, 'connect flow failed');
    }
    return reply.header('cache-control', 'no-store').redirect(returnLocation(session.returnUrl, page), 303);
  }
  if (outcome.status === 'error' && !outcome.byLever) return sendFlowError(app, request, reply, outcome.error);
  const nonce = randomBytes(16).toString('base64');
  return sendPage(reply, 200, connectResultPage(page, app.core.config.connect.allowedOrigins, nonce), nonce);
}

export default async function connectRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { connect } = app.core;

  r.post(
    '/v1/connect-sessions',
    {
      schema: {
        tags: ['connect'],
        summary: 'Create a connect session for one tenant (its token opens the "Connect Lever" flow)',
        body: ConnectSessionBody,
        response: { 201: ConnectSessionResponse, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const session = await connect.createSession(request.body, { tenantExternalId: request.principal?.tenantExternalId });
      return reply.code(201).send({ ...session, expiresAt: session.expiresAt.toISOString() });
    },
  );

  r.get(
    '/connect/:token',
    {
      config: connectRateLimit(app.core.config.quotas.connectPerMinute),
      schema: {
        tags: ['connect'],
        summary: 'Start the Lever authorization for a connect session (302 to Lever)',
        params: TokenParams,
        querystring: Type.Object({ mode: Type.Optional(Type.Union([Type.Literal('popup'), Type.Literal('redirect')])) }),
        response: { 302: Type.Null(), ...errorResponses(400, 404, 410) },
      },
    },
    async (request, reply) => {
      try {
        const session = await connect.openSession(request.params.token);
        const oauth = app.leverOAuth[session.environment];
        if (!oauth) throw new AppError('environment_not_configured', `The ${session.environment} environment is not configured`, 400);
        request.connectSession = session;
        request.connectMode = request.query.mode ?? 'redirect';
        const location = withWebhookScopes(await oauth.generateAuthorizationUri(request, reply), session);
        return reply.header('cache-control', 'no-store').redirect(location, 302);
      } catch (error) {
        return sendFlowError(app, request, reply, error);
      }
    },
  );

  r.get(
    '/connect/:token/result',
    {
      config: connectRateLimit(app.core.config.quotas.connectPerMinute),
      schema: {
        tags: ['connect'],
        summary: "The connect flow's outcome, polled by the button while the popup is open (no secrets)",
        params: TokenParams,
        response: { 200: ResultResponse, ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const { returnUrl: _returnUrl, ...result } = await connect.sessionResult(request.params.token);
      // The button polls this from the operator's page, which may live on another allowed origin.
      const origin = request.headers.origin;
      if (origin && app.core.config.connect.allowedOrigins.includes(origin)) {
        void reply.header('access-control-allow-origin', origin).header('vary', 'origin');
      }
      return reply.header('cache-control', 'no-store').send(result);
    },
  );

  r.get(
    '/oauth/callback',
    {
      config: connectRateLimit(app.core.config.quotas.connectPerMinute),
      schema: {
        tags: ['connect'],
        summary: "Lever's redirect back after consent (shared by both environments)",
        querystring: CallbackQuery,
        response: { 200: Type.String(), 303: Type.Null(), ...errorResponses(400, 404, 409, 410, 502) },
      },
    },
    async (request, reply) => {
      const { code, state, error } = request.query;
      const result = await connect.handleCallback({
        code,
        state,
        error,
        stateCookie: (environment) => stateCookieOf(request, environment),
        exchangeCode: (session, environment) => exchangeAuthorizationCode(app, request, reply, session, environment),
        log: request.log,
      });
      if (result.outcome.status === 'success') {
        const { connection, created } = result.outcome;
        // Its first refresh (and its Lever webhooks) were scheduled by the connect service.
        request.log.info({ connectionId: connection.id, created }, 'connect completed');
      }
      return sendCallbackOutcome(app, request, reply, result);
    },
  );
}
